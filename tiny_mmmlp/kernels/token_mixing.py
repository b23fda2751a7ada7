"""Fused token mixing: LayerNorm, an MLP along the sequence axis, and the residual, in Triton.

For every sequence b and every channel d (shape letters: B batch, N positions, D features,
R hidden width):

    L = LN(X[b])                       (N, D)   LayerNorm over D, from saved μ, rstd
    H = W1 · L + b1                    (R, N) @ (N, D) -> (R, D)
    A = GELU(H)                        (R, D)   tanh form
    Y[b] = X[b] + W2 · A + b2          (N, R) @ (R, D) -> (N, D)

Forward: one program per (b, block of BLOCK_D channels) accumulates its (N, BLOCK_D) slice of Y
and loops over the hidden width in chunks of BLOCK_R, so H and A (R × D per sequence) live only
in registers; W1 · L runs over N in BLOCK_K chunks, normalising each chunk of X as it is read.
Backward, recomputing H from X, μ, rstd instead of saving it:

    dA = W2ᵀ · dY,  dH = dA ⊙ GELU'(H),  dL = W1ᵀ · dH              (data kernel, same tiling)
    dW2 = Σ_b dY · Aᵀ,  dW1 = Σ_b dH · Lᵀ,  db1 = Σ dH,  db2 = Σ dY   (weight kernel)
    dX = dY + LN-backward(dL),  dγ, dβ                                (layernorm.ln_backward)

The weight kernel gives each program one R-chunk of the weights (and, for long sequences, one
slice of BLOCK_N of their N columns) and a strided share of the (b, channel-block) tiles; it
writes its partial sums to its own slot of a (P, ...) buffer, which torch then sums in a fixed
order, so results repeat bit for bit.
"""
import torch
import triton
import triton.language as tl

from . import configs
from .gelu import gelu, gelu_grad
from .layernorm import ln_backward, ln_stats
from .support import check_params, check_x, reduction_programs, torch_acc_dtype

# Pointer conventions for every kernel below. X, Y, DY, DL: contiguous (B, N, D), element
# (b, n, d) at b·N·D + n·D + d. Mean, Rstd: (B, N) at b·N + n. W1: (R, N) at r·N + n.
# W2: (N, R) at n·R + r. Gamma, Beta: (D,). B1: (R,). B2: (N,).


@triton.jit
def _load_ln_tile(X, Mean, Rstd, Gamma, Beta, b, n0, d0, N, D,
                  ACC: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """x and LN(x) for sequence b, positions n0 .. n0+BLOCK_N, channels d0 .. d0+BLOCK_D: two
    (BLOCK_N, BLOCK_D) tiles, 0 outside."""
    n = n0 + tl.arange(0, BLOCK_N)
    d = d0 + tl.arange(0, BLOCK_D)
    mask = (n < N)[:, None] & (d < D)[None, :]
    offs = b * N * D + n[:, None] * D + d[None, :]
    x = tl.load(X + offs, mask=mask, other=0.0).to(ACC)
    mean = tl.load(Mean + b * N + n, mask=n < N, other=0.0)
    rstd = tl.load(Rstd + b * N + n, mask=n < N, other=0.0)
    gamma = tl.load(Gamma + d, mask=d < D, other=0.0).to(ACC)
    beta = tl.load(Beta + d, mask=d < D, other=0.0).to(ACC)
    ln = (x - mean[:, None]) * rstd[:, None] * gamma[None, :] + beta[None, :]
    return x, tl.where(mask, ln, 0.0), offs, mask



@triton.jit
def _w_times_cols(A, Mean, Rstd, Gamma, Beta, W, b, d0, N, D, R, r0, w_sr, w_sn,
                  NORMALIZE: tl.constexpr, ACC: tl.constexpr, PRECISION: tl.constexpr,
                  BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_R: tl.constexpr):
    """Σ_n W[r, n] · cols[n, d] for r = r0 ... r0+BLOCK_R, channels d = d0 ... d0+BLOCK_D of sequence b:
    (BLOCK_R, BLOCK_D). cols = LN(A[b]) from the saved μ, rstd when NORMALIZE, else A[b]; W[r, n] is at
    W + r·w_sr + n·w_sn. The N positions are read in chunks of BLOCK_K, so that no tl.dot has an
    inner dimension wider than BLOCK_K (as channel_mixing._rows_times_w chunks D): a float32
    tl.dot keeps a whole inner row of each operand per thread, which at N = 512 no longer fits.
    """
    DT = A.dtype.element_ty
    r = r0 + tl.arange(0, BLOCK_R)
    d = d0 + tl.arange(0, BLOCK_D)
    gamma = tl.load(Gamma + d, mask=d < D, other=0.0).to(ACC)
    beta = tl.load(Beta + d, mask=d < D, other=0.0).to(ACC)
    out = tl.zeros((BLOCK_R, BLOCK_D), dtype=ACC)
    for k0 in range(0, N, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        mask = (k < N)[:, None] & (d < D)[None, :]
        a = tl.load(A + b * N * D + k[:, None] * D + d[None, :], mask=mask, other=0.0).to(ACC)  # (BLOCK_K, BLOCK_D)
        if NORMALIZE:
            mean = tl.load(Mean + b * N + k, mask=k < N, other=0.0)
            rstd = tl.load(Rstd + b * N + k, mask=k < N, other=0.0)
            a = tl.where(mask, (a - mean[:, None]) * rstd[:, None] * gamma[None, :] + beta[None, :], 0.0)
        w = tl.load(W + r[:, None] * w_sr + k[None, :] * w_sn, mask=(r < R)[:, None] & (k < N)[None, :],
                    other=0.0)                                                           # (BLOCK_R, BLOCK_K)
        out += tl.dot(w.to(DT), a.to(DT), input_precision=PRECISION).to(ACC)
    return out

@triton.jit
def _token_mix_fwd(X, Y, Mean, Rstd, Gamma, Beta, W1, B1, W2, B2, N, D, R,
                   ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_N: tl.constexpr,
                   BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_R: tl.constexpr):
    b, d0 = tl.program_id(0), tl.program_id(1) * BLOCK_D          # grid (B, cdiv(D, BLOCK_D))
    DT = X.dtype.element_ty                                        # matmul operand type
    n = tl.arange(0, BLOCK_N)
    z = tl.zeros((BLOCK_N, BLOCK_D), dtype=ACC)                    # W2 · A, accumulated over R
    for r0 in range(0, R, BLOCK_R):
        r = r0 + tl.arange(0, BLOCK_R)
        w2 = tl.load(W2 + n[:, None] * R + r[None, :], mask=(n < N)[:, None] & (r < R)[None, :], other=0.0)
        b1 = tl.load(B1 + r, mask=r < R, other=0.0).to(ACC)
        h = _w_times_cols(X, Mean, Rstd, Gamma, Beta, W1, b, d0, N, D, R, r0, N, 1, True,   # W1 · LN(X)
                          ACC, PRECISION, BLOCK_K, BLOCK_D, BLOCK_R) + b1[:, None]         # (BLOCK_R, BLOCK_D)
        a = gelu(h)                                                # padded rows r >= R meet W2 = 0
        z += tl.dot(w2.to(DT), a.to(DT), input_precision=PRECISION).to(ACC)             # (BLOCK_N, BLOCK_D)
    d = d0 + tl.arange(0, BLOCK_D)
    mask = (n < N)[:, None] & (d < D)[None, :]
    offs = b * N * D + n[:, None] * D + d[None, :]
    x = tl.load(X + offs, mask=mask, other=0.0).to(ACC)
    b2 = tl.load(B2 + n, mask=n < N, other=0.0).to(ACC)
    tl.store(Y + offs, (x + z + b2[:, None]).to(Y.dtype.element_ty), mask=mask)


@triton.jit
def _token_mix_bwd_data(X, DY, DL, Mean, Rstd, Gamma, Beta, W1, B1, W2, N, D, R,
                        ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_N: tl.constexpr,
                        BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_R: tl.constexpr):
    """dL = W1ᵀ · (GELU'(H) ⊙ (W2ᵀ · dY)) for one (b, channel block); DL is float (B, N, D)."""
    b, d0 = tl.program_id(0), tl.program_id(1) * BLOCK_D
    DT = X.dtype.element_ty
    n = tl.arange(0, BLOCK_N)
    dl = tl.zeros((BLOCK_N, BLOCK_D), dtype=ACC)
    for r0 in range(0, R, BLOCK_R):
        r = r0 + tl.arange(0, BLOCK_R)
        w1t = tl.load(W1 + r[None, :] * N + n[:, None], mask=(n < N)[:, None] & (r < R)[None, :], other=0.0)
        b1 = tl.load(B1 + r, mask=r < R, other=0.0).to(ACC)                                  # W1ᵀ[n, r]
        h = _w_times_cols(X, Mean, Rstd, Gamma, Beta, W1, b, d0, N, D, R, r0, N, 1, True,   # W1 · LN(X)
                          ACC, PRECISION, BLOCK_K, BLOCK_D, BLOCK_R) + b1[:, None]
        da = _w_times_cols(DY, Mean, Rstd, Gamma, Beta, W2, b, d0, N, D, R, r0, 1, R, False,  # W2ᵀ · dY
                           ACC, PRECISION, BLOCK_K, BLOCK_D, BLOCK_R)                          # (BLOCK_R, BLOCK_D)
        dh = da * gelu_grad(h)
        dl += tl.dot(w1t.to(DT), dh.to(DT), input_precision=PRECISION).to(ACC)            # (BLOCK_N, BLOCK_D)
    d = d0 + tl.arange(0, BLOCK_D)
    tl.store(DL + b * N * D + n[:, None] * D + d[None, :], dl, mask=(n < N)[:, None] & (d < D)[None, :])


@triton.jit
def _token_mix_bwd_weights(X, DY, Mean, Rstd, Gamma, Beta, W1, B1, W2,
                           DW1p, DW2p, DB1p, DB2p,   # partials: (P, R, N), (P, N, R), (P, R), (P, N)
                           B, N, D, R,
                           ACC: tl.constexpr, PRECISION: tl.constexpr, BLOCK_N: tl.constexpr,
                           BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_R: tl.constexpr):
    """Program (i, p, j): hidden rows r in chunk i, tiles t = p, p + P, ... of the B·cdiv(D, BLOCK_D),
    weight columns n in chunk j of BLOCK_N positions (one chunk unless N is wider than BLOCK_N)."""
    pid_r, p, P = tl.program_id(0), tl.program_id(1), tl.num_programs(1)
    DT = X.dtype.element_ty
    n = tl.program_id(2) * BLOCK_N + tl.arange(0, BLOCK_N)
    r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    w_mask = (r < R)[:, None] & (n < N)[None, :]                   # (BLOCK_R, BLOCK_N)
    b1 = tl.load(B1 + r, mask=r < R, other=0.0).to(ACC)
    dw1 = tl.zeros((BLOCK_R, BLOCK_N), dtype=ACC)                  # Σ dH · Lᵀ
    dw2t = tl.zeros((BLOCK_R, BLOCK_N), dtype=ACC)                 # Σ A · dYᵀ  (= dW2ᵀ)
    db1 = tl.zeros((BLOCK_R,), dtype=ACC)
    db2 = tl.zeros((BLOCK_N,), dtype=ACC)
    n_dblk = tl.cdiv(D, BLOCK_D)
    for t in range(p, B * n_dblk, P):
        b, d0 = t // n_dblk, (t % n_dblk) * BLOCK_D
        x, ln, offs, mask = _load_ln_tile(X, Mean, Rstd, Gamma, Beta, b, tl.program_id(2) * BLOCK_N, d0, N, D,
                                          ACC, BLOCK_N, BLOCK_D)
        dy = tl.load(DY + offs, mask=mask, other=0.0)              # (BLOCK_N, BLOCK_D)
        h = _w_times_cols(X, Mean, Rstd, Gamma, Beta, W1, b, d0, N, D, R, pid_r * BLOCK_R, N, 1, True,
                          ACC, PRECISION, BLOCK_K, BLOCK_D, BLOCK_R) + b1[:, None]   # W1 · LN(X): (BLOCK_R, BLOCK_D)
        a = gelu(h)
        dh = _w_times_cols(DY, Mean, Rstd, Gamma, Beta, W2, b, d0, N, D, R, pid_r * BLOCK_R, 1, R, False,
                           ACC, PRECISION, BLOCK_K, BLOCK_D, BLOCK_R) * gelu_grad(h)  # (W2ᵀ · dY) ⊙ GELU'(H)
        # padded channels d >= D: L = 0 and dY = 0 there, so they add nothing below
        dw1 += tl.dot(dh.to(DT), tl.trans(ln.to(DT)), input_precision=PRECISION).to(ACC)  # (BLOCK_R, BLOCK_N)
        dw2t += tl.dot(a.to(DT), tl.trans(dy.to(DT)), input_precision=PRECISION).to(ACC)  # (BLOCK_R, BLOCK_N)
        db1 += tl.sum(dh, axis=1)                                  # rows r >= R: H = 0, dH = 0
        db2 += tl.sum(dy.to(ACC), axis=1)
    tl.store(DW1p + p * R * N + r[:, None] * N + n[None, :], dw1, mask=w_mask)
    tl.store(DW2p + p * N * R + n[None, :] * R + r[:, None], dw2t, mask=w_mask)
    tl.store(DB1p + p * R + r, db1, mask=(r < R) & (tl.program_id(2) == 0))   # one N-chunk writes dB1
    tl.store(DB2p + p * N + n, db2, mask=(n < N) & (pid_r == 0))   # one R-chunk writes dB2


def token_mix_forward(x, gamma, beta, w1, b1, w2, b2, eps=1e-5):
    """Launch the forward. Returns y (B, N, D) and the LayerNorm statistics (mean, rstd), (B, N)."""
    check_x("token_mix", x)
    B, N, D = x.shape
    R = w1.shape[0] if isinstance(w1, torch.Tensor) and w1.dim() == 2 else "R"
    check_params("token_mix", x, {"gamma": (gamma, (D,)), "beta": (beta, (D,)), "w1": (w1, (R, N)),
                                  "b1": (b1, (R,)), "w2": (w2, (N, R)), "b2": (b2, (N,))})
    x, gamma, beta, w1, b1, w2, b2 = (t.contiguous() for t in (x, gamma, beta, w1, b1, w2, b2))
    launch = configs.token_mix(N, D, R, x.dtype)
    mean, rstd = ln_stats(x, eps, launch["_ln_stats_kernel"])
    y = torch.empty_like(x)
    cfg = launch["_token_mix_fwd"]
    grid = (B, triton.cdiv(D, cfg["BLOCK_D"]))
    _token_mix_fwd[grid](x, y, mean, rstd, gamma, beta, w1, b1, w2, b2, N, D, R, **cfg)
    return y, mean, rstd


def token_mix_backward(dy, x, gamma, beta, w1, b1, w2, b2, mean, rstd):
    """Launch the backward kernels. Returns (dx, dgamma, dbeta, dw1, db1, dw2, db2)."""
    B, N, D = x.shape
    R = w1.shape[0]
    dy = dy.contiguous()
    launch = configs.token_mix(N, D, R, x.dtype)
    cfg = launch["_token_mix_bwd_data"]
    dl = torch.empty(x.shape, device=x.device, dtype=torch_acc_dtype(x.dtype))   # dLN, (B, N, D)
    _token_mix_bwd_data[(B, triton.cdiv(D, cfg["BLOCK_D"]))](
        x, dy, dl, mean, rstd, gamma, beta, w1, b1, w2, N, D, R, **cfg)
    dx, dgamma, dbeta = ln_backward(x, dy, dl, mean, rstd, gamma, launch["_ln_backward_kernel"])

    cfg = launch["_token_mix_bwd_weights"]
    n_dblk, n_rblk = triton.cdiv(D, cfg["BLOCK_D"]), triton.cdiv(R, cfg["BLOCK_R"])
    P = reduction_programs(B * n_dblk, n_rblk, x.device)
    part = lambda *shape: torch.zeros((P, *shape), device=x.device, dtype=dl.dtype)  # noqa: E731
    dw1p, dw2p, db1p, db2p = part(R, N), part(N, R), part(R), part(N)
    _token_mix_bwd_weights[(n_rblk, P, triton.cdiv(N, cfg["BLOCK_N"]))](x, dy, mean, rstd, gamma, beta, w1, b1, w2,
                                        dw1p, dw2p, db1p, db2p, B, N, D, R, **cfg)
    dw1, db1, dw2, db2 = (t.sum(0).to(x.dtype) for t in (dw1p, db1p, dw2p, db2p))   # fixed-order sums
    return dx, dgamma.to(x.dtype), dbeta.to(x.dtype), dw1, db1, dw2, db2


class TokenMix(torch.autograd.Function):
    """y = x + W2 · GELU(W1 · LN(x) + b1) + b2 along N; saves x, the parameters and (mean, rstd)."""

    @staticmethod
    def forward(ctx, x, gamma, beta, w1, b1, w2, b2, eps):
        y, mean, rstd = token_mix_forward(x, gamma, beta, w1, b1, w2, b2, eps)
        ctx.save_for_backward(*(t.contiguous() for t in (x, gamma, beta, w1, b1, w2, b2)), mean, rstd)
        return y

    @staticmethod
    def backward(ctx, dy):
        return (*token_mix_backward(dy, *ctx.saved_tensors), None)   # no gradient for eps


def token_mix(x, gamma, beta, w1, b1, w2, b2, eps=1e-5):
    """Fused token mixing (differentiable). x (B, N, D); w1 (R, N); b1 (R,); w2 (N, R); b2 (N,);
    eps: the LayerNorm epsilon (the model passes cfg.ln_eps)."""
    return TokenMix.apply(x, gamma, beta, w1, b1, w2, b2, float(eps))


# Check against the NumPy reference: TRITON_INTERPRET=1 python -m tiny_mmmlp.kernels.token_mixing
if __name__ == "__main__":
    from tiny_mmmlp.reference import mixing as reference

    from .support import report_against_reference

    B, N, D, R = 2, 37, 45, 50
    report_against_reference(token_mix, reference.token_mix_forward, reference.token_mix_backward,
                             [(B, N, D), (D,), (D,), (R, N), (R,), (N, R), (N,)],
                             ["dx", "dgamma", "dbeta", "dw1", "db1", "dw2", "db2"])
