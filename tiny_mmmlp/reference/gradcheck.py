"""Numerical gradients by central differences, and the relative error tests report.

    ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h
    rel_error(a, b) = ‖a − b‖ / max(‖a‖ + ‖b‖, 1e-8)

Use float64: with float32 the rounding error of f swamps the difference quotient.
"""
from __future__ import annotations

import numpy as np


def numeric_gradient(f, x, h=1e-6):
    """Gradient of the scalar function ``f()`` with respect to the array ``x`` (edited in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b, floor=1e-8) -> float:
    """‖a − b‖ / max(‖a‖ + ‖b‖, floor): about 1e-8 or less for a right float64 gradient.

    The floor compares gradients that are truly zero (a bias whose effect a later LayerNorm
    removes, say) absolutely: there both sides are rounding noise near 1e-16.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, floor))


def check_layer(forward, backward, inputs, dout=None, seed=0, h=1e-6):
    """Compare a layer pair's analytic gradients with numeric ones.

    forward(*inputs) -> (out, cache); backward(dout, cache) -> gradients in input order
    (None for an input with no gradient). The scalar checked is Σ out ⊙ dout, with dout a
    random non-uniform upstream gradient. Returns a list of relative errors, one per input
    with a gradient.
    """
    out, cache = forward(*inputs)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    errors = []
    for x, g in zip(inputs, grads):
        if g is None:
            continue
        num = numeric_gradient(lambda: float(np.sum(forward(*inputs)[0] * dout)), x, h)
        errors.append(rel_error(g, num))
    return errors
