"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence.

We follow RecBole 1.2.1's SASRec (``recbole/model/sequential_recommender/sasrec.py`` and
``recbole/model/layers.py: TransformerEncoder``), the implementation docs/baselines.md cross-checks
against, in every point that shapes training:

    X⁰ = Dropout(LN(E[s] + P))                  learned position embeddings P (N, D)
    A  = LN(Xˡ + Dropout(Attn(Xˡ)))              causal: position i attends to j <= i only
    Xˡ⁺¹ = LN(A + Dropout(FFN(A)))               FFN(x) = ReLU(x W1 + b1) W2 + b2, W1, W2: (D, D)
    h = X^L[:, N - 1];  scores = h · Eᵀ          (shared item embeddings), softmax cross-entropy

i.e. post-LN blocks ("LayerNorm(x + Dropout(sublayer(x)))", RecBole's TransformerLayer) with a
LayerNorm + dropout on the input sum, dropout on the attention probabilities, and every
Linear weight, the item embeddings and P drawn from normal(0, 0.02), biases 0. The paper's
own equation (§III-B) is the pre-LN form x + Dropout(g(LN(x))), and the authors' code adds
the residual to the normalized input and scales E[s] by sqrt(D); all three variants keep the
input of every block at unit scale. Pre-LN blocks fed the std-0.02 embeddings directly,
without an input LayerNorm, would not, and learn several times slower per epoch than RecBole
(docs/baselines.md has the cross-check against RecBole).

Paper defaults (§IV-C, for the sparse Amazon sets): D = 50, 2 blocks, 1 head, dropout 0.5,
N = 50, Adam lr 0.001. Our sequences are left-padded with item 0, so the most recent item
sits at position N - 1 and absolute positions count back from it (as in the authors' code,
which also left-pads; RecBole right-pads). Padding positions are masked as keys and their
outputs zeroed after the input layer and every block (the paper's "timeline mask"); a
padding query attends to itself only, so no softmax row is empty. Unlike RecBole, padding
item 0 is not a class of the softmax.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .inputs import NextItemModel, SequenceInputs


class CausalSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention with a boolean mask of allowed (query, key)."""

    def __init__(self, D, heads, dropout):
        super().__init__()
        if D % heads:
            raise ValueError(f"hidden width {D} is not divisible by {heads} heads")
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.heads, self.dropout = heads, dropout

    def forward(self, x, allowed):                       # x (B, N, D); allowed (B, 1, N, N)
        B, N, D = x.shape
        H = self.heads
        split = lambda t: t.view(B, N, H, D // H).transpose(1, 2)      # (B, H, N, D/H)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)  # (B, H, N, D/H)
        return self.o(a.transpose(1, 2).reshape(B, N, D))               # (B, N, D)


class AttentionBlock(nn.Module):
    """Post-LN transformer block, RecBole's TransformerLayer (no dropout inside the FFN)."""

    def __init__(self, D, heads, dropout, eps):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D, eps=eps), nn.LayerNorm(D, eps=eps)
        self.attn = CausalSelfAttention(D, heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(D, D), nn.ReLU(), nn.Linear(D, D))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, allowed):
        x = self.ln1(x + self.drop(self.attn(x, allowed)))
        return self.ln2(x + self.drop(self.ffn(x)))


def attention_mask(item_seq):
    """allowed (B, 1, N, N): key j is visible to query i when j <= i and j is a real item,
    and every position sees itself (so a padding query's softmax row is never empty)."""
    B, N = item_seq.shape
    causal = torch.ones(N, N, dtype=torch.bool, device=item_seq.device).tril()   # (N, N)
    real_key = (item_seq != 0)[:, None, None, :]                                  # (B, 1, 1, N)
    self_ = torch.eye(N, dtype=torch.bool, device=item_seq.device)
    return (causal & real_key) | self_                                            # (B, 1, N, N)


class SASRec(NextItemModel):
    """SASRec; ``features`` plugs MMMLP's feature mixer branches in front (see inputs.py)."""

    def __init__(self, cfg, n_items, features=None, seed=0, layers=2, heads=1,
                 dtype=torch.float32, fused=False):
        super().__init__()
        torch.manual_seed(seed)
        self.cfg, self.n_items = cfg, n_items
        D, N = cfg.d_model, cfg.max_len
        self.inputs = SequenceInputs(cfg, n_items, features, seed, dtype, fused)
        self.pos = nn.Parameter(torch.randn(N, D, dtype=dtype) * cfg.init_std)
        self.input_norm = nn.LayerNorm(D, eps=cfg.ln_eps)
        self.blocks = nn.ModuleList(AttentionBlock(D, heads, cfg.dropout, cfg.ln_eps)
                                    for _ in range(layers))
        with torch.no_grad():                             # RecBole's _init_weights for the encoder
            for block in self.blocks:
                for m in block.modules():
                    if isinstance(m, nn.Linear):
                        m.weight.normal_(0.0, cfg.init_std)
                        m.bias.zero_()
        self.to(dtype)

    def forward(self, item_seq):
        """scores (B, V + 1) for item_seq (B, N) int64, left-padded; column 0 is padding."""
        p = self.cfg.dropout if self.training else 0.0
        mask = (item_seq != 0).unsqueeze(-1)                          # (B, N, 1)
        x = self.inputs(item_seq, p)                                  # (B, N, D)
        x = F.dropout(self.input_norm(x + self.pos), p, self.training) * mask  # (N, D) broadcast over B
        allowed = attention_mask(item_seq)
        for block in self.blocks:
            x = block(x, allowed) * mask                              # timeline mask
        h = x[:, -1, :]                                               # (B, D): the most recent item
        return self.inputs.scores(h, item_seq)                        # (B, D) -> (B, V + 1)

