"""A run's results on its Recommender: ``rec.metrics``, ``rec.history``, ``rec.history_frame()``
and ``rec.plot_curves()``, read from the run folder's metrics.json.

    rec = tiny_mmmlp.fit(data="toyshop-tiny", epochs=3)
    rec.metrics["test"]["NDCG@10"], rec.metrics["best_epoch"]
    rec.history[-1]                 # {"epoch": 3, "loss": ..., "valid": {...}, "examples_per_s": ...}
    rec.plot_curves()               # a matplotlib Figure; a notebook shows it inline

``rec.history(user)`` (a call, not an index) still gives a user's items, as it did before the
epoch records took the name; ``rec.user_history(user)`` is its name now.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError
from .files import read_regular

METRICS_FILE = "metrics.json"


class EpochHistory(list):
    """The per-epoch records of a run (a list), callable as the older ``rec.history(user)``."""

    def __init__(self, records, user_history):
        super().__init__(records)
        self._user_history = user_history

    def __call__(self, user) -> list:
        return self._user_history(user)


class RunResults:
    """What a Recommender knows of the training that made it (needs ``self.run``)."""

    run: Path

    def _record(self, needed: bool = True) -> dict:
        folder = self.run.parent if self.run.is_file() else self.run
        path = folder / METRICS_FILE
        if not path.is_file() and not needed:
            return {"history": []}
        if not path.is_file():
            raise UserError(f"{path}: not found; the run's results are kept beside its model file "
                            f"(the model alone still recommends)")
        try:
            record = json.loads(read_regular(path, 64 * 2**20, what="a run's metrics").decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UserError(f"{path}: not a run's metrics (not JSON)") from None
        if not isinstance(record, dict) or not isinstance(record.get("history"), list):
            raise UserError(f"{path}: not a run's metrics (no epoch history)")
        return record

    @property
    def metrics(self) -> dict:
        """The run's results: ``test`` and ``valid`` metrics (of the best validation epoch),
        ``popularity`` (the baseline on the same test), ``best_epoch``, ``epochs`` and ``seconds``."""
        record = self._record()
        return {k: record.get(k) for k in ("test", "valid", "popularity", "best_epoch", "epochs", "seconds",
                                           "protocol")}

    @property
    def history(self) -> EpochHistory:
        """One record per epoch: epoch, loss, valid (the validation metrics), examples_per_s
        (empty for a model file without its run folder)."""
        return EpochHistory(self._record(needed=False)["history"], self.user_history)

    def history_frame(self):
        """The history as a pandas DataFrame: one row per epoch, a column per validation metric."""
        from .frames import pandas
        pd = pandas()
        rows = [{"epoch": h["epoch"], "loss": h["loss"], **{f"valid {k}": v for k, v in h["valid"].items()},
                 "examples_per_s": h.get("examples_per_s")} for h in self._record()["history"]]
        return pd.DataFrame(rows)

    def plot_curves(self, title: str | None = None):
        """The training curves (loss, validation HR@10 and NDCG@10 per epoch) as a matplotlib
        Figure, which a notebook shows inline; None without matplotlib (with a warning)."""
        from .plots import training_curves_figure
        record = self._record()
        fig = training_curves_figure(record["history"], title if title is not None else
                                     f"{self.meta.get('data_name', '')} ({record.get('model')}, "
                                     f"{record.get('backend')})")
        if fig is not None:
            _shown_inline_by_ipython(type(fig))
        return fig

    def user_history(self, user) -> list:           # defined by Recommender
        raise NotImplementedError


def _shown_inline_by_ipython(figure_class) -> None:
    """Where IPython runs (a notebook), have it draw a returned Figure as a PNG even before
    pyplot (and with it the inline backend) was ever loaded. Never imports IPython itself."""
    import sys
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return
    png = shell.display_formatter.formatters.get("image/png")
    if png is not None and figure_class not in png.type_printers:
        def draw(fig):
            import io
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            return buf.getvalue()
        png.for_type(figure_class, draw)
