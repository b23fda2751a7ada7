"""What a training run is made of (``Run``) and what it has done so far (``RunRecord``).

``fit`` (train.py) builds one ``Run`` (the settings, the data, the backend, the folder) and
hands it to the epoch loop (training_loop.py) and to ``finish``. The loop keeps a
``RunRecord`` (epochs, history, best weights and metrics, seconds, peak memory); every
checkpoint saves it as a plain dict (``to_dict``), and ``--resume`` reads it back through
``from_saved``, which refuses a record of another shape (an edited checkpoint) up front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """Everything a run is built from, made once by ``fit`` and passed down whole."""
    cfg: object                # RunConfig, its ``out`` resolved
    group: object              # distributed.Group: this rank (a group of one without torchrun)
    ds: object                 # data.Dataset
    split: object              # data.Split: leave-one-out
    model_cfg: object          # MMMLPConfig of the chosen modalities
    backend: object            # the training backend, wrapped in the weight average
    out: Path                  # the run folder
    meta: dict                 # what the model file and the checkpoint record about the model
    feats: dict                # {modality: (V + 1, F) feature table}
    modalities: list           # the modalities read, "id" first
    auto_negatives: bool = False   # the sampled softmax is the catalogue's default, not asked for
    auto_dropout: bool = False     # the dropout is the training set's size's default, not asked for


@dataclass
class RunRecord:
    """The run so far; ``best_params`` are the weights of the best validation epoch."""
    best_params: dict
    epoch: int = 0
    history: list = field(default_factory=list)     # one record per epoch, epochs 1, 2, ...
    best: float = -1.0                              # the best validation NDCG@10
    bad_epochs: int = 0                             # epochs since the best, for --patience
    seconds: float = 0.0                            # training and validation time
    best_epoch: int | None = None
    best_valid: dict | None = None                  # the best epoch's validation metrics
    peak_memory_mib: list = field(default_factory=list)   # one figure (or None) per rank

    def to_dict(self) -> dict:
        """The record as a checkpoint saves it (no copies: the arrays are the record's own)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_saved(cls, saved: dict) -> "RunRecord":
        """The record of a checkpoint; ValueError unless it has the shape training writes."""
        known = {f for f in cls.__dataclass_fields__}
        if not isinstance(saved, dict) or not {"epoch", "bad_epochs", "history", "best", "seconds",
                                               "best_params"} <= set(saved) or set(saved) - known:
            raise ValueError("the run record's fields are not the ones training writes")
        run = cls(**saved)
        epoch, bad, history = run.epoch, run.bad_epochs, run.history
        if not (type(epoch) is int and type(bad) is int and isinstance(history, list)
                and 0 <= bad <= epoch == len(history)):
            raise ValueError(f"epoch {epoch!r}, bad epochs {bad!r} and the history disagree")
        check_history(history)
        if not (_number(run.best) and _number(run.seconds) and run.seconds >= 0):
            raise ValueError("best or seconds is not a number")
        if epoch and not (run.best_epoch in range(1, epoch + 1) and _metrics(run.best_valid)):
            raise ValueError("the best epoch's record is missing")
        peaks = run.peak_memory_mib
        if not (isinstance(peaks, list) and all(p is None or (_number(p) and p >= 0) for p in peaks)):
            raise ValueError("peak_memory_mib is not a list of MiB figures")
        return run


def _number(x) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _metrics(m) -> bool:
    from .metrics import METRIC_NAMES
    return isinstance(m, dict) and all(_number(m.get(k)) and 0 <= m[k] <= 1 for k in METRIC_NAMES)


def run_peaks(saved, now: list) -> list:
    """Each rank's peak resident memory in MiB over a run's processes: the larger of the one
    saved in its checkpoint (``saved``, None before any) and this process's (``now``); a rank
    whose figure is unknown (None) on both sides stays None. A saved list of another world
    size is dropped: those were other processes' ranks."""
    if not isinstance(saved, list) or len(saved) != len(now):
        return list(now)
    return [max((x for x in (a, b) if x is not None), default=None) for a, b in zip(saved, now)]


def check_history(history) -> None:
    """Raise ValueError unless ``history`` is the list of epoch records ``train`` keeps (in a
    checkpoint's run record and in metrics.json), epochs 1, 2, ... in order."""
    if not isinstance(history, list):
        raise ValueError("the history is not a list")
    for i, h in enumerate(history, start=1):
        if not (isinstance(h, dict) and h.get("epoch") == i and _number(h.get("loss"))
                and _metrics(h.get("valid")) and _number(h.get("examples_per_s"))):
            raise ValueError(f"history entry {i} is not an epoch record")
