"""An exponential moving average of the weights (--ema DECAY), around any training backend.

After every optimizer step, for each parameter θ (floating point; other arrays are copied):

    θ̄ ← d · θ̄ + (1 − d) · θ,     θ̄ starts at the initial θ

Training updates θ as before; evaluation ranks with θ̄, and θ̄ is what the run keeps as its
best weights and saves in model.safetensors. With d = 0.999 the average spans about the last
1/(1 − d) = 1000 steps. A checkpoint holds both: θ as the backend's own state, θ̄ beside it, so that
--resume continues exactly.

With a warm-up (--ema-warmup K, an integer K >= 2) the decay of step t (t = 0, 1, ...) is

    d_t = min(d, (1 + t) / (K + t))

so that early on θ̄ does not lean on the initial weights for its first 1/(1 − d) steps: until
d_t reaches d, θ̄ weighs step s of the t so far about as (s / t)^(K − 2), a span of about the
last 1/(K − 1) of the steps. K = 2 is the plain mean of all weights so far; K = 10 is the rule
of TensorFlow's ExponentialMovingAverage with num_updates (the last tenth; d_t reaches 0.999
after 8,990 steps), K = 3 the last half (0.999 after 1,997 steps).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import numpy as np


def with_average(backend, decay: float, warmup: int = 0):
    """``backend`` itself when decay is 0 (off); else a ``WeightAverage`` around it."""
    return WeightAverage(backend, decay, warmup) if decay else backend


def evaluated_weights(backend):
    """A context for a whole evaluation pass: θ̄ swapped in once for all its batches when
    ``backend`` is a ``WeightAverage`` (else nothing to do)."""
    return backend.averaged() if isinstance(backend, WeightAverage) else nullcontext()


class WeightAverage:
    """The backend's interface (see ``tiny_mmmlp.backends``), its weights replaced by θ̄ for
    ``ranks``, ``params`` and ``load_params``."""

    def __init__(self, backend, decay: float, warmup: int = 0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must lie in (0, 1), got {decay}")
        if warmup and warmup < 2:
            raise ValueError(f"the warm-up's K must be 0 (off) or at least 2, got {warmup}")
        self.backend, self.decay, self.warmup = backend, decay, warmup
        self.steps = 0                                      # t: averaging steps taken so far
        self.average = _copies(backend.live_params())        # θ̄ = θ at the start
        self.swapped = False                                # θ̄ is in the backend's arrays now

    def __getattr__(self, name):                            # name, set_lr, model, ...
        return getattr(self.backend, name)

    def step(self, item_seq, targets):
        """The backend's step, then the average's, on the backend's own arrays (on a GPU the
        average stays there: nothing is copied to the host per step)."""
        loss = self.backend.step(item_seq, targets)
        d = self.decay_now()
        self.steps += 1
        for k, theta in self.backend.live_params().items():
            avg = self.average[k]
            if _floating(avg):
                avg *= d
                avg += theta * (1.0 - d)                    # θ̄ ← d θ̄ + (1 − d) θ
            else:
                avg[...] = theta
        return loss

    def decay_now(self) -> float:
        """d_t of the next step: d, or with the warm-up K min(d, (1 + t) / (K + t))."""
        t = self.steps
        return min(self.decay, (1 + t) / (self.warmup + t)) if self.warmup else self.decay

    @contextmanager
    def averaged(self):
        """Within: the backend's arrays hold θ̄; θ is put back on leaving (copies within the
        backend's own arrays, on its device). Nested uses swap once."""
        if self.swapped:
            yield
            return
        live = self.backend.live_params()
        theta = _copies(live)
        _assign(live, self.average)
        self.swapped = True
        try:
            yield
        finally:
            _assign(live, theta)
            self.swapped = False

    def ranks(self, *args, **kwargs):
        """The backend's ranks with θ̄ in place of θ."""
        with self.averaged():
            return self.backend.ranks(*args, **kwargs)

    def params(self):
        """θ̄ as NumPy arrays: the weights that are evaluated, kept as the best and saved."""
        return {k: _host_copy(v) for k, v in self.average.items()}

    def load_params(self, params):
        """θ̄ and θ both set to ``params`` (a best copy before the test, or a checkpoint's θ̄,
        whose θ ``load_state`` then restores)."""
        self.backend.load_params(params)
        self.average = _copies(self.backend.live_params())

    def state(self):
        return {**self.backend.state(), "trained_weights": self.backend.params(),
                "average_steps": self.steps}

    def load_state(self, state):
        own = ("trained_weights", "average_steps")
        self.backend.load_state({k: v for k, v in state.items() if k not in own})
        self.backend.load_params(state["trained_weights"])
        self.steps = int(state.get("average_steps", 0))     # 0: saved before the warm-up existed


# The average holds arrays of the backend's own kind: NumPy arrays (numpy backend) or torch
# tensors on the backend's device (torch, triton). These helpers are all that differ.

def _copies(arrays):
    return {k: v.copy() if isinstance(v, np.ndarray) else v.clone() for k, v in arrays.items()}


def _floating(a):
    return np.issubdtype(a.dtype, np.floating) if isinstance(a, np.ndarray) else a.is_floating_point()


def _host_copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a.detach().cpu().numpy().copy()


def _assign(destination, source):
    for k, v in destination.items():
        v[...] = source[k]
