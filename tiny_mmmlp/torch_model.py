"""MMMLP in PyTorch: the same equations, the same tanh-GELU and the same parameter names.

``TorchMMMLP(...).state_dict()`` has exactly the keys of the NumPy model's ``params``
(see ``tiny_mmmlp.params``), so a checkpoint trained with one backend loads into the
other. With ``fused=True`` the mixer blocks call the Triton kernels of
``tiny_mmmlp.kernels`` instead of eager PyTorch. Shapes: B batch, N = cfg.max_len,
D = cfg.d_model, D_f fused width, V items.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model_config import MMMLPConfig
from .params import branch_names, fused_width, init_params, param_specs


def gelu(x):
    """The tanh-form GELU every backend shares: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))."""
    return F.gelu(x, approximate="tanh")


def token_mix_eager(x, gamma, beta, w1, b1, w2, b2, eps=1e-5):
    """X̂ = X + W2 · GELU(W1 · LN(X) + b1) + b2 along the sequence axis, in plain PyTorch.

    x (B, N, D); w1 (R, N); b1 (R,); w2 (N, R); b2 (N,). The one eager copy of this maths:
    the model, the kernel tests, benchmarks and tutorials all call it.
    """
    ln = F.layer_norm(x, x.shape[-1:], gamma, beta, eps)
    h = F.linear(ln.transpose(1, 2), w1, b1)                         # (B, D, N) @ (N, R) -> (B, D, R)
    z = F.linear(gelu(h), w2, b2)                                    # (B, D, R) @ (R, N) -> (B, D, N)
    return x + z.transpose(1, 2)                                     # (B, N, D)


def channel_mix_eager(x, gamma, beta, w3, b3, w4, b4, eps=1e-5):
    """Y = X̂ + W4 · GELU(W3 · LN(X̂) + b3) + b4 along the feature axis, in plain PyTorch.

    x (B, N, D); w3 (R, D); b3 (R,); w4 (D, R); b4 (D,).
    """
    ln = F.layer_norm(x, x.shape[-1:], gamma, beta, eps)
    h = F.linear(ln, w3, b3)                                         # (B, N, D) @ (D, R) -> (B, N, R)
    return x + F.linear(gelu(h), w4, b4)                             # (B, N, R) @ (R, D) -> (B, N, D)


class TokenMix(nn.Module):
    """X̂ = X + W2 · GELU(W1 · LN(X) + b1) + b2 along the sequence axis."""

    def __init__(self, N, D, R, eps, fused):
        super().__init__()
        self.gamma, self.beta = nn.Parameter(torch.ones(D)), nn.Parameter(torch.zeros(D))
        self.W1, self.b1 = nn.Parameter(torch.zeros(R, N)), nn.Parameter(torch.zeros(R))
        self.W2, self.b2 = nn.Parameter(torch.zeros(N, R)), nn.Parameter(torch.zeros(N))
        self.eps, self.fused = eps, fused

    def forward(self, x):                                            # x: (B, N, D)
        if self.fused:
            from .kernels import token_mix as mix
        else:
            mix = token_mix_eager
        return mix(x, self.gamma, self.beta, self.W1, self.b1, self.W2, self.b2, eps=self.eps)


class ChannelMix(nn.Module):
    """Y = X̂ + W4 · GELU(W3 · LN(X̂) + b3) + b4 along the feature axis."""

    def __init__(self, D, R, eps, fused):
        super().__init__()
        self.gamma, self.beta = nn.Parameter(torch.ones(D)), nn.Parameter(torch.zeros(D))
        self.W3, self.b3 = nn.Parameter(torch.zeros(R, D)), nn.Parameter(torch.zeros(R))
        self.W4, self.b4 = nn.Parameter(torch.zeros(D, R)), nn.Parameter(torch.zeros(D))
        self.eps, self.fused = eps, fused

    def forward(self, x):                                            # x: (B, N, D)
        if self.fused:
            from .kernels import channel_mix as mix
        else:
            mix = channel_mix_eager
        return mix(x, self.gamma, self.beta, self.W3, self.b3, self.W4, self.b4, eps=self.eps)


class MixerBlock(nn.Module):
    def __init__(self, cfg: MMMLPConfig, D, fused):
        super().__init__()
        self.token = TokenMix(cfg.max_len, D, cfg.token_hidden, cfg.ln_eps, fused)
        self.channel = ChannelMix(D, cfg.channel_hidden, cfg.ln_eps, fused)

    def forward(self, x):
        return self.channel(self.token(x))


class Linear(nn.Module):
    """y = x Wᵀ + b with W stored (out, in), named W and b like the NumPy params."""

    def __init__(self, d_in, d_out, bias=True):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(d_out, d_in))
        self.b = nn.Parameter(torch.zeros(d_out)) if bias else None

    def forward(self, x):
        return F.linear(x, self.W, self.b)


class Branch(nn.Module):
    """One Feature Mixer Layer branch: an input (embedding or projection) and mixer blocks."""

    def __init__(self, cfg, D, n_blocks, fused, d_in=None, n_items=None):
        super().__init__()
        if n_items is not None:
            self.embedding = nn.Parameter(torch.zeros(n_items + 1, D))
        if d_in is not None:
            self.proj = Linear(d_in, D)
        self.blocks = nn.ModuleList(MixerBlock(cfg, D, fused) for _ in range(n_blocks))

    def mix(self, x):
        for block in self.blocks:
            x = block(x)
        return x

    def encode(self, raw, mask, p):
        """A feature branch on its own: raw (B, N, d_in) -> (B, N, D), padding rows zeroed
        (mask (B, N, 1)), input dropout at rate p when training, then the mixer blocks."""
        x = self.proj(raw) * mask                                    # (B, N, d_in) -> (B, N, D)
        return self.mix(F.dropout(x, p, self.training))

    def encode_items(self, table, item_seq, mask, p):
        """``encode`` of the items of item_seq (B, N), their features read from table (V + 1, d_in).

        Projects whichever is smaller: the table ((V + 1)·d_in·D multiply-adds, then a gather
        of (B, N, D)) or the gathered rows (B·N·d_in·D). Projecting the table also never makes
        the (B, N, d_in) copy of the raw features, which on the CPU cost more each step than the
        projection itself (toyshop's picture features: 26 MB a batch, allocated and faulted in).
        """
        if table.shape[0] > item_seq.numel():
            return self.encode(table[item_seq], mask, p)             # (B, N, d_in) gathered first
        x = F.embedding(item_seq, self.proj(table)) * mask           # (V + 1, d_in) -> (V + 1, D) -> (B, N, D)
        return self.mix(F.dropout(x, p, self.training))


def feature_branches(cfg: MMMLPConfig, widths: dict, fused=False) -> nn.ModuleDict:
    """One Feature Mixer Layer branch per feature modality ({name: d_in}), width cfg.d_model.

    MMMLP builds its branches here, and so do the baselines of ``tiny_mmmlp.baselines``
    (the compatibility study plugs these same branches into SASRec and GRU4Rec).
    """
    return nn.ModuleDict({m: Branch(cfg, cfg.d_model, cfg.n_layers, fused, d_in=widths[m])
                          for m in sorted(widths)})


def candidate_vectors(embedding, projections: nn.ModuleDict, tables: dict):
    """Candidate item vectors (V + 1, D): E + Σ_m P_m F_m (cfg.candidate_features), or E."""
    cand = embedding                                                 # (V + 1, D)
    for m, proj in projections.items():
        cand = cand + proj(tables[m])                                # (V + 1, d_m) -> (V + 1, D)
    return cand


def add_history_bias(scores, item_seq, beta):
    """scores + β·H with H[b, v] = 1 for every item v ≥ 1 in row b of item_seq: the learned
    repeat bias of cfg.history_bias (reference.head.history_bias_forward), for every model."""
    hist = torch.zeros_like(scores).scatter_(1, item_seq, 1.0)      # (B, V + 1), seen twice = 1
    hist[:, 0] = 0.0                                                 # padding is not history
    return scores + beta * hist                                      # (B, V + 1)


def next_item_loss(scores, targets, cfg: MMMLPConfig):
    """The training loss of every torch model (the same losses as ``reference.losses``):
    mean softmax cross-entropy over items 1..V (the padding column is dropped),
    label-smoothed by cfg.label_smoothing, or sampled over cfg.negatives uniform items.

    scores: (B, V + 1); targets: (B,) in 1..V.
    """
    n_items = scores.shape[1] - 1
    K = min(cfg.negatives, n_items)
    if K:
        neg = torch.randperm(n_items, device=scores.device)[:K] + 1              # (K,) distinct
        negs = scores[:, neg].masked_fill(neg[None, :] == targets[:, None], -torch.inf)  # (B, K)
        logits = torch.cat([scores.gather(1, targets[:, None]), negs], 1)           # (B, 1 + K)
        return F.cross_entropy(logits, torch.zeros_like(targets))
    return F.cross_entropy(scores[:, 1:], targets - 1, label_smoothing=cfg.label_smoothing)


class Norm(nn.Module):
    """LayerNorm parameters under the shared names gamma and beta."""

    def __init__(self, D):
        super().__init__()
        self.gamma, self.beta = nn.Parameter(torch.ones(D)), nn.Parameter(torch.zeros(D))


class Head(nn.Module):
    def __init__(self, D_f, D, cand_widths, history_bias=False, pool_len=0):
        super().__init__()
        self.norm = Norm(D_f)
        self.proj = Linear(D_f, D)
        self.cand = nn.ModuleDict({m: Linear(d, D, bias=False) for m, d in cand_widths.items()})
        if history_bias:
            self.history_bias = nn.Parameter(torch.zeros(1))
        if pool_len:
            self.history_pool = nn.Parameter(torch.zeros(pool_len))


class TorchMMMLP(nn.Module):
    """The PyTorch MMMLP. Arguments as the NumPy ``MMMLP``; ``fused`` uses the Triton kernels.

    Initialization draws the NumPy model's initial parameters (same seed, same values).
    """

    def __init__(self, cfg: MMMLPConfig, n_items: int, features=None, seed=0,
                 dtype=torch.float32, fused=False):
        super().__init__()
        features = dict(features or {})
        self.cfg, self.n_items = cfg, n_items
        self.branches = branch_names(cfg, features)
        self.cand_modalities = sorted(features) if cfg.candidate_features else []
        widths = {k: v.shape[1] for k, v in features.items()}
        D, D_f = cfg.d_model, fused_width(cfg, len(self.branches))
        self.id = Branch(cfg, D, cfg.n_layers if cfg.id_branch else 0, fused, n_items=n_items)
        self.feature_branches = feature_branches(cfg, widths, fused)
        self.fusion = Branch(cfg, D_f, cfg.fusion_layers, fused, d_in=D * len(self.branches))
        self.head = Head(D_f, D, {m: widths[m] for m in self.cand_modalities}, cfg.history_bias,
                         cfg.max_len if cfg.history_pool else 0)
        for name, f in features.items():               # frozen lookup tables, not parameters
            self.register_buffer(f"feat_{name}", torch.as_tensor(np.asarray(f), dtype=dtype),
                                 persistent=False)
        self.to(dtype)
        specs = param_specs(cfg, n_items, widths)
        init = init_params(specs, cfg.init_std, seed, np.float64)
        self.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})

    # nn.Module names children by attribute; present the feature branches at the top level
    # ("text.blocks.0.token.W1") so names match the NumPy params exactly.
    def state_dict(self, *args, **kwargs):
        sd = super().state_dict(*args, **kwargs)
        return type(sd)((k.replace("feature_branches.", "", 1), v) for k, v in sd.items())

    def load_state_dict(self, state_dict, strict=True, assign=False):
        fixed = {}
        for k, v in state_dict.items():
            top = k.split(".", 1)[0]
            fixed[f"feature_branches.{k}" if top in self.feature_branches else k] = v
        return super().load_state_dict(fixed, strict=strict, assign=assign)

    def named_parameters_flat(self):
        """(name, parameter) pairs under the shared naming scheme."""
        for k, p in self.named_parameters():
            yield k.replace("feature_branches.", "", 1), p

    def forward(self, item_seq):
        """scores (B, V + 1) for item_seq (B, N) int64; column 0 is the padding item."""
        u = self._query(item_seq)                                    # (B, D)
        cand = candidate_vectors(self.id.embedding, self.head.cand,
                                 {m: getattr(self, f"feat_{m}") for m in self.cand_modalities})
        scores = u @ cand.T                                          # (B, D) @ (D, V + 1) -> (B, V + 1)
        if self.cfg.history_bias:
            scores = add_history_bias(scores, item_seq, self.head.history_bias)
        return scores

    def _query(self, item_seq):
        """u (B, D): the last position's fused representation, normalized and projected (plus
        Σ_t a_t C[x_t] with cfg.history_pool: C = E, or E + Σ_m P_m F_m with cfg.pool_features)."""
        p = self.cfg.dropout if self.training else 0.0
        mask = (item_seq != 0).unsqueeze(-1)                         # (B, N, 1)
        outs = []
        for b in self.branches:
            if b == "id":
                x = F.embedding(item_seq, self.id.embedding, padding_idx=0)  # (B, N, D)
                outs.append(self.id.mix(F.dropout(x, p, self.training)))
            else:
                outs.append(self.feature_branches[b].encode_items(getattr(self, f"feat_{b}"), item_seq,
                                                                  mask, p))  # (B, N, D)
        z = self.fusion.proj(torch.cat(outs, dim=-1))                # (B, N, Σ D) -> (B, N, D_f)
        z = self.fusion.mix(F.dropout(z, p, self.training))
        h = z[:, -1, :]                                              # (B, D_f)
        u = self.head.proj(F.layer_norm(h, h.shape[-1:], self.head.norm.gamma,
                                        self.head.norm.beta, self.cfg.ln_eps))      # (B, D)
        if self.cfg.history_pool:                                    # + Σ_t a_t C[x_t]
            a = self.head.history_pool                               # (N,)
            u = u + a @ F.embedding(item_seq, self.id.embedding, padding_idx=0)       # (N,) @ (B, N, D) -> (B, D)
            for m in self.cand_modalities if self.cfg.pool_features else []:         # + (Σ_t a_t F_m[x_t]) P_mᵀ
                u = u + self.head.cand[m](a @ getattr(self, f"feat_{m}")[item_seq])  # (B, d_m) -> (B, D)
        return u

    def loss(self, item_seq, targets):
        if self.cfg.negatives:
            return self._sampled_loss(item_seq, targets)
        return next_item_loss(self(item_seq), targets, self.cfg)

    def _sampled_loss(self, item_seq, targets):
        """``next_item_loss``'s sampled softmax, scoring only each row's target and the K
        negatives (drawn as it draws them): no (B, V + 1) scores, as the NumPy reference."""
        u = self._query(item_seq)                                    # (B, D)
        B, K = len(targets), min(self.cfg.negatives, self.n_items)
        neg = torch.randperm(self.n_items, device=u.device)[:K] + 1                   # (K,) distinct
        cols = torch.cat([targets, neg])                                              # (B + K,)
        cand = candidate_vectors(self.id.embedding[cols], self.head.cand,
                                 {m: getattr(self, f"feat_{m}")[cols] for m in self.cand_modalities})
        s_t = (u * cand[:B]).sum(1)                                  # (B,)
        s_neg = u @ cand[B:].T                                       # (B, D) @ (D, K) -> (B, K)
        if self.cfg.history_bias:                                    # β where the column is in the history
            beta = self.head.history_bias
            s_t = s_t + beta * (item_seq == targets[:, None]).any(1)
            s_neg = s_neg + beta * (item_seq[:, :, None] == neg).any(1)               # (B, N, K) -> (B, K)
        s_neg = s_neg.masked_fill(neg[None, :] == targets[:, None], -torch.inf)
        logits = torch.cat([s_t[:, None], s_neg], 1)                 # (B, 1 + K)
        return F.cross_entropy(logits, torch.zeros_like(targets))

    @torch.no_grad()
    def scores(self, item_seq):
        s = self(item_seq)
        s[:, 0] = -torch.inf
        return s
