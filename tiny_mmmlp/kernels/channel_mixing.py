"""Fused channel mixing: LayerNorm, an MLP along the feature axis, and the residual, in Triton.

For every position (b, n), i.e. every row m of the M = B·N rows of X (shape letters: D
features, R hidden width):

    μ, rstd over D;  L = γ ⊙ (X − μ)·rstd + β       (M, D)
    H = L · W3ᵀ + b3                                 (M, D) @ (D, R) -> (M, R)
    A = GELU(H)                                      (M, R)   tanh form
    Y = X + A · W4ᵀ + b4                             (M, R) @ (R, D) -> (M, D)

Forward: one program per BLOCK_M rows holds whole rows (all D features, padded), so it does
the LayerNorm itself and writes μ, rstd (M numbers each) for the backward; it loops over R in
chunks of BLOCK_R, so H and A never leave registers. Backward recomputes H:

    dA = dY · W4,  dH = dA ⊙ GELU'(H),  dL = dH · W3,  dX = dY + LN-backward(dL)   (data kernel)
    dW4 = dYᵀ · A,  dW3 = dHᵀ · L,  db3 = Σ dH,  db4 = Σ dY                        (weight kernel)

Both backward kernels write per-program partial sums (dγ, dβ; weight gradients) into their
own slot of a (P, ...) buffer that torch sums in a fixed order: deterministic, no atomics.
"""
import torch
import triton
import triton.language as tl

from . import configs
from .gelu import gelu, gelu_grad
from .layernorm import ln_backward_rows
from .support import check_params, check_x, reduction_programs, torch_acc_dtype

# Pointer conventions for every kernel below. X, Y, DY, DX: contiguous (M, D) rows, element
# (m, d) at m·D + d. Mean, Rstd: (M,). W3: (R, D) at r·D + d. W4: (D, R) at d·R + r.
# Gamma, Beta, B4: (D,). B3: (R,).


@triton.jit
def _load_rows(X, Mean, Rstd, Gamma, Beta, blk, M, D, eps,
               STATS: tl.constexpr, ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """Rows m = blk·BLOCK_M ...: x, x̂, LN(x) (BLOCK_M, BLOCK_D), μ, rstd, γ, offsets, mask.
    Computes μ, rstd when STATS, else loads the saved ones."""
    m = blk * BLOCK_M + tl.arange(0, BLOCK_M)
    d = tl.arange(0, BLOCK_D)
    mask = (m < M)[:, None] & (d < D)[None, :]
    offs = m[:, None] * D + d[None, :]
    x = tl.load(X + offs, mask=mask, other=0.0).to(ACC)
    if STATS:
        mean = tl.sum(x, axis=1) / D
        xc = tl.where(mask, x - mean[:, None], 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(xc * xc, axis=1) / D + eps)
        tl.store(Mean + m, mean, mask=m < M)
        tl.store(Rstd + m, rstd, mask=m < M)
    else:
        mean = tl.load(Mean + m, mask=m < M, other=0.0)
        rstd = tl.load(Rstd + m, mask=m < M, other=0.0)
    xhat = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
    gamma = tl.load(Gamma + d, mask=d < D, other=0.0).to(ACC)
    beta = tl.load(Beta + d, mask=d < D, other=0.0).to(ACC)
    ln = tl.where(mask, xhat * gamma[None, :] + beta[None, :], 0.0)
    return x, xhat, ln, mean, rstd, gamma, offs, mask


@triton.jit
def _rows_times_w(A, mean, rstd, Gamma, Beta, W, blk, M, D, R, r0, w_sd, w_sr,
                  NORMALIZE: tl.constexpr, ACC: tl.constexpr, PRECISION: tl.constexpr,
                  BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr):
    """Σ_d rows[m, d] · W[d, r] for rows m = blk·BLOCK_M ... and r = r0 ... r0+BLOCK_R: (BLOCK_M, BLOCK_R).

    rows = LN(A) from the given μ, rstd (BLOCK_M,) when NORMALIZE, else A itself; W[d, r] is at
    W + d·w_sd + r·w_sr. The D features are read in chunks of BLOCK_K (from L1/L2: the caller
    read these rows already), so that no tl.dot has an inner dimension wider than BLOCK_K:
    a float32 tl.dot keeps a whole inner row of each operand per thread, and at D = 256 those
    rows no longer fit in registers.
    """
    DT = A.dtype.element_ty
    m = blk * BLOCK_M + tl.arange(0, BLOCK_M)
    r = r0 + tl.arange(0, BLOCK_R)
    out = tl.zeros((BLOCK_M, BLOCK_R), dtype=ACC)
    for k0 in range(0, D, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        mask = (m < M)[:, None] & (k < D)[None, :]
        a = tl.load(A + m[:, None] * D + k[None, :], mask=mask, other=0.0).to(ACC)     # (BLOCK_M, BLOCK_K)
        if NORMALIZE:
            gamma = tl.load(Gamma + k, mask=k < D, other=0.0).to(ACC)
            beta = tl.load(Beta + k, mask=k < D, other=0.0).to(ACC)
            a = tl.where(mask, (a - mean[:, None]) * rstd[:, None] * gamma[None, :] + beta[None, :], 0.0)
        w = tl.load(W + k[:, None] * w_sd + r[None, :] * w_sr, mask=(k < D)[:, None] & (r < R)[None, :],
                    other=0.0)                                                          # (BLOCK_K, BLOCK_R)
        out += tl.dot(a.to(DT), w.to(DT), input_precision=PRECISION).to(ACC)
    return out


@triton.jit
def _channel_mix_fwd(X, Y, Mean, Rstd, Gamma, Beta, W3, B3, W4, B4, M, D, R, eps,
                     ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_D: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr):
    DT = X.dtype.element_ty                                        # matmul operand type
    blk = tl.program_id(0)
    x, xhat, ln, mean, rstd, gamma, offs, mask = _load_rows(
        X, Mean, Rstd, Gamma, Beta, blk, M, D, eps, True, ACC, BLOCK_M, BLOCK_D)
    d = tl.arange(0, BLOCK_D)
    z = tl.zeros((BLOCK_M, BLOCK_D), dtype=ACC)                    # A · W4ᵀ, accumulated over R
    for r0 in range(0, R, BLOCK_R):
        r = r0 + tl.arange(0, BLOCK_R)
        w_mask = (d < D)[:, None] & (r < R)[None, :]               # (BLOCK_D, BLOCK_R)
        w4 = tl.load(W4 + d[:, None] * R + r[None, :], mask=w_mask, other=0.0)    # W4[d, r]
        b3 = tl.load(B3 + r, mask=r < R, other=0.0).to(ACC)
        h = _rows_times_w(X, mean, rstd, Gamma, Beta, W3, blk, M, D, R, r0, 1, D, True,   # LN(X) · W3ᵀ
                          ACC, PRECISION, BLOCK_M, BLOCK_K, BLOCK_R) + b3[None, :]      # (BLOCK_M, BLOCK_R)
        a = gelu(h)                                                # padded columns r >= R meet W4 = 0
        z += tl.dot(a.to(DT), tl.trans(w4.to(DT)), input_precision=PRECISION).to(ACC)     # (BLOCK_M, BLOCK_D)
    b4 = tl.load(B4 + d, mask=d < D, other=0.0).to(ACC)
    tl.store(Y + offs, (x + z + b4[None, :]).to(Y.dtype.element_ty), mask=mask)


@triton.jit
def _channel_mix_bwd_data(X, DY, DX, Mean, Rstd, Gamma, Beta, W3, B3, W4,
                          DGp, DBp,            # (P, D) partial dγ, dβ: program p writes row p
                          M, D, R,
                          ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr,
                          BLOCK_D: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr):
    """dX = dY + LN-backward(dH · W3), dH = GELU'(H) ⊙ (dY · W4), over a grid-stride share of rows."""
    p, P = tl.program_id(0), tl.num_programs(0)
    DT = X.dtype.element_ty
    d = tl.arange(0, BLOCK_D)
    dgamma = tl.zeros((BLOCK_D,), dtype=ACC)
    dbeta = tl.zeros((BLOCK_D,), dtype=ACC)
    for blk in range(p, tl.cdiv(M, BLOCK_M), P):
        m = blk * BLOCK_M + tl.arange(0, BLOCK_M)
        mean = tl.load(Mean + m, mask=m < M, other=0.0)
        rstd = tl.load(Rstd + m, mask=m < M, other=0.0)
        dl = tl.zeros((BLOCK_M, BLOCK_D), dtype=ACC)              # the only row tile held over the R-loop
        for r0 in range(0, R, BLOCK_R):
            r = r0 + tl.arange(0, BLOCK_R)
            w_mask = (d < D)[:, None] & (r < R)[None, :]
            w3t = tl.load(W3 + r[None, :] * D + d[:, None], mask=w_mask, other=0.0).to(DT)  # W3ᵀ[d, r]
            b3 = tl.load(B3 + r, mask=r < R, other=0.0).to(ACC)
            h = _rows_times_w(X, mean, rstd, Gamma, Beta, W3, blk, M, D, R, r0, 1, D, True,      # LN(X) · W3ᵀ
                              ACC, PRECISION, BLOCK_M, BLOCK_K, BLOCK_R) + b3[None, :]         # (BLOCK_M, BLOCK_R)
            dh = _rows_times_w(DY, mean, rstd, Gamma, Beta, W4, blk, M, D, R, r0, R, 1, False,   # dY · W4
                               ACC, PRECISION, BLOCK_M, BLOCK_K, BLOCK_R) * gelu_grad(h)       # (BLOCK_M, BLOCK_R)
            dl += tl.dot(dh.to(DT), tl.trans(w3t), input_precision=PRECISION).to(ACC)     # (BLOCK_M, BLOCK_D)
        x, xhat, ln, mean, rstd, gamma, offs, mask = _load_rows(   # x̂ and dY read after the loop (L1/L2)
            X, Mean, Rstd, Gamma, Beta, blk, M, D, 0.0, False, ACC, BLOCK_M, BLOCK_D)
        dy = tl.load(DY + offs, mask=mask, other=0.0)              # (BLOCK_M, BLOCK_D)
        dx = dy.to(ACC) + ln_backward_rows(dl, xhat, rstd, gamma, mask, D)
        tl.store(DX + offs, dx.to(DX.dtype.element_ty), mask=mask)
        dgamma += tl.sum(dl * xhat, axis=0)
        dbeta += tl.sum(dl, axis=0)
    tl.store(DGp + p * D + d, dgamma, mask=d < D)
    tl.store(DBp + p * D + d, dbeta, mask=d < D)


@triton.jit
def _channel_mix_bwd_weights(X, DY, Mean, Rstd, Gamma, Beta, W3, B3, W4,
                             DW3p, DW4p, DB3p, DB4p,   # partials: (P, R, D), (P, D, R), (P, R), (P, D)
                             M, D, R,
                             ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr,
                             BLOCK_D: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr):
    """Program (i, p): hidden units r in chunk i, row blocks p, p + P, ... of the cdiv(M, BLOCK_M)."""
    pid_r, p, P = tl.program_id(0), tl.program_id(1), tl.num_programs(1)
    DT = X.dtype.element_ty
    d = tl.arange(0, BLOCK_D)
    r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    w_mask = (d < D)[:, None] & (r < R)[None, :]                   # (BLOCK_D, BLOCK_R)
    b3 = tl.load(B3 + r, mask=r < R, other=0.0).to(ACC)
    dw3t = tl.zeros((BLOCK_D, BLOCK_R), dtype=ACC)                 # Σ Lᵀ · dH  (= dW3ᵀ)
    dw4 = tl.zeros((BLOCK_D, BLOCK_R), dtype=ACC)                  # Σ dYᵀ · A
    db3 = tl.zeros((BLOCK_R,), dtype=ACC)
    db4 = tl.zeros((BLOCK_D,), dtype=ACC)
    for blk in range(p, tl.cdiv(M, BLOCK_M), P):
        m = blk * BLOCK_M + tl.arange(0, BLOCK_M)
        mean = tl.load(Mean + m, mask=m < M, other=0.0)
        rstd = tl.load(Rstd + m, mask=m < M, other=0.0)
        h = _rows_times_w(X, mean, rstd, Gamma, Beta, W3, blk, M, D, R, pid_r * BLOCK_R, 1, D, True,
                          ACC, PRECISION, BLOCK_M, BLOCK_K, BLOCK_R) + b3[None, :]      # LN(X) · W3ᵀ
        a = gelu(h)
        dh = _rows_times_w(DY, mean, rstd, Gamma, Beta, W4, blk, M, D, R, pid_r * BLOCK_R, R, 1, False,
                           ACC, PRECISION, BLOCK_M, BLOCK_K, BLOCK_R) * gelu_grad(h)    # dY · W4 (BLOCK_M, BLOCK_R)
        x, xhat, ln, mean, rstd, gamma, offs, mask = _load_rows(   # L, dY read only now (L1/L2), so
            X, Mean, Rstd, Gamma, Beta, blk, M, D, 0.0, False, ACC, BLOCK_M, BLOCK_D)   # not live above
        dy = tl.load(DY + offs, mask=mask, other=0.0)              # padded rows: dY = 0, L = 0
        dw3t += tl.dot(tl.trans(ln.to(DT)), dh.to(DT), input_precision=PRECISION).to(ACC)  # (BLOCK_D, BLOCK_R)
        dw4 += tl.dot(tl.trans(dy.to(DT)), a.to(DT), input_precision=PRECISION).to(ACC)    # (BLOCK_D, BLOCK_R)
        db3 += tl.sum(dh, axis=0)
        db4 += tl.sum(dy.to(ACC), axis=0)
    tl.store(DW3p + p * R * D + r[None, :] * D + d[:, None], dw3t, mask=w_mask)
    tl.store(DW4p + p * D * R + d[:, None] * R + r[None, :], dw4, mask=w_mask)
    tl.store(DB3p + p * R + r, db3, mask=r < R)
    tl.store(DB4p + p * D + d, db4, mask=(d < D) & (pid_r == 0))   # one R-chunk writes dB4


def channel_mix_forward(x, gamma, beta, w3, b3, w4, b4, eps=1e-5):
    """Launch the forward. Returns y (B, N, D) and the LayerNorm statistics (mean, rstd), (B, N)."""
    check_x("channel_mix", x)
    B, N, D = x.shape
    R = w3.shape[0] if isinstance(w3, torch.Tensor) and w3.dim() == 2 else "R"
    check_params("channel_mix", x, {"gamma": (gamma, (D,)), "beta": (beta, (D,)), "w3": (w3, (R, D)),
                                    "b3": (b3, (R,)), "w4": (w4, (D, R)), "b4": (b4, (D,))})
    x, gamma, beta, w3, b3, w4, b4 = (t.contiguous() for t in (x, gamma, beta, w3, b3, w4, b4))
    M = B * N
    mean = torch.empty((B, N), device=x.device, dtype=torch_acc_dtype(x.dtype))
    rstd = torch.empty_like(mean)
    y = torch.empty_like(x)
    cfg = configs.channel_mix(D, R, x.dtype)["_channel_mix_fwd"]
    _channel_mix_fwd[(triton.cdiv(M, cfg["BLOCK_M"]),)](
        x, y, mean, rstd, gamma, beta, w3, b3, w4, b4, M, D, R, eps, **cfg)
    return y, mean, rstd


def channel_mix_backward(dy, x, gamma, beta, w3, b3, w4, b4, mean, rstd):
    """Launch the backward kernels. Returns (dx, dgamma, dbeta, dw3, db3, dw4, db4)."""
    B, N, D = x.shape
    R, M = w3.shape[0], B * N
    dy = dy.contiguous()
    launch = configs.channel_mix(D, R, x.dtype)
    acc = torch_acc_dtype(x.dtype)
    part = lambda P, *shape: torch.zeros((P, *shape), device=x.device, dtype=acc)  # noqa: E731

    cfg = launch["_channel_mix_bwd_data"]
    P = reduction_programs(triton.cdiv(M, cfg["BLOCK_M"]), 1, x.device)
    dx, dgp, dbp = torch.empty_like(x), part(P, D), part(P, D)
    _channel_mix_bwd_data[(P,)](x, dy, dx, mean, rstd, gamma, beta, w3, b3, w4, dgp, dbp, M, D, R, **cfg)

    cfg = launch["_channel_mix_bwd_weights"]
    n_mblk, n_rblk = triton.cdiv(M, cfg["BLOCK_M"]), triton.cdiv(R, cfg["BLOCK_R"])
    P = reduction_programs(n_mblk, n_rblk, x.device)
    dw3p, dw4p, db3p, db4p = part(P, R, D), part(P, D, R), part(P, R), part(P, D)
    _channel_mix_bwd_weights[(n_rblk, P)](x, dy, mean, rstd, gamma, beta, w3, b3, w4,
                                          dw3p, dw4p, db3p, db4p, M, D, R, **cfg)
    grads = (t.sum(0).to(x.dtype) for t in (dgp, dbp, dw3p, db3p, dw4p, db4p))  # fixed-order sums
    return (dx, *grads)


class ChannelMix(torch.autograd.Function):
    """y = x + W4 · GELU(W3 · LN(x) + b3) + b4 along D; saves x, the parameters and (mean, rstd)."""

    @staticmethod
    def forward(ctx, x, gamma, beta, w3, b3, w4, b4, eps):
        y, mean, rstd = channel_mix_forward(x, gamma, beta, w3, b3, w4, b4, eps)
        ctx.save_for_backward(*(t.contiguous() for t in (x, gamma, beta, w3, b3, w4, b4)), mean, rstd)
        return y

    @staticmethod
    def backward(ctx, dy):
        return (*channel_mix_backward(dy, *ctx.saved_tensors), None)   # no gradient for eps


def channel_mix(x, gamma, beta, w3, b3, w4, b4, eps=1e-5):
    """Fused channel mixing (differentiable). x (B, N, D); w3 (R, D); b3 (R,); w4 (D, R); b4 (D,);
    eps: the LayerNorm epsilon (the model passes cfg.ln_eps)."""
    return ChannelMix.apply(x, gamma, beta, w3, b3, w4, b4, float(eps))


# Check against the NumPy reference: TRITON_INTERPRET=1 python -m tiny_mmmlp.kernels.channel_mixing
if __name__ == "__main__":
    from tiny_mmmlp.reference import mixing as reference

    from .support import report_against_reference

    B, N, D, R = 2, 37, 45, 50
    report_against_reference(channel_mix, reference.channel_mix_forward, reference.channel_mix_backward,
                             [(B, N, D), (D,), (D,), (R, D), (R,), (D, R), (D,)],
                             ["dx", "dgamma", "dbeta", "dw3", "db3", "dw4", "db4"])
