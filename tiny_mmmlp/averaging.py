"""An exponential moving average of the weights (--ema DECAY), around any training backend.

After every optimizer step, for each parameter θ (floating point; other arrays are copied):

    θ̄ ← d · θ̄ + (1 − d) · θ,     θ̄ starts at the initial θ

Training updates θ as before; evaluation ranks with θ̄, and θ̄ is what the run keeps as its
best weights and saves in model.npz. With d = 0.999 the average spans about the last 1/(1 − d)
= 1000 steps. A checkpoint holds both: θ as the backend's own state, θ̄ beside it, so that
--resume continues exactly.
"""
from __future__ import annotations

import numpy as np


def with_average(backend, decay: float):
    """``backend`` itself when decay is 0 (off); else a ``WeightAverage`` around it."""
    return WeightAverage(backend, decay) if decay else backend


class WeightAverage:
    """The backend's interface (see ``tiny_mmmlp.backends``), its weights replaced by θ̄ for
    ``ranks``, ``params`` and ``load_params``."""

    def __init__(self, backend, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must lie in (0, 1), got {decay}")
        self.backend, self.decay = backend, decay
        self.average = backend.params()                     # θ̄ = θ at the start

    def __getattr__(self, name):                            # name, set_lr, model, ...
        return getattr(self.backend, name)

    def step(self, item_seq, targets):
        loss = self.backend.step(item_seq, targets)
        d = self.decay
        for k, theta in self.backend.params().items():
            avg = self.average[k]
            if np.issubdtype(avg.dtype, np.floating):
                avg *= d
                avg += theta * (1.0 - d)                    # θ̄ ← d θ̄ + (1 − d) θ
            else:
                avg[...] = theta
        return loss

    def ranks(self, *args, **kwargs):
        """The backend's ranks with θ̄ in place of θ, which is put back afterwards."""
        theta = self.backend.params()
        self.backend.load_params(self.average)
        try:
            return self.backend.ranks(*args, **kwargs)
        finally:
            self.backend.load_params(theta)

    def params(self):
        """θ̄: the weights that are evaluated, kept as the best and saved."""
        return {k: v.copy() for k, v in self.average.items()}

    def load_params(self, params):
        """θ̄ and θ both set to ``params`` (a best copy before the test, or a checkpoint's θ̄,
        whose θ ``load_state`` then restores)."""
        self.backend.load_params(params)
        self.average = self.backend.params()

    def state(self):
        return {**self.backend.state(), "trained_weights": self.backend.params()}

    def load_state(self, state):
        self.backend.load_state({k: v for k, v in state.items() if k != "trained_weights"})
        self.backend.load_params(state["trained_weights"])
