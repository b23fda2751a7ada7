"""Element-wise layers: tanh-GELU and inverted dropout.

Every backend uses this one GELU, the tanh form, so that they agree exactly:

    GELU(x) = 0.5 · x · (1 + tanh(k · (x + 0.044715 · x³))),   k = √(2/π)

Each function writes its results into ``ws`` (see ``workspace``; default: new arrays).
"""
from __future__ import annotations

import numpy as np

from .workspace import FRESH

GELU_K = float(np.sqrt(2.0 / np.pi))  # k = √(2/π)
GELU_C = 0.044715


def gelu_forward(x, ws=FRESH):
    """GELU(x) = 0.5 x (1 + tanh(k (x + c x³))), element-wise.

    x: any shape.  Returns (out, cache) with out of x's shape; the cache holds x and t.
    The arithmetic is done in place on two buffers to keep memory traffic low.
    """
    t = np.multiply(x, x, out=ws("t", x.shape, x.dtype))     # x²
    t *= GELU_K * GELU_C
    t += GELU_K                                 # k (1 + c x²)
    t *= x                                      # k (x + c x³)
    np.tanh(t, out=t)                           # t = tanh(k (x + c x³))
    out = np.add(t, 1.0, out=ws("out", x.shape, x.dtype))
    out *= x
    out *= 0.5                                  # 0.5 x (1 + t)
    return out, (x, t)


def gelu_backward(dout, cache, ws=FRESH):
    """dGELU/dx = 0.5 (1 + t) + 0.5 x (1 − t²) k (1 + 3 c x²),  t = tanh(k (x + c x³)).

    dout: upstream gradient, x's shape.  Returns dx = dout ⊙ dGELU/dx.
    """
    x, t = cache
    s = np.multiply(x, x, out=ws("dx", x.shape, x.dtype))    # x²
    s *= 3.0 * GELU_C * GELU_K
    s += GELU_K                                 # k (1 + 3 c x²)
    s *= x
    one_minus_t2 = np.multiply(t, t, out=ws("1-t2", x.shape, x.dtype))
    np.subtract(1.0, one_minus_t2, out=one_minus_t2)          # 1 − t²
    s *= one_minus_t2                           # x (1 − t²) k (1 + 3 c x²)
    s += t
    s += 1.0
    s *= 0.5                                    # 0.5 (1 + t) + 0.5 x (1 − t²) k (1 + 3 c x²)
    s *= dout
    return s


def dropout_forward(x, p, rng, ws=FRESH):
    """Inverted dropout: out = x · m / (1 − p),  m ~ Bernoulli(1 − p), drawn from ``rng``.

    x: any shape; p: drop rate in [0, 1); rng: np.random.Generator (seed it to repeat a mask).
    With p == 0 the layer is the identity and draws nothing. Returns (out, cache).
    """
    if p == 0:
        return x, None
    draw = rng.random(dtype=np.float32, out=ws("draw", x.shape, np.float32))   # uniform [0, 1)
    scale = ws("scale", x.shape, x.dtype)
    np.greater_equal(draw, p, out=scale)                      # m: 1 keeps, 0 drops
    scale /= x.dtype.type(1.0 - p)                            # m / (1 − p)
    return np.multiply(x, scale, out=ws("out", x.shape, x.dtype)), scale


def dropout_backward(dout, cache, ws=FRESH):
    """d(x · m/(1−p))/dx = m/(1−p): the same mask scales the gradient. Returns dx."""
    scale = cache
    return dout if scale is None else np.multiply(dout, scale, out=ws("dx", dout.shape, dout.dtype))
