"""Figures: training curves of a run (loss, validation HR@10 and NDCG@10 per epoch).

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure`` drawn
by the Agg canvas) and never through ``pyplot``: saving a file must not choose a backend,
so a notebook that calls the trainer keeps showing its own figures inline.
"""
from __future__ import annotations

import io
import warnings

from .files import write_bytes


def _figure(**kwargs):
    """A new Figure on an Agg canvas, or None (with a warning) without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        warnings.warn("matplotlib is not installed, so no plot was drawn "
                      "(pip install 'tiny_mmmlp[plot]')", stacklevel=3)
        return None
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """Save a matplotlib figure atomically as PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buf.getvalue())


def plot_training_curves(history: list, path, title="") -> bool:
    """Two panels: mean training loss per epoch, and validation HR@10 / NDCG@10."""
    fig = training_curves_figure(history, title)
    if fig is None:
        return False
    save_figure(fig, path)
    return True


def training_curves_figure(history: list, title=""):
    """The Figure of ``plot_training_curves`` (None without matplotlib or epochs)."""
    fig = _figure(figsize=(10, 3.6)) if history else None
    if fig is None:
        return None
    epochs = [h["epoch"] for h in history]
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, [h["loss"] for h in history], "o-", color="tab:red")
    ax1.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="loss")
    ax2.plot(epochs, [h["valid"]["HR@10"] for h in history], "o-", label="HR@10")
    ax2.plot(epochs, [h["valid"]["NDCG@10"] for h in history], "s-", label="NDCG@10")
    ax2.set(xlabel="epoch", ylabel="validation metric", title="validation (full ranking)")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_run_curves(curves: dict, path, metric="NDCG@10", title="") -> bool:
    """Several runs side by side: {label: history} drawn as training loss and validation
    ``metric`` per epoch, each run's best epoch starred (benchmarks/curves.py)."""
    fig = _figure(figsize=(10, 3.8)) if curves else None
    if fig is None:
        return False
    ax1, ax2 = fig.subplots(1, 2)
    for label, history in curves.items():
        epochs = [h["epoch"] for h in history]
        values = [h["valid"][metric] for h in history]
        line, = ax1.plot(epochs, [h["loss"] for h in history], "o-", ms=3, label=label)
        ax2.plot(epochs, values, "o-", ms=3, color=line.get_color(), label=label)
        best = max(range(len(values)), key=values.__getitem__)
        ax2.plot(epochs[best], values[best], "*", ms=12, color=line.get_color())
    ax1.set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax2.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric} (★ best)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
    return True
