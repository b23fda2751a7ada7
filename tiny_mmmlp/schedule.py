"""Learning-rate schedules: linear warm-up, then constant or cosine decay.

For optimizer step s (0-based) of S in all (S = epochs × batches per epoch), warm-up W steps:

    warm-up   lr(s) = lr · (s + 1) / W                               for s < W
    constant  lr(s) = lr                                             for s ≥ W
    cosine    lr(s) = lr · ½ (1 + cos(π · (s − W) / max(S − W, 1)))   for s ≥ W

Every backend gets the same value through ``backend.set_lr`` before each step.
"""
from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def lr_at(step: int, total: int, lr: float, warmup: int = 0, kind: str = "constant") -> float:
    """The learning rate of optimizer step ``step`` (0-based) of ``total``."""
    if kind not in SCHEDULES:
        raise ValueError(f"schedule {kind!r}: choose one of {', '.join(SCHEDULES)}")
    if step < warmup:
        return lr * (step + 1) / warmup
    if kind == "cosine":
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return lr
