"""Adam with decoupled weight decay (AdamW, Loshchilov & Hutter), updating params in place.

    p ← p − lr·λ·p                       (decay, only on matrices: ndim ≥ 2)
    m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
    p ← p − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β1ᵗ),  v̂ = v / (1 − β2ᵗ)

This is what ``torch.optim.AdamW`` computes with the same parameter groups. The update is
written in place, through two scratch arrays kept in a ``Workspace``.
"""
from __future__ import annotations

import numpy as np

from .workspace import Workspace


def decays(name: str, value) -> bool:
    """Weight decay applies to weight matrices and embeddings, not to biases or LN params."""
    return value.ndim >= 2


class AdamW:
    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.ws = Workspace()                                   # scratch, reused every step

    def step(self, grads: dict):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay and decays(k, p):
                p *= 1.0 - self.lr * self.weight_decay
            m, v = self.m[k], self.v[k]
            s1, s2 = self.ws("s1", p.shape, p.dtype), self.ws("s2", p.shape, p.dtype)
            m *= b1
            m += np.multiply(g, 1.0 - b1, out=s1)               # m ← β1 m + (1 − β1) g
            v *= b2
            s1 = np.multiply(g, g, out=s1)
            s1 *= 1.0 - b2
            v += s1                                             # v ← β2 v + (1 − β2) g²
            step = np.multiply(m, self.lr / c1, out=s1)         # lr · m̂
            denom = np.divide(v, c2, out=s2)
            np.sqrt(denom, out=denom)
            denom += self.eps                                   # √v̂ + ε
            step /= denom
            p -= step

    def state_dict(self) -> dict:
        state = {"t": np.array(self.t)}
        state.update({f"m.{k}": v for k, v in self.m.items()})
        state.update({f"v.{k}": v for k, v in self.v.items()})
        return state

    def load_state_dict(self, state: dict):
        self.t = int(state["t"])
        for k in self.params:
            self.m[k][...] = state[f"m.{k}"]
            self.v[k][...] = state[f"v.{k}"]
