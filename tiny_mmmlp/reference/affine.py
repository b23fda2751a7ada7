"""LayerNorm and linear maps along the last (feature) axis.

Shape letters: B batch, N sequence length, D features; ``...`` is any number of leading axes.
Weights are stored (out, in), as the equations write them: y = W x + b, row by row.
Each function writes its results into ``ws`` (see ``workspace``; default: new arrays).
"""
from __future__ import annotations

import numpy as np

from .workspace import FRESH


def _row_mean(a):
    """Mean over the last axis, kept as (..., 1). Written as a matrix-vector product: BLAS
    does it several times faster than NumPy's reduction over a short last axis."""
    return a @ np.full((a.shape[-1], 1), 1.0 / a.shape[-1], dtype=a.dtype)   # (..., D) @ (D, 1)


def _row_mean_of_product(a, b):
    """Mean over the last axis of a ⊙ b, kept as (..., 1), without building a ⊙ b."""
    return np.einsum("...d,...d->...", a, b)[..., None] / a.shape[-1]


def layernorm_forward(x, gamma, beta, eps=1e-5, ws=FRESH):
    """LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β, with μ, σ² the mean and variance over the last axis.

    x: (..., D); gamma, beta: (D,).  Returns (out (..., D), cache).
    """
    mu = _row_mean(x)                                    # (..., 1)
    xc = np.subtract(x, mu, out=ws("xhat", x.shape, x.dtype))  # (..., D)
    var = _row_mean_of_product(xc, xc)                   # (..., 1)
    rstd = 1.0 / np.sqrt(var + eps)                      # (..., 1)
    xhat = xc
    xhat *= rstd                                         # (..., D), in place of x − μ
    out = np.multiply(xhat, gamma, out=ws("out", x.shape, x.dtype))
    out += beta
    return out, (xhat, rstd, gamma)


def layernorm_backward(dout, cache, ws=FRESH):
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
    g = np.multiply(dout, gamma, out=ws("g", xhat.shape, xhat.dtype))    # (..., D)
    g_mean = _row_mean(g)                                # (..., 1)
    gx_mean = _row_mean_of_product(g, xhat)              # (..., 1)
    dx = np.multiply(xhat, gx_mean, out=ws("dx", xhat.shape, xhat.dtype))  # (..., D)
    np.subtract(g, dx, out=dx)
    dx -= g_mean
    dx *= rstd                                           # rstd · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))
    return dx, dgamma, dbeta


def linear_forward(x, w, b, ws=FRESH):
    """y = x Wᵀ + b along the last axis (each row: y = W x + b).

    x: (..., D_in); w: (D_out, D_in); b: (D_out,) or None.  Returns (out (..., D_out), cache).
    """
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])                      # (M, D_in), M = prod(lead)
    y = ws("y", (x2.shape[0], w.shape[0]), x.dtype)     # (M, D_out)
    np.matmul(x2, w.T, out=y)                            # (M, D_in) @ (D_in, D_out) -> (M, D_out)
    if b is not None:
        y += b
    return y.reshape(*lead, w.shape[0]), (x2, w, lead, b is not None)


def linear_backward(dout, cache, ws=FRESH, input_grad=True):
    """dx = dy W,  dW = dyᵀ x (summed over rows),  db = Σ dy.  Returns (dx, dw, db).

    input_grad=False skips dx (returned as None) when x is a constant such as frozen features.
    """
    x2, w, lead, has_bias = cache
    dy = dout.reshape(-1, w.shape[0])                    # (M, D_out)
    dx = None
    if input_grad:
        dx = ws("dx", (dy.shape[0], w.shape[1]), dy.dtype)
        np.matmul(dy, w, out=dx)                         # (M, D_out) @ (D_out, D_in) -> (M, D_in)
        dx = dx.reshape(*lead, w.shape[1])
    dw = np.matmul(dy.T, x2, out=ws("dw", w.shape, dy.dtype))   # (D_out, M) @ (M, D_in) -> (D_out, D_in)
    db = dy.sum(axis=0) if has_bias else None            # (D_out,)
    return dx, dw, db
