"""tanh-GELU and its derivative as Triton device functions, shared by both mixer kernels.

    GELU(h)  = 0.5 · h · (1 + t),            t = tanh(k · (h + c·h³)),  k = √(2/π),  c = 0.044715
    GELU'(h) = 0.5 · (1 + t) + 0.5 · h · (1 − t²) · k · (1 + 3c·h²)

The same formulas as ``tiny_mmmlp/reference/elementwise.py``. tanh is written with ``tl.exp``
because the name of Triton's own tanh moved between releases (``tl.math`` / libdevice):

    tanh(u) = sign(u) · (1 − e) / (1 + e),   e = exp(−2|u|)

e lies in (0, 1], so nothing overflows, and the tails go to ±1 exactly.
"""
import triton
import triton.language as tl


@triton.jit
def tanh(u):
    """tanh(u) = sign(u) (1 − e) / (1 + e), e = exp(−2|u|), element-wise."""
    e = tl.exp(-2.0 * tl.abs(u))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(u >= 0, t, -t)


@triton.jit
def gelu(h):
    """GELU(h) = 0.5 h (1 + tanh(k (h + c h³))), element-wise; k = √(2/π), c = 0.044715."""
    t = tanh(0.7978845608028654 * (h + 0.044715 * h * h * h))
    return 0.5 * h * (1.0 + t)


@triton.jit
def gelu_grad(h):
    """dGELU/dh = 0.5 (1 + t) + 0.5 h (1 − t²) k (1 + 3 c h²),  t = tanh(k (h + c h³))."""
    t = tanh(0.7978845608028654 * (h + 0.044715 * h * h * h))
    dt = 0.5 * h * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * h * h)
    return 0.5 * (1.0 + t) + dt
