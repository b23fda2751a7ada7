"""LayerNorm over the feature axis D, as the two mixer kernels need it.

    μ = mean_d x[d],   rstd = 1 / √(mean_d (x[d] − μ)² + ε),   x̂ = (x − μ) · rstd
    LN(x) = γ ⊙ x̂ + β

Backward, with g = dLN ⊙ γ (means over D, sums over all rows):

    dγ = Σ dLN ⊙ x̂,   dβ = Σ dLN,   dx = rstd · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))

Rows are the M = B·N positions of a contiguous (B, N, D) tensor: row m starts at m·D.
The forward kernels normalize on the fly; they keep only μ and rstd (M numbers each) for the
backward. ``ln_stats`` computes them for token mixing, whose tiles do not hold whole rows;
``ln_backward`` turns dLN into dx (plus the residual's dy) and per-program partial dγ, dβ.
"""
import torch
import triton
import triton.language as tl

from .support import reduction_programs, torch_acc_dtype


@triton.jit
def ln_backward_rows(dln, xhat, rstd, gamma, mask, D):
    """dx of LayerNorm for a tile of whole rows: dln, xhat (BLOCK_M, BLOCK_D); rstd (BLOCK_M,)."""
    g = tl.where(mask, dln * gamma[None, :], 0.0)                  # (BLOCK_M, BLOCK_D)
    g_mean = tl.sum(g, axis=1) / D                                 # (BLOCK_M,)
    gx_mean = tl.sum(g * xhat, axis=1) / D                         # (BLOCK_M,)
    return rstd[:, None] * (g - g_mean[:, None] - xhat * gx_mean[:, None])


@triton.jit
def _ln_stats_kernel(
    X,            # *(M, D) input rows, contiguous: element (m, d) at X + m·D + d
    Mean, Rstd,   # *(M,) outputs, accumulation dtype
    M, D, eps,
    ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)      # (BLOCK_M,) this program's rows
    cols = tl.arange(0, BLOCK_D)                                   # (BLOCK_D,) all features, padded
    mask = (rows < M)[:, None] & (cols < D)[None, :]
    x = tl.load(X + rows[:, None] * D + cols[None, :], mask=mask, other=0.0).to(ACC)
    mean = tl.sum(x, axis=1) / D
    xc = tl.where(mask, x - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(xc * xc, axis=1) / D + eps)
    tl.store(Mean + rows, mean, mask=rows < M)
    tl.store(Rstd + rows, rstd, mask=rows < M)


@triton.jit
def _ln_backward_kernel(
    X, DY, DLN,   # *(M, D) input x, upstream dy (residual path), dLN; contiguous rows of length D
    DX,           # *(M, D) output: dx = dy + LN-backward(dLN)
    Mean, Rstd,   # *(M,) saved statistics
    Gamma,        # *(D,)
    DGp, DBp,     # *(P, D) per-program partial dγ, dβ: program p writes row p
    M, D,
    ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    pid, n_prog = tl.program_id(0), tl.num_programs(0)
    cols = tl.arange(0, BLOCK_D)
    mask_d = cols < D
    gamma = tl.load(Gamma + cols, mask=mask_d, other=0.0).to(ACC)
    dgamma = tl.zeros((BLOCK_D,), dtype=ACC)
    dbeta = tl.zeros((BLOCK_D,), dtype=ACC)
    for blk in range(pid, tl.cdiv(M, BLOCK_M), n_prog):            # grid-stride over row blocks
        rows = blk * BLOCK_M + tl.arange(0, BLOCK_M)
        mask = (rows < M)[:, None] & mask_d[None, :]
        offs = rows[:, None] * D + cols[None, :]                   # (BLOCK_M, BLOCK_D)
        x = tl.load(X + offs, mask=mask, other=0.0).to(ACC)
        dy = tl.load(DY + offs, mask=mask, other=0.0).to(ACC)
        dln = tl.load(DLN + offs, mask=mask, other=0.0).to(ACC)
        mean = tl.load(Mean + rows, mask=rows < M, other=0.0)
        rstd = tl.load(Rstd + rows, mask=rows < M, other=0.0)
        xhat = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
        dx = dy + ln_backward_rows(dln, xhat, rstd, gamma, mask, D)
        tl.store(DX + offs, dx.to(DX.dtype.element_ty), mask=mask)
        dgamma += tl.sum(dln * xhat, axis=0)
        dbeta += tl.sum(dln, axis=0)
    tl.store(DGp + pid * D + cols, dgamma, mask=mask_d)
    tl.store(DBp + pid * D + cols, dbeta, mask=mask_d)


def ln_stats(x: torch.Tensor, eps: float, launch: dict):
    """Mean and rstd over the last axis of a contiguous (B, N, D) x: two (B, N) tensors.
    ``launch``: the kernel's entry of ``configs.layernorm``."""
    B, N, D = x.shape
    M = B * N
    mean = torch.empty((B, N), device=x.device, dtype=torch_acc_dtype(x.dtype))
    rstd = torch.empty_like(mean)
    _ln_stats_kernel[(triton.cdiv(M, launch["BLOCK_M"]),)](x, mean, rstd, M, D, eps, **launch)
    return mean, rstd


def ln_backward(x, dy, dln, mean, rstd, gamma, launch: dict):
    """dx = dy + LN-backward(dln), and dγ, dβ summed over all rows in a fixed order.
    ``launch``: the kernel's entry of ``configs.layernorm``."""
    B, N, D = x.shape
    M = B * N
    P = reduction_programs(triton.cdiv(M, launch["BLOCK_M"]), 1, x.device)
    dx = torch.empty_like(x)
    dg_part = torch.empty((P, D), device=x.device, dtype=torch_acc_dtype(x.dtype))
    db_part = torch.empty_like(dg_part)
    _ln_backward_kernel[(P,)](
        x, dy, dln, dx, mean, rstd, gamma, dg_part, db_part, M, D, **launch)
    return dx, dg_part.sum(0), db_part.sum(0)
