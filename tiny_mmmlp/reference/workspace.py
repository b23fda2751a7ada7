"""Workspaces: the arrays a training step writes, allocated once and written in place.

A step of the reference makes dozens of activation-sized arrays (B, N, D), (B, V + 1), ...
Allocated anew every step, each one is mapped fresh by the C library and handed back to
the operating system when freed, so every step faults its pages in again: system time
instead of arithmetic. A ``Workspace`` keeps them instead. Every layer takes a ``ws`` and
writes its outputs with ``out=ws(name, shape, dtype)``:

    h = np.matmul(w1, ln, out=ws("h", (B, R, D), ln.dtype))     # h = W1 · LN(X)

The first request for a name allocates it; later requests hand back the same memory (the
first prod(shape) elements of one flat buffer, grown if a larger shape comes), so a
smaller last batch reuses it too. Names are scoped like the parameters
(``ws.scope("text.blocks.0").scope("token")`` -> "text.blocks.0.token.h").

``FRESH``, the default everywhere, allocates a new array on every request: a layer called
on its own (tests, gradient checks, tutorials) behaves like plain NumPy. With a real
workspace, the arrays of one step (gradients included) are overwritten by the next: use
or copy them before the next call. One workspace per thread.
"""
from __future__ import annotations

import math

import numpy as np


class Workspace:
    """Named, reusable arrays. ``ws(name, shape, dtype)`` -> an (uninitialized) array."""

    def __init__(self, prefix: str = "", buffers: dict | None = None):
        self.prefix = prefix
        self.buffers = {} if buffers is None else buffers      # full name -> flat array

    def __call__(self, name: str, shape: tuple, dtype) -> np.ndarray:
        key, size = self.prefix + name, math.prod(shape)
        buf = self.buffers.get(key)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self.buffers[key] = np.empty(size, dtype)
        return buf[:size].reshape(shape)

    def scope(self, name: str) -> "Workspace":
        """The same buffers, with names under ``name.``."""
        return Workspace(f"{self.prefix}{name.rstrip('.')}.", self.buffers)

    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers.values())


class Fresh:
    """The default: a new array on every request, nothing kept."""

    def __call__(self, name: str, shape: tuple, dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def scope(self, name: str) -> "Fresh":
        return self


FRESH = Fresh()
