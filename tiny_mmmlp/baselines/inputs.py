"""What SASRec and GRU4Rec read: item-ID embeddings, optionally fused with MMMLP's branches.

ID only, the input sequence is the item-embedding sequence E[s] (B, N, D), as in both
papers. With feature modalities (the MMMLP paper's compatibility study), each modality m
runs through the very Feature Mixer Layer branch MMMLP uses (``torch_model.feature_branches``:
input projection, then cfg.n_layers token/channel mixer blocks) and the outputs are fused
with the ID embeddings by one linear layer along the feature axis, before the baseline's
own sequence encoder:

    X = Linear(E[s] ‖ Y_m1 ‖ Y_m2 ‖ ...)          (B, N, (1 + M)·D) -> (B, N, D)

Candidates are scored against E, or with cfg.candidate_features against E + Σ_m P_m F_m,
the same switch and the same code (``torch_model.candidate_vectors``) as MMMLP; with
cfg.history_bias the learned repeat bias is added as in MMMLP (``add_history_bias``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..params import init_params, param_specs
from ..torch_model import Linear, add_history_bias, candidate_vectors, feature_branches, next_item_loss


class SequenceInputs(nn.Module):
    """Item embeddings + MMMLP feature branches + fusion; candidate vectors for scoring."""

    def __init__(self, cfg, n_items, features, seed, dtype=torch.float32, fused=False):
        super().__init__()
        features = dict(features or {})
        widths = {m: np.asarray(f).shape[1] for m, f in features.items()}
        D = cfg.d_model
        self.embedding = nn.Parameter(torch.zeros(n_items + 1, D))
        self.branches = feature_branches(cfg, widths, fused)
        self.fuse = Linear((1 + len(widths)) * D, D) if widths else None
        cand = sorted(widths) if cfg.candidate_features else []
        self.cand = nn.ModuleDict({m: Linear(widths[m], D, bias=False) for m in cand})
        self.history_bias = nn.Parameter(torch.zeros(1)) if cfg.history_bias else None
        for name, f in features.items():                # frozen lookup tables, not parameters
            self.register_buffer(f"feat_{name}", torch.as_tensor(np.asarray(f), dtype=dtype),
                                 persistent=False)
        self.to(dtype)
        self._init(cfg, n_items, widths, seed)

    def _init(self, cfg, n_items, widths, seed):
        """MMMLP's initialization (tiny_mmmlp.params) for every parameter that MMMLP also has."""
        ours = dict(param_specs(cfg, n_items, widths))
        ours["fuse.W"] = ((cfg.d_model, (1 + len(widths)) * cfg.d_model), "fan_in")
        ours["fuse.b"] = ((cfg.d_model,), "zeros")
        init = init_params(ours, cfg.init_std, seed, np.float64)
        rename = {"id.embedding": "embedding", "fuse.W": "fuse.W", "fuse.b": "fuse.b"}
        for m in widths:
            for k in init:
                if k.startswith(f"{m}."):
                    rename[k] = f"branches.{k}"
                elif k.startswith(f"head.cand.{m}."):
                    rename[k] = k.replace("head.", "", 1)
        own = dict(self.named_parameters())
        with torch.no_grad():
            for k, new in rename.items():
                if new in own:
                    own[new].copy_(torch.from_numpy(init[k]))

    def forward(self, item_seq, p):
        """X (B, N, D) for item_seq (B, N); padding positions are zero, dropout rate p inside."""
        mask = (item_seq != 0).unsqueeze(-1)                          # (B, N, 1)
        x = F.embedding(item_seq, self.embedding, padding_idx=0)      # (B, N, D)
        if self.fuse is None:
            return x
        ys = [self.branches[m].encode_items(getattr(self, f"feat_{m}"), item_seq, mask, p)
              for m in self.branches]                                 # each (B, N, D)
        return self.fuse(torch.cat([x, *ys], dim=-1)) * mask          # (B, N, (1+M)·D) -> (B, N, D)

    def candidates(self):
        """(V + 1, D) candidate vectors."""
        return candidate_vectors(self.embedding, self.cand,
                                 {m: getattr(self, f"feat_{m}") for m in self.cand})

    def scores(self, h, item_seq):
        """(B, V + 1) scores of every candidate for the encoder states h (B, D), plus the
        learned history bias with cfg.history_bias (the same function as MMMLP's)."""
        scores = h @ self.candidates().T                              # (B, D) @ (D, V + 1)
        if self.history_bias is not None:
            scores = add_history_bias(scores, item_seq, self.history_bias)
        return scores


class NextItemModel(nn.Module):
    """The training and ranking contract shared by the baselines: ``forward(item_seq)``
    returns (B, V + 1) scores with column 0 the padding item."""

    def loss(self, item_seq, targets):
        """MMMLP's training loss (``next_item_loss``): by default mean softmax cross-entropy
        over items 1..V (RecBole's loss_type CE); --label-smoothing and --negatives as MMMLP."""
        return next_item_loss(self(item_seq), targets, self.cfg)

    @torch.no_grad()
    def scores(self, item_seq):
        s = self(item_seq)
        s[:, 0] = -torch.inf
        return s
