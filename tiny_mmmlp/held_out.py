"""The evaluation choices beyond the default figures: any list of k, precision, recall, MAP and
catalogue coverage, the time split, and given recommendations scored against held-out items.

Two splits (``SPLITS``):

- ``leave-one-out`` (the default, as training evaluates): each user with 3 or more items is
  tested on the last one, after the items before it. Its HR, NDCG and MRR are those of
  metrics.json (the same ranks, metrics.py's tie rule).
- ``time``: a cutoff (a date, or the fraction of all interactions before it); each user with
  items on both sides is tested on the distinct items at or after the cutoff, after the items
  before it (data/split.py). Only fair for a model that never saw what follows the cutoff.

A library: ``Recommender.evaluate``, ``Recommender.evaluate_frame`` and the evaluate command
use it. Formulas: metrics.py.
"""
from __future__ import annotations

import numpy as np

from . import data as data_sets
from .backends import score_rows
from .errors import UserError
from .metrics import KS, coverage, evaluate_lists, held_out_last, list_metrics, metrics_at, parse_ks, target_ranks
from .metrics import mask_history as masked
from .ranking import _full_histories

SPLITS = ("leave-one-out", "time")
BATCH = 512                                  # users scored at once, at most


def check_split(split: str, cutoff, name=lambda key: key) -> None:
    """A split and cutoff that go together, or one sentence naming the setting."""
    if split not in SPLITS:
        raise UserError(f"{name('split')}: must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "time" and cutoff is None:
        raise UserError(f"{name('split')} time: needs {name('cutoff')} (a date such as 2018-06-01, or "
                        f"a fraction such as 0.8)")
    if split != "time" and cutoff is not None:
        raise UserError(f"{name('cutoff')}: goes with {name('split')} time")


def ks_of(k, name: str = "k") -> tuple:
    """The tuple of k that ``k`` gives (None: 10 and 20), or one sentence naming ``name``."""
    if k is None:
        return KS
    try:
        return parse_ks(k)
    except (ValueError, TypeError) as err:
        raise UserError(f"{name}: {err}") from None


def time_split(ds, cutoff, name=lambda key: key):
    """``data.split.split_by_time`` with its refusals as one sentence naming the cutoff."""
    from .data.split import split_by_time
    try:
        return split_by_time(ds, cutoff)
    except ValueError as err:
        raise UserError(f"{name('cutoff')} {cutoff}: {err}") from None


def test_histories(ds, split: str = "leave-one-out", cutoff=None, name=lambda key: key) -> tuple:
    """(user rows, histories, held-out sets) of ``ds`` under the split, internal item ids."""
    if split == "time":
        sp = time_split(ds, cutoff, name)
        return sp.users, sp.histories, sp.held_out
    sp = data_sets.split_leave_one_out(ds)
    return sp.eval_users, sp.test_history, [{int(t)} for t in sp.test_target]


def held_out(ds, split: str = "leave-one-out", cutoff=None, name=lambda key: key) -> dict:
    """{raw user id: set of raw item ids} the split holds out of ``ds``."""
    users, _, sets = test_histories(ds, split, cutoff, name)
    return {ds.user_ids[u]: {ds.item_ids[i - 1] for i in items} for u, items in zip(users, sets)}


def score_model(scores, ds, max_len: int, ks, split="leave-one-out", cutoff=None, mask=False,
                name=lambda key: key) -> dict:
    """Every metric at every k and Coverage@k of a model's full ranking of ``ds``'s test users.

    scores: ``item_seq (B, N) -> (B, V + 1)`` with column 0 at −inf. Leave-one-out ranks each
    target as ``ranking.evaluate`` does (the same HR, NDCG and MRR); the time split lists the
    top max(k) items with the held-out ones after any item of the same score. ``mask``: each
    user's history items leave the ranking, the held-out items stay.
    """
    users, histories, sets = test_histories(ds, split, cutoff, name)
    if len(users) == 0:
        raise UserError(f"data {ds.name}: no user has 3 or more items, so no user can be tested "
                        f"(leave-one-out needs 3 per user)")
    width = min(max(ks), ds.n_items)
    rows = score_rows(ds.n_items, BATCH)              # a bounded block of scores, as ranking.py's
    ranks, lists, hits = [], [], []
    for lo in range(0, len(histories), rows):
        batch, relevant = histories[lo:lo + rows], sets[lo:lo + rows]
        s = scores(data_sets.pad_histories(batch, max_len))                      # (B, V + 1)
        if split == "leave-one-out":
            targets = np.array([next(iter(r)) for r in relevant], dtype=np.int64)
            if mask:
                s = masked(s, _full_histories(batch), targets)
            ranks.append(target_ranks(s, targets))
        elif mask:
            s = np.array(s, copy=True)
            for row, (h, r) in enumerate(zip(batch, relevant)):
                s[row, [i for i in h if int(i) not in r]] = -np.inf
        top, hit = held_out_last(s, relevant, width)
        lists += top
        hits.append(hit)
    hits = np.concatenate(hits)
    if split == "leave-one-out":
        out = metrics_at(np.concatenate(ranks), ks)
    else:
        padded = np.zeros((len(hits), max(ks)), dtype=bool)
        padded[:, :hits.shape[1]] = hits
        out = list_metrics(padded, [len(r) for r in sets], ks)
    out.update(coverage(lists, ds.n_items, ks))
    return out


def score_lists(lists: dict, ds, ks, split="leave-one-out", cutoff=None, name=lambda key: key) -> dict:
    """Every metric at every k, and Coverage@k, of given lists ({raw user: [raw item, ...]})."""
    return evaluate_lists(lists, held_out(ds, split, cutoff, name), ks, ds.n_items)
