"""Ranking metrics under full ranking, the protocol of DESIGN.md §4.

Protocol: leave-one-out per user (last item = test, second to last = validation, the rest
= training); every item 1..V is ranked (no sampled negatives); items already in the
history are not masked; ties count against the target.

For one user with target t and scores s over items 1..V, the 0-based rank is

    r = #{v ≠ t : s_v > s_t} + #{v ≠ t : s_v = s_t}      (ties count against the target)

so a constant score vector gives r = V − 1 (HR@k = 0 for k < V), never a lucky r = 0. Then

    HR@k   = 1[r < k]
    NDCG@k = 1[r < k] / log2(r + 2)           (one relevant item: IDCG = 1)
    MRR@k  = 1[r < k] / (r + 1)

and each metric is the mean over users.
"""
from __future__ import annotations

import numpy as np

KS = (10, 20)
METRIC_NAMES = tuple(f"{m}@{k}" for k in KS for m in ("HR", "NDCG", "MRR"))


def target_ranks(scores, targets):
    """0-based rank of each target among items 1..V, ties counted against it.

    scores: (B, V + 1), column 0 = padding (ignored); targets: (B,) in 1..V.
    Returns (B,) int64.
    """
    scores = np.asarray(scores)
    items = scores[:, 1:]                                         # (B, V)
    t = items[np.arange(len(targets)), np.asarray(targets) - 1][:, None]   # (B, 1)
    higher_or_tied = (items >= t).sum(axis=1)                     # counts the target itself once
    return (higher_or_tied - 1).astype(np.int64)


def metrics_from_ranks(ranks, ks=KS) -> dict:
    """HR@k, NDCG@k and MRR@k (means over users) from 0-based ranks."""
    ranks = np.asarray(ranks, dtype=np.float64)
    out = {}
    for k in ks:
        hit = ranks < k
        out[f"HR@{k}"] = float(hit.mean()) if len(ranks) else 0.0
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2), 0.0).mean()) if len(ranks) else 0.0
        out[f"MRR@{k}"] = float(np.where(hit, 1.0 / (ranks + 1), 0.0).mean()) if len(ranks) else 0.0
    return {name: out[name] for name in METRIC_NAMES if name in out}


def popularity_scores(train_sequences, n_items):
    """Score vector (V + 1,) counting each item's occurrences in the training part."""
    items = np.concatenate(train_sequences) if len(train_sequences) else np.zeros(0, np.int64)
    counts = np.bincount(items, minlength=n_items + 1).astype(np.float64)
    counts[0] = -np.inf
    return counts
