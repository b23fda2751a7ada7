"""Checks before a run starts: the device exists, and the run fits in memory.

``check_device`` refuses a --device the backend cannot use (a name torch does not parse,
CUDA on a machine without it, anything but cpu for the NumPy backend) before any data is
loaded or features built. ``check_memory`` estimates the big buffers up front, so that
impossible sizes end in one sentence, not a crash.

The big buffers of a run, in float32 (4 bytes), with V items, D = d_model, N = max_len,
B = batch size, E = evaluation batch, F = the summed raw feature widths and M the number of branches:

    parameters, gradients, two AdamW moments, best copy:   5 · 4 · (V·D + F·D + per-block weights)
    with --ema, the average and θ's copy while it ranks:   2 · 4 · (the same)
    feature tables:                                       4 · V · F
    training scores, softmax and its gradient:            3 · 4 · B · V
    evaluation scores (batches of E users):               2 · 4 · E · V
    activations kept for the backward pass (about):        12 · 4 · B · N · max(D, r_D, r_N) · M · layers

It is a lower bound (interpreters and libraries take more), so it only refuses runs that
cannot fit.
"""
from __future__ import annotations

from .errors import UserError


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None (no check)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def estimate_bytes(cfg, n_items: int, feature_widths: list, batch_size: int, eval_batch: int,
                   averaged: bool = False) -> int:
    """The module docstring's sum, in bytes; ``averaged``: the run keeps a weight average (--ema)."""
    V, D, N, B = n_items + 1, cfg.d_model, cfg.max_len, batch_size
    F = sum(feature_widths)
    branches = len(feature_widths) + (1 if cfg.id_branch else 0)
    layers = branches * cfg.n_layers + cfg.fusion_layers
    block = 2 * N * cfg.token_hidden + 2 * D * cfg.channel_hidden
    params = V * D + F * D + layers * block
    wide = max(D, cfg.channel_hidden, cfg.token_hidden)
    copies = 5 + (2 if averaged else 0)
    return 4 * (copies * params + V * F + 3 * B * V + 2 * eval_batch * V + 12 * B * N * wide * max(layers, 1))


def check_memory(cfg, n_items: int, feature_widths: list, batch_size: int, eval_batch: int,
                 averaged: bool = False) -> None:
    need = estimate_bytes(cfg, n_items, feature_widths, batch_size, eval_batch, averaged)
    have = available_bytes()
    if have is not None and need > have:
        raise UserError(f"this run needs at least {need / 2**30:.1f} GiB of memory for its embedding, "
                        f"activation and score matrices but {have / 2**30:.1f} GiB is available; lower "
                        f"--d-model, --batch-size, --eval-batch-size, --max-len or the hidden widths")


def check_device(backend: str, device) -> None:
    """Refuse a --device the backend cannot use, before any data is loaded or features built."""
    if device is None:
        return
    if backend == "numpy":
        if device != "cpu":
            raise UserError(f"--device {device}: the numpy backend runs on the CPU only")
        return
    try:
        import torch
    except ImportError:
        raise UserError(f"--backend {backend} needs PyTorch; install the build for your hardware "
                        f"first, as the README says (CPU: pip install torch==2.13.0)") from None
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise UserError(f"--device {device}: not a device torch knows (use cpu, cuda or cuda:0)") from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"--device {device}: this backend runs on cpu or cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine")
