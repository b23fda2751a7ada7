"""The same two mixer halves in plain PyTorch: what the fused kernels are timed against (eager
and under ``torch.compile``) and checked against inside torch. No Triton needed.

    token mix:    y = x + (W2 · GELU(W1 · LN(x) + b1) + b2)   along N, for every channel
    channel mix:  y = x + (W4 · GELU(W3 · LN(x) + b3) + b4)   along D, for every position
"""
import torch
import torch.nn.functional as F


def token_mix_eager(x, gamma, beta, w1, b1, w2, b2, eps=1e-5):
    """x (B, N, D); w1 (R, N); b1 (R,); w2 (N, R); b2 (N,).  Returns (B, N, D)."""
    ln = F.layer_norm(x, x.shape[-1:], gamma, beta, eps)              # (B, N, D)
    h = F.linear(ln.transpose(1, 2), w1, b1)                          # (B, D, N) @ (N, R) -> (B, D, R)
    z = F.linear(F.gelu(h, approximate="tanh"), w2, b2)               # (B, D, R) @ (R, N) -> (B, D, N)
    return x + z.transpose(1, 2)                                      # (B, N, D)


def channel_mix_eager(x, gamma, beta, w3, b3, w4, b4, eps=1e-5):
    """x (B, N, D); w3 (R, D); b3 (R,); w4 (D, R); b4 (D,).  Returns (B, N, D)."""
    ln = F.layer_norm(x, x.shape[-1:], gamma, beta, eps)              # (B, N, D)
    h = F.linear(ln, w3, b3)                                          # (B, N, D) @ (D, R) -> (B, N, R)
    return x + F.linear(F.gelu(h, approximate="tanh"), w4, b4)        # (B, N, R) @ (R, D) -> (B, N, D)


def mixer_halves_eager(x, token_params, channel_params):
    """Token mixing, then channel mixing: one mixer block."""
    return channel_mix_eager(token_mix_eager(x, *token_params), *channel_params)


__all__ = ["token_mix_eager", "channel_mix_eager", "mixer_halves_eager"]
