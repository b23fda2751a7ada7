"""Element-wise layers: tanh-GELU and inverted dropout.

Every backend uses this one GELU, the tanh form, so that they agree exactly:

    GELU(x) = 0.5 · x · (1 + tanh(k · (x + 0.044715 · x³))),   k = √(2/π)
"""
from __future__ import annotations

import numpy as np

GELU_K = float(np.sqrt(2.0 / np.pi))  # k = √(2/π)
GELU_C = 0.044715


def gelu_forward(x):
    """GELU(x) = 0.5 x (1 + tanh(k (x + c x³))), element-wise.

    x: any shape.  Returns (out, cache) with out of x's shape.
    The arithmetic is done in place on one buffer to keep memory traffic low.
    """
    t = x * x                                   # x²
    t *= GELU_K * GELU_C
    t += GELU_K                                 # k (1 + c x²)
    t *= x                                      # k (x + c x³)
    np.tanh(t, out=t)                           # t = tanh(k (x + c x³))
    out = t + 1.0
    out *= x
    out *= 0.5                                  # 0.5 x (1 + t)
    return out, (x, t)


def gelu_backward(dout, cache):
    """dGELU/dx = 0.5 (1 + t) + 0.5 x (1 − t²) k (1 + 3 c x²),  t = tanh(k (x + c x³)).

    dout: upstream gradient, x's shape.  Returns dx.
    """
    x, t = cache
    s = x * x                                   # x²
    s *= 3.0 * GELU_C * GELU_K
    s += GELU_K                                 # k (1 + 3 c x²)
    s *= x
    s *= 1.0 - t * t                            # x (1 − t²) k (1 + 3 c x²)
    s += t
    s += 1.0
    s *= 0.5                                    # 0.5 (1 + t) + 0.5 x (1 − t²) k (1 + 3 c x²)
    s *= dout
    return s


def dropout_forward(x, p, rng):
    """Inverted dropout: out = x · m / (1 − p),  m ~ Bernoulli(1 − p), drawn from ``rng``.

    x: any shape; p: drop rate in [0, 1); rng: np.random.Generator (seed it to repeat a mask).
    With p == 0 the layer is the identity and draws nothing. Returns (out, cache).
    """
    if p == 0:
        return x, None
    keep = rng.random(x.shape, dtype=np.float32) >= p              # (same as x)
    scale = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * scale, scale


def dropout_backward(dout, cache):
    """d(x · m/(1−p))/dx = m/(1−p): the same mask scales the gradient. Returns dx."""
    scale = cache
    return dout if scale is None else dout * scale
