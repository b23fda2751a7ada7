"""Ranking metrics under full ranking, and the evaluation protocol they belong to (docs/results.md).

Protocol: leave-one-out per user (last item = test, second to last = validation, the rest
= training); every item 1..V is ranked (no sampled negatives); items already in the
history are not masked (unless asked: ``mask_history``, below); ties count against the target.

For one user with target t and scores s over items 1..V, the 0-based rank is

    r = #{v ≠ t : s_v > s_t} + #{v ≠ t : s_v = s_t}      (ties count against the target)

so a constant score vector gives r = V − 1 (HR@k = 0 for k < V), never a lucky r = 0.
Non-finite scores never help the target: if the target's score is NaN or ±inf, or another
item's score is NaN or +inf, the target ranks last (r = V − 1). A −inf on another item is
a mask (that item is never recommended) and simply ranks below the target. Then

    HR@k   = 1[r < k]
    NDCG@k = 1[r < k] / log2(r + 2)           (one relevant item: IDCG = 1)
    MRR@k  = 1[r < k] / (r + 1)

and each metric is the mean over users.
"""
from __future__ import annotations

import numpy as np

KS = (10, 20)
METRIC_NAMES = tuple(f"{m}@{k}" for k in KS for m in ("HR", "NDCG", "MRR"))


def _array_module(a):
    """numpy, or torch when ``a`` is a torch tensor (the rule below runs on either, on any device)."""
    if type(a).__module__.split(".")[0] == "torch":
        import torch
        return torch
    return np


def target_ranks(scores, targets):
    """0-based rank of each target among items 1..V: ties and non-finite scores count against it.

    This is the project's only copy of the ranking rule (module docstring); every backend
    and baseline ranks through it. scores: (B, V + 1) numpy array or torch tensor, column 0
    = padding (ignored); targets: (B,) in 1..V, same kind as ``scores``. Returns (B,) int64
    of the same kind (numpy in, numpy out; torch in, torch out on the same device).
    """
    xp = _array_module(scores)
    if xp is np:
        scores, targets = np.asarray(scores), np.asarray(targets)
    items = scores[:, 1:]                                         # (B, V)
    t = items[xp.arange(len(targets)), targets - 1][:, None]      # (B, 1) target scores
    higher_or_tied = (items >= t).sum(1)                          # (B,) counts the target itself once
    untrusted = (~xp.isfinite(t[:, 0])) | xp.isnan(items).any(1) | xp.isposinf(items).any(1)
    last = items.shape[1] - 1
    ranks = xp.where(untrusted, last, higher_or_tied - 1)         # (B,)
    return ranks.astype(np.int64) if xp is np else ranks.long()


def mask_history(scores, history, targets):
    """The other common protocol: a copy of ``scores`` with the user's history items at −inf.

    scores: (B, V + 1) numpy array or torch tensor; history: (B, H) item ids of each user's
    whole history, 0 = padding; targets: (B,) in 1..V (same kind as ``scores``).
    Every item the user has already interacted with is set to −inf, so it ranks below the
    target and is never recommended (as BSARec and MLM4Rec do before ranking), EXCEPT the
    target itself: if the target also appears in the history (a repeat purchase) it stays
    rankable with its own score, so masking can never turn a hit into a miss. The rank is
    then ``target_ranks(mask_history(scores, history, targets), targets)``: the one ranking
    rule above, unchanged.
    """
    xp = _array_module(scores)
    masked = scores.clone() if xp is not np else np.array(scores, copy=True)
    hide = history != targets[:, None]                            # (B, H): not the target
    on = {} if xp is np else {"device": history.device}
    rows = xp.arange(len(targets), **on)[:, None] + history * 0   # (B, H) row of each entry
    masked[rows[hide], history[hide]] = -np.inf                   # padding 0 hits column 0 only
    return masked


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
