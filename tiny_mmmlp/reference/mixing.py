"""The mixer block: token mixing along the sequence, then channel mixing along the features.

Shape letters: B batch, N sequence length, D features, R hidden width of the mixing MLP.

    token mix   (for every channel i):   X̂[:, i] = X[:, i] + W2 · GELU(W1 · LN(X)[:, i] + b1) + b2
                W1: (R_N, N)  b1: (R_N,)  W2: (N, R_N)  b2: (N,)
    channel mix (for every position j):  Y[j, :] = X̂[j, :] + W4 · GELU(W3 · LN(X̂)[j, :] + b3) + b4
                W3: (R_D, D)  b3: (R_D,)  W4: (D, R_D)  b4: (D,)

LN normalizes over D in both. Token mixing is the only place where positions talk to each
other; it is a fixed (N × N)-shaped MLP per channel, so its cost grows linearly in N for a
fixed hidden width.
"""
from __future__ import annotations

from .affine import layernorm_backward, layernorm_forward, linear_backward, linear_forward
from .elementwise import gelu_backward, gelu_forward

BLOCK_HALVES = ("token", "channel")
TOKEN_PARAMS = ("gamma", "beta", "W1", "b1", "W2", "b2")
CHANNEL_PARAMS = ("gamma", "beta", "W3", "b3", "W4", "b4")


def token_mix_forward(x, gamma, beta, w1, b1, w2, b2, eps=1e-5):
    """X̂ = X + (W2 · GELU(W1 · LN(X) + b1) + b2), mixing along the sequence axis N.

    The weights multiply from the left, so each (N, D) sequence is mixed as a matrix: every
    column (channel) goes through the same MLP over positions.
    x: (B, N, D); gamma, beta: (D,); w1: (R, N); b1: (R,); w2: (N, R); b2: (N,).
    Returns (y (B, N, D), cache).
    """
    ln, ln_cache = layernorm_forward(x, gamma, beta, eps)   # (B, N, D)
    h = w1 @ ln                                             # (R, N) @ (B, N, D) -> (B, R, D)
    h += b1[:, None]                                        # b1 per hidden row, all channels
    a, a_cache = gelu_forward(h)                            # (B, R, D)
    z = w2 @ a                                              # (N, R) @ (B, R, D) -> (B, N, D)
    z += b2[:, None]
    return x + z, (ln, ln_cache, a, a_cache, w1, w2)


def token_mix_backward(dy, cache):
    """Backward of token mixing. Returns (dx, dgamma, dbeta, dw1, db1, dw2, db2).

    The residual passes dy straight to dx; the MLP branch runs the forward steps in reverse.
    Weight gradients sum the per-sequence products over the batch.
    """
    ln, ln_cache, a, a_cache, w1, w2 = cache
    db2 = dy.sum(axis=0).sum(axis=1)                        # (N,): over batch and channels
    dw2 = (dy @ a.transpose(0, 2, 1)).sum(axis=0)           # (B, N, D) @ (B, D, R) -> (B, N, R) -> (N, R)
    da = w2.T @ dy                                          # (R, N) @ (B, N, D) -> (B, R, D)
    dh = gelu_backward(da, a_cache)                         # (B, R, D)
    db1 = dh.sum(axis=0).sum(axis=1)                        # (R,)
    dw1 = (dh @ ln.transpose(0, 2, 1)).sum(axis=0)          # (B, R, D) @ (B, D, N) -> (B, R, N) -> (R, N)
    dln = w1.T @ dh                                         # (N, R) @ (B, R, D) -> (B, N, D)
    dx, dgamma, dbeta = layernorm_backward(dln, ln_cache)
    return dy + dx, dgamma, dbeta, dw1, db1, dw2, db2


def channel_mix_forward(x, gamma, beta, w3, b3, w4, b4, eps=1e-5):
    """Y = X̂ + (W4 · GELU(W3 · LN(X̂) + b3) + b4), mixing along the feature axis D.

    x: (B, N, D); gamma, beta: (D,); w3: (R, D); b3: (R,); w4: (D, R); b4: (D,).
    Returns (y (B, N, D), cache).
    """
    ln, ln_cache = layernorm_forward(x, gamma, beta, eps)   # (B, N, D)
    h, h_cache = linear_forward(ln, w3, b3)                 # (B, N, D) @ (D, R) -> (B, N, R)
    a, a_cache = gelu_forward(h)                            # (B, N, R)
    z, z_cache = linear_forward(a, w4, b4)                  # (B, N, R) @ (R, D) -> (B, N, D)
    return x + z, (ln_cache, h_cache, a_cache, z_cache)


def channel_mix_backward(dy, cache):
    """Backward of channel mixing. Returns (dx, dgamma, dbeta, dw3, db3, dw4, db4)."""
    ln_cache, h_cache, a_cache, z_cache = cache
    da, dw4, db4 = linear_backward(dy, z_cache)             # da: (B, N, R)
    dh = gelu_backward(da, a_cache)                         # (B, N, R)
    dln, dw3, db3 = linear_backward(dh, h_cache)            # dln: (B, N, D)
    dx, dgamma, dbeta = layernorm_backward(dln, ln_cache)
    return dy + dx, dgamma, dbeta, dw3, db3, dw4, db4


def mixer_block_forward(x, p, eps=1e-5):
    """One mixer block: token mixing, then channel mixing.

    x: (B, N, D); p: dict with keys "token.gamma", ..., "token.b2", "channel.gamma", ...,
    "channel.b4" (the names of DESIGN.md without the "<branch>.blocks.<i>." prefix).
    Returns (y (B, N, D), cache).
    """
    t_args = [p["token." + k] for k in TOKEN_PARAMS]
    c_args = [p["channel." + k] for k in CHANNEL_PARAMS]
    x_hat, t_cache = token_mix_forward(x, *t_args, eps=eps)  # (B, N, D)
    y, c_cache = channel_mix_forward(x_hat, *c_args, eps=eps)  # (B, N, D)
    return y, (t_cache, c_cache)


def mixer_block_backward(dy, cache):
    """Backward of one mixer block. Returns (dx, grads) with grads keyed like ``p``."""
    t_cache, c_cache = cache
    dx_hat, *c_grads = channel_mix_backward(dy, c_cache)
    dx, *t_grads = token_mix_backward(dx_hat, t_cache)
    grads = {"token." + k: g for k, g in zip(TOKEN_PARAMS, t_grads)}
    grads.update({"channel." + k: g for k, g in zip(CHANNEL_PARAMS, c_grads)})
    return dx, grads
