"""Launch configurations of every fused kernel: tiles, warps and pipeline stages per shape.

The one table both the launchers (``token_mixing``, ``channel_mixing``, ``layernorm``) and
``benchmarks/kernel_resources.py`` read. That script compiles every entry for sm_80 and
sm_90a without a GPU and reads registers, spill bytes and shared memory from the binary;
``tests/benchmarks/test_kernel_resources.py`` guards two shapes of it in CI. Change a number here, rerun
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


# Why these numbers (benchmarks/results/kernel_resources.md has the compiled figures):
# - num_stages=1 everywhere: Triton's software pipelining (num_stages=3) keeps several copies of
#   every tile loaded in a loop in shared memory; in the weight-gradient kernels that pushed
#   shared memory past the sm_80/sm_90a limits and ptxas spilled kilobytes per thread.
# - a float32 tl.dot (IEEE, no tensor cores) keeps a whole inner row of each operand in every
#   thread, so the inner dimension stays small: BLOCK_K chunks of D in channel mixing and of N in
#   token mixing, and more warps (fewer values per thread) for the N-wide tiles of token mixing.
# - LayerNorm kernels hold about 16 values of each (BLOCK_M, BLOCK_D) tile per thread, so they
#   stay under 128 registers and at least 16 warps fit on an SM.

# Token mixing, by BLOCK_N = the padded sequence length:
#   (BLOCK_D, BLOCK_R, num_warps) for the forward and data kernels, then the same for the weights.
# Every width here is verified by the resource table (benchmarks/results/kernel_resources*.md);
# support.MAX_N is the widest row. With N chunked, 4-8 warps suffice up to 512 (with more, ptxas
# settled on 48-64 registers and 8-56 bytes of stack); 16 at 1024 for the forward and data kernels
# (their (N, BLOCK_D) accumulator and W tile); past 256 the weight kernel takes 256-column slices,
# so its rows at 512 and 1024 compile to the same binary as at 256. ptxas is erratic here (8 bytes
# of stack appear and vanish with one tile or warp change), so every entry was chosen from compiles
# at aligned and unaligned widths (benchmarks/kernel_resources.py --shapes widths).
TOKEN_TILES = {
    16: ((32, 32, 4), (32, 32, 4)),
    32: ((32, 32, 4), (32, 32, 4)),
    64: ((32, 32, 4), (16, 32, 4)),
    128: ((32, 16, 4), (32, 16, 8)),
    256: ((16, 16, 8), (32, 16, 8)),
    512: ((16, 16, 8), (32, 16, 8)),
    1024: ((16, 16, 16), (32, 16, 8)),
}
# The matmuls over N (W1 · LN(X), W2ᵀ · dY) run in BLOCK_K = min(BLOCK_N, TOKEN_CHUNK) chunks of N
# (32 and 64 left 8-72 bytes of stack in some launches, mostly at widths not a multiple of 16).
TOKEN_CHUNK = 16
# The weight kernel accumulates (BLOCK_R, N) blocks of dW1 and dW2ᵀ; past TOKEN_WEIGHT_COLS positions
# each program takes one BLOCK_N = TOKEN_WEIGHT_COLS slice of them (a third grid axis) and
# recomputes H and dH for it, rather than spill.
TOKEN_WEIGHT_COLS = 256
# bfloat16 tl.dot runs on tensor cores and needs registers differently: where the weight kernel
# wants another launch in bfloat16, (BLOCK_D, BLOCK_R, num_warps) by BLOCK_N (none at present).
TOKEN_WEIGHT_TILES_BF16 = {}
# Channel mixing, by BLOCK_D = the padded feature width: (BLOCK_M, BLOCK_K, BLOCK_R, num_warps)
# for the forward, the data and the weight kernels. Verified up to 512 (support.MAX_D); 1024 spilled.
# Every channel launch passes maxnreg = max_registers(num_warps) (PTX .maxnreg): without it ptxas
# often stopped at 64-128 registers and spilled 8-328 bytes, mostly at widths not a multiple of 16;
# with it, it takes the registers it needs. The backward kernels read their whole-row tiles
# (x̂, L, dY) only after the matmuls over D, so only dL (data) or nothing (weights) of (BLOCK_M,
# BLOCK_D) stays live across them. Each entry was chosen from compiles at aligned and unaligned widths
# (benchmarks/kernel_resources.py --shapes widths). The weight kernel at 64 (the training default)
# takes 8 warps: with 4, the triton 3.6 wheel's ptxas used 222 of 255 registers and a triton 3.6
# build on an H100 machine 255 and 32 bytes of stack; with 8 it needs about 205 with 3.6 and 3.8.
CHANNEL_TILES = {
    16: ((32, 16, 32, 4), (64, 16, 16, 4), (32, 16, 16, 4)),
    32: ((32, 32, 32, 4), (16, 32, 32, 4), (16, 16, 16, 4)),
    64: ((32, 32, 32, 4), (16, 64, 32, 8), (16, 64, 16, 8)),
    128: ((16, 64, 16, 4), (16, 64, 16, 4), (16, 32, 16, 4)),
    256: ((16, 64, 32, 8), (16, 64, 32, 8), (16, 64, 16, 8)),
    512: ((16, 32, 16, 8), (16, 64, 16, 8), (16, 32, 16, 16)),
}
CHANNEL_WEIGHT_TILES_BF16 = {512: (16, 64, 16, 8)}    # as TOKEN_WEIGHT_TILES_BF16


def max_registers(num_warps: int) -> int:
    """The most registers per thread a program of num_warps can have: 255, or 65,536 / threads."""
    return min(255, 65536 // (32 * num_warps))


def layernorm(D: int, dtype: torch.dtype) -> dict:
    """LayerNorm statistics and backward over rows of D features (whole rows per tile)."""
    BLOCK_D = block(D)
    BLOCK_M = max(1, 2048 // BLOCK_D)                # 2048 values per tile: 16 per thread at 4 warps
    acc = acc_dtype(dtype)
    return {"_ln_stats_kernel": _launch(4, 1, ACC=acc, BLOCK_M=BLOCK_M, BLOCK_D=BLOCK_D),
            "_ln_backward_kernel": _launch(4, 1, ACC=acc, BLOCK_M=BLOCK_M, BLOCK_D=BLOCK_D)}


def token_mix(N: int, D: int, R: int, dtype: torch.dtype) -> dict:
    """Token mixing: (BLOCK_N = all positions) x BLOCK_D channel tiles, BLOCK_R hidden chunks."""
    BLOCK_N = block(N)
    common = dict(ACC=acc_dtype(dtype), PRECISION=dot_precision(dtype), BLOCK_N=BLOCK_N)
    (d, r, w), (d_w, r_w, w_w) = TOKEN_TILES[BLOCK_N]
    if dtype == torch.bfloat16:
        d_w, r_w, w_w = TOKEN_WEIGHT_TILES_BF16.get(BLOCK_N, (d_w, r_w, w_w))
    common["BLOCK_K"] = min(BLOCK_N, TOKEN_CHUNK)
    mix = _launch(w, 1, **common, BLOCK_D=block(D, d), BLOCK_R=block(R, r))
    ln = layernorm(D, dtype)
    return {"_ln_stats_kernel": ln["_ln_stats_kernel"], "_token_mix_fwd": mix,
            "_token_mix_bwd_data": mix, "_ln_backward_kernel": ln["_ln_backward_kernel"],
            "_token_mix_bwd_weights": _launch(w_w, 1, **dict(common, BLOCK_N=min(BLOCK_N, TOKEN_WEIGHT_COLS)),
                                              BLOCK_D=block(D, d_w), BLOCK_R=block(R, r_w))}


def channel_mix(D: int, R: int, dtype: torch.dtype) -> dict:
    """Channel mixing: BLOCK_M rows x all BLOCK_D features per tile, BLOCK_R hidden chunks; the
    D-wide matmuls run in BLOCK_K chunks of D."""
    BLOCK_D = block(D)
    common = dict(ACC=acc_dtype(dtype), PRECISION=dot_precision(dtype), BLOCK_D=BLOCK_D)
    fwd, data, weights = CHANNEL_TILES[BLOCK_D]
    if dtype == torch.bfloat16:
        weights = CHANNEL_WEIGHT_TILES_BF16.get(BLOCK_D, weights)
    return {name: _launch(w, 1, **common, BLOCK_M=m, BLOCK_K=k, BLOCK_R=block(R, r), maxnreg=max_registers(w))
            for name, (m, k, r, w) in [("_channel_mix_fwd", fwd), ("_channel_mix_bwd_data", data),
                                       ("_channel_mix_bwd_weights", weights)]}
