"""LayerNorm and linear maps along the last (feature) axis.

Shape letters: B batch, N sequence length, D features; ``...`` is any number of leading axes.
Weights are stored (out, in), as the equations write them: y = W x + b, row by row.
"""
from __future__ import annotations

import numpy as np


def _row_mean(a):
    """Mean over the last axis, kept as (..., 1). Written as a matrix-vector product: BLAS
    does it several times faster than NumPy's reduction over a short last axis."""
    return a @ np.full((a.shape[-1], 1), 1.0 / a.shape[-1], dtype=a.dtype)   # (..., D) @ (D, 1)


def _row_mean_of_product(a, b):
    """Mean over the last axis of a ⊙ b, kept as (..., 1), without building a ⊙ b."""
    return np.einsum("...d,...d->...", a, b)[..., None] / a.shape[-1]


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β, with μ, σ² the mean and variance over the last axis.

    x: (..., D); gamma, beta: (D,).  Returns (out (..., D), cache).
    """
    mu = _row_mean(x)                                    # (..., 1)
    xc = x - mu                                          # (..., D)
    var = _row_mean_of_product(xc, xc)                   # (..., 1)
    rstd = 1.0 / np.sqrt(var + eps)                      # (..., 1)
    xhat = xc
    xhat *= rstd                                         # (..., D), in place of x − μ
    out = xhat * gamma
    out += beta
    return out, (xhat, rstd, gamma)


def layernorm_backward(dout, cache):
    """Backward of LayerNorm.

    With x̂ = (x − μ)·rstd and g = dout ⊙ γ:
        dγ = Σ dout ⊙ x̂,   dβ = Σ dout   (sums over every axis but the last)
        dx = rstd · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))   (means over the last axis)
    Returns (dx, dgamma, dbeta).
    """
    xhat, rstd, gamma = cache
    D = xhat.shape[-1]
    dgamma = np.einsum("md,md->d", dout.reshape(-1, D), xhat.reshape(-1, D))   # (D,): Σ_rows dout ⊙ x̂
    dbeta = dout.reshape(-1, D).sum(axis=0)             # (D,)
    g = dout * gamma                                     # (..., D)
    g_mean = _row_mean(g)                                # (..., 1)
    gx_mean = _row_mean_of_product(g, xhat)              # (..., 1)
    dx = xhat * gx_mean                                  # (..., D)
    np.subtract(g, dx, out=dx)
    dx -= g_mean
    dx *= rstd                                           # rstd · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))
    return dx, dgamma, dbeta


def linear_forward(x, w, b):
    """y = x Wᵀ + b along the last axis (each row: y = W x + b).

    x: (..., D_in); w: (D_out, D_in); b: (D_out,) or None.  Returns (out (..., D_out), cache).
    """
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])                      # (M, D_in), M = prod(lead)
    y = x2 @ w.T                                         # (M, D_in) @ (D_in, D_out) -> (M, D_out)
    if b is not None:
        y += b
    return y.reshape(*lead, w.shape[0]), (x2, w, lead, b is not None)


def linear_backward(dout, cache):
    """dx = dy W,  dW = dyᵀ x (summed over rows),  db = Σ dy.  Returns (dx, dw, db)."""
    x2, w, lead, has_bias = cache
    dy = dout.reshape(-1, w.shape[0])                    # (M, D_out)
    dx = (dy @ w).reshape(*lead, w.shape[1])             # (M, D_out) @ (D_out, D_in) -> (M, D_in)
    dw = dy.T @ x2                                       # (D_out, M) @ (M, D_in) -> (D_out, D_in)
    db = dy.sum(axis=0) if has_bias else None            # (D_out,)
    return dx, dw, db
