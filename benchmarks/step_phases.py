"""Where a NumPy training step's time goes, against what the machine can do: the helpers of
cpu_step.py.

- ``machine_figures``: np.tanh ns per element (65,536 float32) and the float32 matmul rate
  of 512x512 and 2048x2048 products, on one thread and on all.
- ``phase_flops``: the floating-point operations of one step of the reference, counted
  from the shapes, per phase: mixer blocks (their matmuls), head (the scores' three
  matmuls and the loss over V), optimizer (AdamW over every parameter), elementwise (GELU,
  LayerNorm and dropout inside the trunk; nominal operations per element, tanh counted as one).
- ``PhaseTimer``: the step's own time per phase (exclusive: GELU inside a block counts as
  elementwise, not as the block), by wrapping the reference's layer functions while it runs;
  in CPU seconds of the thread, which other work on a shared machine does not stretch.
"""
from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from tiny_mmmlp.params import block_prefixes, fused_width
from tiny_mmmlp.reference import layers, mixing, model, optim

PHASES = ("mixer blocks", "elementwise", "head", "optimizer", "other")
GELU_OPS = 8 + 11              # per element, forward + backward (elementwise.py, line by line)
LN_OPS = 7 + 10                # per element, forward + backward
DROPOUT_OPS = 3 + 1
ADAMW_OPS = 14                 # per parameter (optim.py: decay, two moments, the update)
LOSS_OPS = 9                   # per score, the label-smoothed softmax forward + backward


def _rate(f, flops, clock=time.thread_time, seconds=0.5):
    """flops per second of CPU time of ``clock`` (this thread's, or the process's: all threads)."""
    f()
    n, start = 0, clock()
    while clock() - start < seconds:
        f()
        n += 1
    return flops * n / (clock() - start)


def machine_figures() -> dict:
    """{"tanh_ns": ns per element, "mm512_1", "mm512_all", "mm2048_1", "mm2048_all": GFLOP/s}.

    One thread: per second of that thread's CPU time, so that a machine shared with other
    work (which takes the core away now and then) gives the core's own rate. All threads:
    per second of wall-clock time, which a busy machine lowers."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(65536).astype(np.float32)
    out = np.empty_like(x)
    figures = {"tanh_ns": 1e9 / _rate(lambda: np.tanh(x, out=out), 65536)}
    for n in (512, 2048):
        a = rng.standard_normal((n, n)).astype(np.float32)
        c = np.empty_like(a)
        with threadpool_limits(1, "blas"):
            figures[f"mm{n}_1"] = _rate(lambda: np.matmul(a, a, out=c), 2 * n**3) / 1e9
        wall = _rate(lambda: np.matmul(a, a, out=c), 2 * n**3, time.perf_counter) / 1e9
        figures[f"mm{n}_all"] = wall                                   # all threads: wall clock
    return figures


def phase_flops(cfg, B, V, n_params, branch_widths) -> dict:
    """FLOPs of one training step (forward + backward + AdamW) of ``B`` rows, per phase.

    A matmul (m, k) @ (k, n) is 2·m·k·n; its backward is two more of the same size.
    branch_widths: {branch: width D}; the fusion blocks run at D_f.
    """
    N, R_N, R_D = cfg.max_len, cfg.token_hidden, cfg.channel_hidden
    widths = [(b, D) for b, D in branch_widths.items()] + [("fusion", fused_width(cfg, len(branch_widths)))]
    mixer = elementwise = 0
    for b, D in widths:
        blocks = len(block_prefixes(cfg, b))
        mixer += blocks * 3 * 4 * B * N * D * (R_N + R_D)            # token W1, W2; channel W3, W4
        elementwise += blocks * B * (2 * N * D * LN_OPS + (R_N * D + N * R_D) * GELU_OPS)
        elementwise += (B * N * D * DROPOUT_OPS) if cfg.dropout else 0
    D = cfg.d_model
    head = 3 * 2 * B * D * (V + 1) + LOSS_OPS * B * V                 # scores, du, dcand; the loss
    return {"mixer blocks": mixer, "elementwise": elementwise, "head": head,
            "optimizer": ADAMW_OPS * n_params, "other": 0}


class PhaseTimer:
    """Exclusive CPU seconds (this thread's) per phase of the reference's steps run inside
    ``with timer:``; one shard, so the step runs in the calling thread."""

    TARGETS = {"mixer blocks": [(layers, "mixer_block_forward"), (layers, "mixer_block_backward")],
               "elementwise": [(mixing, "gelu_forward"), (mixing, "gelu_backward"),
                               (mixing, "layernorm_forward"), (mixing, "layernorm_backward"),
                               (layers, "dropout_forward"), (layers, "dropout_backward")],
               "head": [(layers, n) for n in ("candidates_forward", "candidates_backward", "prediction_forward",
                                              "prediction_backward", "history_bias_forward",
                                              "history_bias_backward")] + [(model.MMMLP, "_loss")],
               "optimizer": [(optim.AdamW, "step")]}

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.stack, self.saved = [], []

    def _wrap(self, phase, f):
        def timed(*args, **kwargs):
            self.stack.append(0.0)                                   # time of nested phases
            start = time.thread_time()
            try:
                return f(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                nested = self.stack.pop()
                self.seconds[phase] += spent - nested
                if self.stack:
                    self.stack[-1] += spent
        return timed

    def __enter__(self):
        for phase, targets in self.TARGETS.items():
            for owner, name in targets:
                f = getattr(owner, name)
                self.saved.append((owner, name, f))
                setattr(owner, name, self._wrap(phase, f))
        return self

    def __exit__(self, *exc):
        for owner, name, f in reversed(self.saved):
            setattr(owner, name, f)
        self.saved.clear()
