"""Full-ranking evaluation of a backend, and the popularity baseline on the same split."""
from __future__ import annotations

import numpy as np

from . import data
from .metrics import metrics_from_ranks, popularity_scores, target_ranks


def evaluate(backend, histories, targets, max_len, batch_size=512) -> dict:
    """HR/NDCG/MRR@10,20 of ``backend`` over all users, ranking every item (DESIGN.md §4).

    A data-parallel backend (``distributed.DataParallel``, under torchrun) carries a ``group``:
    each rank ranks its block of whole batches and the integer ranks are gathered in order, so
    the metrics equal those of one process.
    """
    group = getattr(backend, "group", None)
    lo, hi = group.eval_span(len(histories), batch_size) if group else (0, len(histories))
    ranks = [backend.ranks(seq, tgt) for seq, tgt in
             data.eval_batches(histories[lo:hi], targets[lo:hi], max_len, batch_size)]
    ranks = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    return metrics_from_ranks(group.gather(ranks) if group else ranks)


def popularity_metrics(train_sequences, n_items, targets, batch_size=512) -> dict:
    """The same metrics for ranking every user's items by training-set popularity."""
    pop = popularity_scores(train_sequences, n_items)                  # (V + 1,) counts, -inf at 0
    targets = np.asarray(targets)
    ranks = [target_ranks(np.broadcast_to(pop, (len(t), n_items + 1)), t)   # (b, V + 1) views
             for t in np.array_split(targets, max(1, -(-len(targets) // batch_size)))]
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.zeros(0))
