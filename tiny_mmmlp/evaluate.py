"""Full-ranking evaluation of a backend, and the popularity baseline on the same split."""
from __future__ import annotations

import numpy as np

from . import data
from .metrics import metrics_from_ranks, popularity_scores


def evaluate(backend, histories, targets, max_len, batch_size=512) -> dict:
    """HR/NDCG/MRR@10,20 of ``backend`` over all users, ranking every item (DESIGN.md §4)."""
    ranks = [backend.ranks(seq, tgt)
             for seq, tgt in data.eval_batches(histories, targets, max_len, batch_size)]
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.zeros(0))


def popularity_metrics(train_sequences, n_items, targets) -> dict:
    """The same metrics for ranking every user's items by training-set popularity."""
    pop = popularity_scores(train_sequences, n_items)[1:]              # (V,) counts of items 1..V
    ordered = np.sort(pop)
    t = pop[np.asarray(targets) - 1]                                   # (M,) count of each target
    # items scoring >= the target (itself included), found by binary search: ties count against it
    ranks = len(pop) - np.searchsorted(ordered, t, side="left") - 1
    return metrics_from_ranks(ranks)
