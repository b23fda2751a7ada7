"""The mixer block: token mixing along the sequence, then channel mixing along the features.

Shape letters: B batch, N sequence length, D features, R hidden width of the mixing MLP.

    token mix   (for every channel i):   X̂[:, i] = X[:, i] + W2 · GELU(W1 · LN(X)[:, i] + b1) + b2
                W1: (R_N, N)  b1: (R_N,)  W2: (N, R_N)  b2: (N,)
    channel mix (for every position j):  Y[j, :] = X̂[j, :] + W4 · GELU(W3 · LN(X̂)[j, :] + b3) + b4
                W3: (R_D, D)  b3: (R_D,)  W4: (D, R_D)  b4: (D,)

LN normalizes over D in both. Token mixing is the only place where positions talk to each
other; it is a fixed (N × N)-shaped MLP per channel, so its cost grows linearly in N for a
fixed hidden width.

Each function writes its results into ``ws`` (see ``workspace``; default: new arrays).
"""
from __future__ import annotations

import numpy as np

from .affine import layernorm_backward, layernorm_forward, linear_backward, linear_forward
from .elementwise import gelu_backward, gelu_forward
from .workspace import FRESH

BLOCK_HALVES = ("token", "channel")
TOKEN_PARAMS = ("gamma", "beta", "W1", "b1", "W2", "b2")
CHANNEL_PARAMS = ("gamma", "beta", "W3", "b3", "W4", "b4")


def token_mix_forward(x, gamma, beta, w1, b1, w2, b2, eps=1e-5, ws=FRESH):
    """X̂ = X + (W2 · GELU(W1 · LN(X) + b1) + b2), mixing along the sequence axis N.

    The weights multiply from the left, so each (N, D) sequence is mixed as a matrix: every
    column (channel) goes through the same MLP over positions.
    x: (B, N, D); gamma, beta: (D,); w1: (R, N); b1: (R,); w2: (N, R); b2: (N,).
    Returns (y (B, N, D), cache); the cache holds LN(X), GELU's cache and W1, W2.
    """
    B, N, D = x.shape
    ln, ln_cache = layernorm_forward(x, gamma, beta, eps, ws.scope("ln"))   # (B, N, D)
    h = np.matmul(w1, ln, out=ws("h", (B, w1.shape[0], D), x.dtype))       # (R, N) @ (B, N, D) -> (B, R, D)
    h += b1[:, None]                                        # b1 per hidden row, all channels
    a, a_cache = gelu_forward(h, ws.scope("gelu"))          # (B, R, D)
    z = np.matmul(w2, a, out=ws("y", x.shape, x.dtype))     # (N, R) @ (B, R, D) -> (B, N, D)
    z += b2[:, None]
    y = np.add(x, z, out=z)                                 # X̂ = X + z
    return y, (ln, ln_cache, a, a_cache, w1, w2)


def token_mix_backward(dy, cache, ws=FRESH):
    """Backward of token mixing. Returns (dx, dgamma, dbeta, dw1, db1, dw2, db2).

    Per sequence, with H = W1 · LN(X) + b1 and A = GELU(H):
        dW2 = Σ_b dY Aᵀ,  db2 = Σ_{b,channels} dY,  dA = W2ᵀ dY,  dH = dA ⊙ GELU'(H),
        dW1 = Σ_b dH LN(X)ᵀ,  db1 = Σ_{b,channels} dH,  dLN = W1ᵀ dH,
        dX = dY + LN-backward(dLN)   (the residual passes dY straight through).
    """
    ln, ln_cache, a, a_cache, w1, w2 = cache
    B, N, D = dy.shape
    R = w1.shape[0]
    db2 = dy.sum(axis=0).sum(axis=1)                        # (N,): over batch and channels
    dw2_b = ws("dw2_b", (B, N, R), dy.dtype)               # one product per sequence
    np.matmul(dy, a.transpose(0, 2, 1), out=dw2_b)          # (B, N, D) @ (B, D, R) -> (B, N, R)
    dw2 = dw2_b.sum(axis=0)                                 # (N, R)
    da = np.matmul(w2.T, dy, out=ws("da", (B, R, D), dy.dtype))        # (R, N) @ (B, N, D) -> (B, R, D)
    dh = gelu_backward(da, a_cache, ws.scope("gelu"))       # (B, R, D)
    db1 = dh.sum(axis=0).sum(axis=1)                        # (R,)
    dw1_b = ws("dw1_b", (B, R, N), dy.dtype)
    np.matmul(dh, ln.transpose(0, 2, 1), out=dw1_b)         # (B, R, D) @ (B, D, N) -> (B, R, N)
    dw1 = dw1_b.sum(axis=0)                                 # (R, N)
    dln = np.matmul(w1.T, dh, out=ws("dln", (B, N, D), dy.dtype))      # (N, R) @ (B, R, D) -> (B, N, D)
    dx, dgamma, dbeta = layernorm_backward(dln, ln_cache, ws.scope("ln"))
    dx += dy                                                # the residual
    return dx, dgamma, dbeta, dw1, db1, dw2, db2


def channel_mix_forward(x, gamma, beta, w3, b3, w4, b4, eps=1e-5, ws=FRESH):
    """Y = X̂ + (W4 · GELU(W3 · LN(X̂) + b3) + b4), mixing along the feature axis D.

    x: (B, N, D); gamma, beta: (D,); w3: (R, D); b3: (R,); w4: (D, R); b4: (D,).
    Returns (y (B, N, D), cache); the cache holds the caches of LN, both linears and GELU.
    """
    ln, ln_cache = layernorm_forward(x, gamma, beta, eps, ws.scope("ln"))   # (B, N, D)
    h, h_cache = linear_forward(ln, w3, b3, ws.scope("fc1"))   # (B, N, D) @ (D, R) -> (B, N, R)
    a, a_cache = gelu_forward(h, ws.scope("gelu"))          # (B, N, R)
    z, z_cache = linear_forward(a, w4, b4, ws.scope("fc2"))    # (B, N, R) @ (R, D) -> (B, N, D)
    y = np.add(x, z, out=z)                                 # Y = X̂ + z
    return y, (ln_cache, h_cache, a_cache, z_cache)


def channel_mix_backward(dy, cache, ws=FRESH):
    """Backward of channel mixing. Returns (dx, dgamma, dbeta, dw3, db3, dw4, db4).

    Row by row, with H = W3 · LN(X̂) + b3 and A = GELU(H):
        dA, dW4, db4 = linear-backward(dY),  dH = dA ⊙ GELU'(H),
        dLN, dW3, db3 = linear-backward(dH),  dX̂ = dY + LN-backward(dLN).
    """
    ln_cache, h_cache, a_cache, z_cache = cache
    da, dw4, db4 = linear_backward(dy, z_cache, ws.scope("fc2"))   # da: (B, N, R)
    dh = gelu_backward(da, a_cache, ws.scope("gelu"))       # (B, N, R)
    dln, dw3, db3 = linear_backward(dh, h_cache, ws.scope("fc1"))  # dln: (B, N, D)
    dx, dgamma, dbeta = layernorm_backward(dln, ln_cache, ws.scope("ln"))
    dx += dy                                                # the residual
    return dx, dgamma, dbeta, dw3, db3, dw4, db4


def mixer_block_forward(x, p, eps=1e-5, ws=FRESH):
    """One mixer block: token mixing, then channel mixing.

    x: (B, N, D); p: dict with keys "token.gamma", ..., "token.b2", "channel.gamma", ...,
    "channel.b4" (the names of params.py without the "<branch>.blocks.<i>." prefix).
    Returns (y (B, N, D), cache).
    """
    t_args = [p["token." + k] for k in TOKEN_PARAMS]
    c_args = [p["channel." + k] for k in CHANNEL_PARAMS]
    x_hat, t_cache = token_mix_forward(x, *t_args, eps=eps, ws=ws.scope("token"))        # (B, N, D)
    y, c_cache = channel_mix_forward(x_hat, *c_args, eps=eps, ws=ws.scope("channel"))    # (B, N, D)
    return y, (t_cache, c_cache)


def mixer_block_backward(dy, cache, ws=FRESH):
    """Backward of one mixer block. Returns (dx, grads) with grads keyed like ``p``."""
    t_cache, c_cache = cache
    dx_hat, *c_grads = channel_mix_backward(dy, c_cache, ws.scope("channel"))
    dx, *t_grads = token_mix_backward(dx_hat, t_cache, ws.scope("token"))
    grads = {"token." + k: g for k, g in zip(TOKEN_PARAMS, t_grads)}
    grads.update({"channel." + k: g for k, g in zip(CHANNEL_PARAMS, c_grads)})
    return dx, grads
