"""Full-ranking evaluation of a backend, and the popularity baseline on the same split.

A library: training, the Recommender and ``python -m tiny_mmmlp.evaluate`` (evaluate.py) rank
with it.
"""
from __future__ import annotations

import numpy as np

from . import data
from .averaging import evaluated_weights
from .backends import score_rows
from .metrics import METRIC_NAMES, mask_history, metrics_from_ranks, popularity_scores, target_ranks
from .progress import bar

PROTOCOLS = {False: "history items not masked", True: "history items masked (target kept)"}


def metrics_table(rows: dict) -> str:
    """A plain-text table: one row per model, one column per metric."""
    head = f"{'':<12}" + "".join(f"{m:>10}" for m in METRIC_NAMES)
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        lines.append(f"{name:<12}" + "".join(f"{m[k]:>10.4f}" for k in METRIC_NAMES))
    return "\n".join(lines)


def evaluate(backend, histories, targets, max_len, batch_size=512, mask_history=False, progress=False) -> dict:
    """HR/NDCG/MRR@10,20 of ``backend`` over all users, ranking every item (the protocol of metrics.py).

    mask_history: the other protocol (``metrics.mask_history``): each user's whole history
    (not only the last ``max_len`` items the model reads) leaves the ranking, the target stays.
    progress: a bar over the users (progress.py's rule); training's validation passes show none.
    """
    return metrics_from_ranks(ranks_of(backend, histories, targets, max_len, batch_size, mask_history, progress))


def ranks_of(backend, histories, targets, max_len, batch_size=512, mask_history=False,
             progress=False) -> np.ndarray:
    """(M,) int64: each user's 0-based rank of the target among all items, as ``evaluate`` counts.

    Memory: a batch of ``batch_size`` users at a time; the backends score it in row blocks of
    bounded size (``backends.score_rows``), so a large catalogue does not need more.

    A data-parallel backend (``distributed.DataParallel``, under torchrun) carries a ``group``:
    each rank ranks its block of whole batches and the integer ranks are gathered in order, so
    the metrics equal those of one process.
    """
    group = getattr(backend, "group", None)
    lo, hi = group.eval_span(len(histories), batch_size) if group else (0, len(histories))
    hist, tgts = histories[lo:hi], targets[lo:hi]
    ranks = []
    shown = bar(total=len(hist), desc="evaluating", unit="user", enabled=progress)
    with evaluated_weights(backend), shown:         # the average's θ̄ in once, not per batch
        for start, (seq, tgt) in zip(range(0, len(hist), batch_size),
                                     data.eval_batches(hist, tgts, max_len, batch_size)):
            full = _full_histories(hist[start:start + batch_size]) if mask_history else None
            ranks.append(backend.ranks(seq, tgt, full))
            shown.update(len(tgt))
    ranks = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    return group.gather(ranks) if group else ranks


def _full_histories(histories):
    """(B, H) every item of each history, left-padded with 0 (H = the longest history)."""
    return data.pad_histories(histories, max(1, max(len(h) for h in histories)))


def popularity_metrics(train_sequences, n_items, targets, histories=None, batch_size=512) -> dict:
    """The same metrics for ranking every user's items by training-set popularity.

    histories: each user's history, to rank under ``mask_history`` (None: nothing masked).
    """
    pop = popularity_scores(train_sequences, n_items)                  # (V + 1,) counts, -inf at 0
    targets, ranks = np.asarray(targets), []
    batch_size = score_rows(n_items, batch_size)                       # the ranking's masks: bounded
    for lo in range(0, len(targets), batch_size):
        t = targets[lo:lo + batch_size]
        scores = np.broadcast_to(pop, (len(t), n_items + 1))           # (b, V + 1) view
        if histories is not None:                                      # a masked copy
            scores = mask_history(scores, _full_histories(histories[lo:lo + batch_size]), t)
        ranks.append(target_ranks(scores, t))
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.zeros(0))
