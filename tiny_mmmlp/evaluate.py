"""Full-ranking evaluation of a backend, and the popularity baseline on the same split."""
from __future__ import annotations

import numpy as np

from . import data
from .metrics import metrics_from_ranks, popularity_scores, target_ranks


def evaluate(backend, histories, targets, max_len, batch_size=512) -> dict:
    """HR/NDCG/MRR@10,20 of ``backend`` over all users, ranking every item (DESIGN.md §4)."""
    ranks = [backend.ranks(seq, tgt)
             for seq, tgt in data.eval_batches(histories, targets, max_len, batch_size)]
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.zeros(0))


def popularity_metrics(train_sequences, n_items, targets, batch_size=512) -> dict:
    """The same metrics for ranking every user's items by training-set popularity."""
    pop = popularity_scores(train_sequences, n_items)                  # (V + 1,) counts, -inf at 0
    targets = np.asarray(targets)
    ranks = [target_ranks(np.broadcast_to(pop, (len(t), n_items + 1)), t)   # (b, V + 1) views
             for t in np.array_split(targets, max(1, -(-len(targets) // batch_size)))]
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.zeros(0))
