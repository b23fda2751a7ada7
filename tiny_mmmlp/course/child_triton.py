"""The Triton exercises' harness in the grader's child (``child.py``), run under TRITON_INTERPRET=1.

The student's device function is called from a small kernel of this file, which applies
it to a vector. Standalone like ``child.py``: it imports torch and triton, not the package.
"""
import torch
import triton
import triton.language as tl

student_gelu_grad = None   # the device function under test; the kernel below calls it


@triton.jit
def _apply_gelu_grad(H, OUT, n, BLOCK: tl.constexpr):
    """OUT[i] = student_gelu_grad(H[i]) for i < n."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    h = tl.load(H + i, mask=i < n, other=0.0)
    tl.store(OUT + i, student_gelu_grad(h), mask=i < n)


def apply_gelu_grad(fn, x):
    global student_gelu_grad
    student_gelu_grad = fn
    h = torch.tensor(x, dtype=torch.float64)
    out = torch.full_like(h, float("nan"))
    _apply_gelu_grad[(triton.cdiv(x.size, 64),)](h, out, x.size, BLOCK=64)
    return out.numpy()
