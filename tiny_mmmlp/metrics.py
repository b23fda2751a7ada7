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

More choices (``metrics_at``, ``list_metrics``: the evaluate command's ``--k`` and ``--split
time``, ``evaluate_frame``). A user u has a set R_u of held-out items (one under leave-one-out,
every item after the cutoff under the time split) and a ranked list L_u (L_u[i] at 0-based
position i); hit_i = 1[L_u[i] ∈ R_u] over the first k positions, n = |R_u|:

    HR@k        = 1[Σ_i hit_i > 0]
    Precision@k = Σ_i hit_i / k
    Recall@k    = Σ_i hit_i / n
    NDCG@k      = Σ_i hit_i / log2(i + 2)  /  Σ_{i < min(n, k)} 1 / log2(i + 2)
    MRR@k       = 1 / (i* + 1) for the first hit i* (0 without one)
    MAP@k       = Σ_i hit_i · Precision@(i + 1) / min(n, k)
    Coverage@k  = |∪_u L_u[:k]| / V      (the share of the catalogue anyone is shown)

With one held-out item at rank r these are the formulas above (Recall@k = HR@k, MAP@k =
MRR@k, Precision@k = HR@k / k): ``metrics_at`` computes them from leave-one-out ranks, so its
HR, NDCG and MRR equal ``metrics_from_ranks`` exactly. A model's list puts the held-out items
after every item with the same score (``held_out_last``), the tie rule above; a given list
(a DataFrame or CSV of recommendations) is scored in the order it gives.
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


LIST_METRICS = ("HR", "NDCG", "MRR", "Precision", "Recall", "MAP")


def parse_ks(text) -> tuple:
    """(k, ...) from "5,10,20" or an int or a list of them; ValueError names what is wrong."""
    parts = str(text).split(",") if isinstance(text, str) else ([text] if np.isscalar(text) else list(text))
    ks = []
    for part in parts:
        try:
            k = int(str(part).strip())
        except ValueError:
            raise ValueError(f"must be positive integers separated by commas, got {text!r}") from None
        if k < 1 or str(k) != str(part).strip():
            raise ValueError(f"must be positive integers separated by commas, got {text!r}")
        if k not in ks:
            ks.append(k)
    if not ks:
        raise ValueError(f"must be positive integers separated by commas, got {text!r}")
    return tuple(ks)


def list_metrics(hits, n_relevant, ks) -> dict:
    """HR, NDCG, MRR, Precision, Recall and MAP at each k (means over users), from ``hits``
    (U, K) bool, whether position i of user u's list holds a held-out item (K >= max(ks)),
    and ``n_relevant`` (U,) >= 1, each user's count of held-out items. Formulas: module docstring."""
    hits = np.asarray(hits, dtype=bool)
    n = np.asarray(n_relevant, dtype=np.float64)
    out = {}
    for k in ks:
        h = hits[:, :k].astype(np.float64)                                   # (U, k)
        pos = np.arange(h.shape[1])
        found = h.sum(1)                                                     # (U,)
        gain = 1.0 / np.log2(pos + 2)                                        # (k,)
        ideal = np.cumsum(1.0 / np.log2(np.arange(k) + 2))[np.minimum(n, k).astype(int) - 1]
        first = np.where(found > 0, h.argmax(1), 0)
        precision_at = np.cumsum(h, 1) / (pos + 1)                           # (U, k)
        per_user = {"HR": (found > 0).astype(np.float64), "NDCG": (h @ gain) / ideal,
                    "MRR": np.where(found > 0, 1.0 / (first + 1), 0.0), "Precision": found / k,
                    "Recall": found / n, "MAP": (h * precision_at).sum(1) / np.minimum(n, k)}
        for name in LIST_METRICS:
            out[f"{name}@{k}"] = float(per_user[name].mean()) if len(h) else 0.0
    return out


def metrics_at(ranks, ks) -> dict:
    """``list_metrics`` of leave-one-out ranks (one held-out item per user, 0-based rank)."""
    ranks = np.asarray(ranks, dtype=np.int64)
    width = max(ks)
    hits = np.zeros((len(ranks), width), dtype=bool)
    inside = ranks < width
    hits[np.flatnonzero(inside), ranks[inside]] = True
    return list_metrics(hits, np.ones(len(ranks)), ks)


def coverage(lists, n_items: int, ks) -> dict:
    """Coverage@k: the share of the ``n_items`` items in any list's first k (lists of ids)."""
    return {f"Coverage@{k}": len({i for items in lists for i in items[:k]}) / n_items if n_items else 0.0
            for k in ks}


def held_out_last(scores, held_out, k: int) -> tuple[list, np.ndarray]:
    """Each row's top ``k`` items (column indices, best first) with the held-out ones placed
    after every item of the same score (ties count against them), and (B, k) hits.

    scores: (B, V + 1) with column 0 = padding (never listed) and −inf for masked items;
    held_out: B sets of item indices."""
    lists, hits = [], np.zeros((len(scores), k), dtype=bool)
    for b, (row, relevant) in enumerate(zip(np.asarray(scores, dtype=np.float64), held_out)):
        row = row.copy()
        row[0] = -np.inf
        k_row = min(k, row.size - 1)
        kth = np.partition(row, row.size - k_row)[row.size - k_row]
        cand = np.flatnonzero(row >= kth)
        is_held = np.isin(cand, list(relevant))
        best = cand[np.lexsort((cand, is_held, -row[cand]))][:k_row]         # score, then held-out last
        best = best[np.isfinite(row[best])]
        lists.append(best.tolist())
        hits[b, :len(best)] = np.isin(best, list(relevant))
    return lists, hits


def evaluate_lists(lists: dict, held_out: dict, ks, n_items: int | None = None) -> dict:
    """Score given recommendation lists ({user: [item, ...] best first}) against ``held_out``
    ({user: set of items}): every user with held-out items counts (no list: no hit); a user
    without held-out items is left out; an item listed twice counts once. Coverage@k (over
    the lists of the users scored) when ``n_items`` is given."""
    users = [u for u, items in held_out.items() if items]
    width = max(ks)
    hits = np.zeros((len(users), width), dtype=bool)
    shown = []
    for row, user in enumerate(users):
        items = list(dict.fromkeys(lists.get(user, [])))[:width]
        shown.append(items)
        hits[row, :len(items)] = [i in held_out[user] for i in items]
    out = list_metrics(hits, [len(held_out[u]) for u in users], ks)
    if n_items:
        out.update(coverage(shown, n_items, ks))
    return out


def evaluate_frame(recs, held_out: dict, k=(10, 20), n_items: int | None = None) -> dict:
    """``evaluate_lists`` of a DataFrame of recommendations (columns user_id, item_id and
    rank, as ``Recommender.recommend_frame`` and the recommend command's CSV give them);
    ``held_out``: {user id: set of item ids}, e.g. ``Recommender.held_out()``."""
    from .frames import frame_rows
    return evaluate_lists(frame_rows(recs), held_out, parse_ks(k), n_items)
