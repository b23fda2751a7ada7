"""What the fused kernels accept, how launches are sized, and the tolerance table.

- Devices: CUDA (float32, bfloat16), or the CPU under ``TRITON_INTERPRET=1`` (float32, and
  float64 so that ``torch.autograd.gradcheck`` can run in double precision). Triton reads
  ``TRITON_INTERPRET`` when a kernel module is imported, so set it before importing
  ``tiny_mmmlp.kernels``.
- Shapes: N from 1 to 1024, D from 1 to 512, any hidden width R >= 1; blocks are padded to
  powers of two (at least 16, the smallest ``tl.dot`` tile on a GPU) and masked. The limits
  are the widths ``benchmarks/results/kernel_resources-widths.md`` shows to compile for
  sm_80/sm_90a without spilling or overflowing shared memory (the rows of the tile tables in
  ``configs``); channel mixing holds whole rows of D features and spills at D = 1024.
- Accumulation is float32 (float64 for float64 inputs). float32 matmuls follow torch's
  setting: TF32 tensor cores only when ``torch.get_float32_matmul_precision() != "highest"``.
"""
from __future__ import annotations

import os

import torch
import triton.language as tl

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"   # read once, as triton.jit does
MAX_N = 1024                                             # largest N (see Shapes above)
MAX_D = 512                                              # largest D
CUDA_DTYPES = (torch.float32, torch.bfloat16)
INTERPRETER_DTYPES = (torch.float32, torch.float64)

# Tolerances against the float64 NumPy reference: |got - want| <= atol * scale + rtol * |want|,
# scale = max(1, max |want|) of that tensor. In float32 the worst error seen over 300 random
# problems of the test sizes was 1.3e-6 (dW1), so 3e-5 leaves a 20x margin; bfloat16 rounds
# every matmul operand and the output to 8 bits of mantissa (relative 4e-3).
TOLERANCES = {
    torch.float64: dict(rtol=1e-9, atol=1e-9),
    torch.float32: dict(rtol=3e-5, atol=3e-5),
    torch.bfloat16: dict(rtol=5e-2, atol=5e-2),
}


def is_available(device="cuda") -> bool:
    """True when the kernels can run on ``device``: a CUDA GPU, or the CPU under TRITON_INTERPRET=1."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and not INTERPRET
    return device.type == "cpu" and INTERPRET


def check_x(op: str, x) -> None:
    """Raise ValueError (one clear sentence) unless x is a (B, N, D) tensor the kernels accept."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"{op}: x must be a (B, N, D) tensor, got {getattr(x, 'shape', type(x))}.")
    if not is_available(x.device):
        why = "CUDA is not available" if x.device.type == "cuda" else "set TRITON_INTERPRET=1 before importing it"
        raise ValueError(f"{op}: the Triton kernels cannot run on device {x.device} ({why}).")
    allowed = INTERPRETER_DTYPES if INTERPRET else CUDA_DTYPES
    if x.dtype not in allowed:
        raise ValueError(f"{op}: dtype {x.dtype} is not supported on {x.device}; use one of {allowed}.")
    B, N, D = x.shape
    if min(B, N, D) < 1 or N > MAX_N or D > MAX_D or x.numel() >= 2**31:
        raise ValueError(f"{op}: x shape {tuple(x.shape)} unsupported; need B >= 1, 1 <= N <= {MAX_N}, "
                         f"1 <= D <= {MAX_D} (wider tiles spill on a GPU) and fewer than 2**31 elements.")


def check_params(op: str, x: torch.Tensor, params: dict) -> None:
    """Raise ValueError unless every params[name] = (tensor, expected shape) fits and matches x's
    dtype and device."""
    for name, (t, shape) in params.items():
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {getattr(t, 'shape', type(t))}.")
        if t.dtype != x.dtype or t.device != x.device:
            raise ValueError(f"{op}: {name} is {t.dtype} on {t.device}, but x is {x.dtype} on {x.device}.")


def block(n: int, cap: int = 1 << 30) -> int:
    """A power-of-two tile covering n (at least 16 for tl.dot, at most cap)."""
    return max(16, min(triton_next_pow2(n), cap))


def triton_next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def acc_dtype(dtype: torch.dtype):
    """Triton accumulation type for inputs of ``dtype`` (float32, or float64 for float64)."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def torch_acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def dot_precision(dtype: torch.dtype) -> str:
    """tl.dot input precision: "tf32" only for float32 when torch itself allows TF32 matmuls."""
    if dtype == torch.float32 and not INTERPRET and torch.get_float32_matmul_precision() != "highest":
        return "tf32"
    return "ieee" if dtype != torch.bfloat16 else "tf32"   # (ignored for bfloat16 operands)


def reduction_programs(n_work: int, n_other: int, device: torch.device) -> int:
    """How many programs share ``n_work`` tiles in a grid-stride loop that writes partial sums.

    Enough to fill the GPU about twice (with ``n_other`` programs along the other grid axis);
    2 under the interpreter, so that tests cross the partial-sum reduction.
    """
    if device.type != "cuda":
        return max(1, min(2, n_work))
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return max(1, min(n_work, (2 * sms + n_other - 1) // n_other))


def report_against_reference(fused, ref_forward, ref_backward, shapes, grad_names):
    """Run ``fused`` on random float32 inputs of ``shapes`` and print, per output and
    gradient, max |fused − NumPy reference| / max(1, max |reference|). Used by the
    ``python -m tiny_mmmlp.kernels.<half>`` checks at the bottom of each kernel file."""
    import numpy as np

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s) for s in shapes]
    dy = rng.standard_normal(shapes[0])
    ts = [torch.tensor(a, dtype=torch.float32, device=dev, requires_grad=True) for a in arrs]
    y = fused(*ts)
    y.backward(torch.tensor(dy, dtype=torch.float32, device=dev))
    want_y, cache = ref_forward(*arrs)
    for name, got, want in zip(["y", *grad_names], [y] + [t.grad for t in ts],
                               [want_y, *ref_backward(dy, cache)]):
        err = np.abs(got.detach().cpu().double().numpy() - want).max() / max(1.0, np.abs(want).max())
        print(f"{name:7s} max error / scale = {err:.2e}")
