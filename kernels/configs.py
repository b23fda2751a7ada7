"""Launch configurations of every fused kernel: tiles, warps and pipeline stages per shape.

The one table both the launchers (``token_mixing``, ``channel_mixing``, ``layernorm``) and
``benchmarks/kernel_resources.py`` read. That script compiles every entry for sm_80 and
sm_90a without a GPU and reads registers, spill bytes and shared memory from the binary;
``tests/test_kernel_resources.py`` guards two shapes of it in CI. Change a number here, rerun
the script, and the table in ``benchmarks/results/`` says whether the kernels still fit.

A launch is a dict of keyword arguments for ``kernel[grid](...)``: the constexpr tiles (and
ACC, the accumulation type, and PRECISION, the tl.dot input precision) plus ``num_warps``
and ``num_stages``. Tiles are powers of two of at least 16 (the smallest ``tl.dot`` tile).
"""
from __future__ import annotations

import torch

from .support import acc_dtype, block, dot_precision

# Kernel names (the @triton.jit function names) each launcher launches, in launch order.
KERNELS = {
    "token_mix": ["_ln_stats_kernel", "_token_mix_fwd", "_token_mix_bwd_data", "_ln_backward_kernel",
                  "_token_mix_bwd_weights"],
    "channel_mix": ["_channel_mix_fwd", "_channel_mix_bwd_data", "_channel_mix_bwd_weights"],
}


def _launch(num_warps: int, num_stages: int, **constexprs) -> dict:
    return dict(constexprs, num_warps=num_warps, num_stages=num_stages)


def layernorm(D: int, dtype: torch.dtype) -> dict:
    """LayerNorm statistics and backward over rows of D features (whole rows per tile)."""
    BLOCK_D = block(D)
    BLOCK_M = max(1, min(64, 4096 // BLOCK_D))
    acc = acc_dtype(dtype)
    return {"_ln_stats_kernel": _launch(4, 3, ACC=acc, BLOCK_M=BLOCK_M, BLOCK_D=BLOCK_D),
            "_ln_backward_kernel": _launch(4, 3, ACC=acc, BLOCK_M=BLOCK_M, BLOCK_D=BLOCK_D)}


def token_mix(N: int, D: int, R: int, dtype: torch.dtype) -> dict:
    """Token mixing: (BLOCK_N = all positions) x BLOCK_D channel tiles, BLOCK_R hidden chunks."""
    BLOCK_N = block(N)
    BLOCK_D = block(D, max(16, min(32, 8192 // BLOCK_N)))
    BLOCK_R = block(R, 32 if BLOCK_N <= 256 else 16)
    mix = _launch(4 if BLOCK_N <= 64 else 8, 3, ACC=acc_dtype(dtype), PRECISION=dot_precision(dtype),
                  BLOCK_N=BLOCK_N, BLOCK_D=BLOCK_D, BLOCK_R=BLOCK_R)
    ln = layernorm(D, dtype)
    return {"_ln_stats_kernel": ln["_ln_stats_kernel"], "_token_mix_fwd": mix,
            "_token_mix_bwd_data": mix, "_ln_backward_kernel": ln["_ln_backward_kernel"],
            "_token_mix_bwd_weights": mix}


def channel_mix(D: int, R: int, dtype: torch.dtype) -> dict:
    """Channel mixing: BLOCK_M rows x all BLOCK_D features per tile, BLOCK_R hidden chunks."""
    BLOCK_D = block(D)
    BLOCK_M = max(16, min(64, 4096 // BLOCK_D))
    mix = _launch(4 if BLOCK_D <= 64 else 8, 3, ACC=acc_dtype(dtype), PRECISION=dot_precision(dtype),
                  BLOCK_M=BLOCK_M, BLOCK_D=BLOCK_D, BLOCK_R=block(R, 32 if BLOCK_D <= 256 else 16))
    return {"_channel_mix_fwd": mix, "_channel_mix_bwd_data": mix, "_channel_mix_bwd_weights": mix}
