"""Leave-one-out split: per user, last item = test, second-to-last = validation, rest = train.

For a user sequence s of length L >= 3:

    train          = s[:L-2]      (training examples are its prefixes, see batches.py)
    valid_history  = s[:L-2]   -> valid_target = s[L-2]
    test_history   = s[:L-1]   -> test_target  = s[L-1]

Users with fewer than 3 items have no validation or test example; their whole sequence is
training data. Evaluation ranks all items (no sampled negatives).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    """train: list of int64 arrays (one per user); *_history: list of int64 arrays (one per
    evaluated user); *_target: (M,) int64, the item to predict after each history."""

    train: list
    valid_history: list
    valid_target: np.ndarray
    test_history: list
    test_target: np.ndarray
    eval_users: np.ndarray  # (M,) index into ds.sequences of each evaluated user


def split_leave_one_out(ds) -> Split:
    """Split ``ds.sequences`` (or any list of sequences) leave-one-out per user."""
    sequences = ds.sequences if hasattr(ds, "sequences") else ds
    train, valid_h, valid_t, test_h, test_t, users = [], [], [], [], [], []
    for u, s in enumerate(sequences):
        s = np.asarray(s, dtype=np.int64)
        if len(s) < 3:
            train.append(s)
            continue
        train.append(s[:-2])
        valid_h.append(s[:-2])
        valid_t.append(s[-2])
        test_h.append(s[:-1])
        test_t.append(s[-1])
        users.append(u)
    return Split(train=train, valid_history=valid_h, valid_target=np.array(valid_t, dtype=np.int64),
                 test_history=test_h, test_target=np.array(test_t, dtype=np.int64),
                 eval_users=np.array(users, dtype=np.int64))


@dataclass
class TimeSplit:
    """The time split at ``cutoff`` (seconds): each user with events on both sides has the
    history of the events before it and the set of items at or after it to predict."""

    cutoff: float
    histories: list            # int64 arrays, oldest first
    held_out: list             # sets of internal item ids
    users: np.ndarray          # (M,) index into ds.sequences


def time_cutoff(ds, cutoff) -> float:
    """The cutoff in seconds of ``cutoff``: a date (ISO text, e.g. 2018-06-01, UTC unless it says
    otherwise), or a fraction in (0, 1): the time by which that share of all interactions had
    happened (0.8: the last 20 % are held out). Raises ValueError saying what it must be."""
    from datetime import datetime, timezone
    try:
        fraction = float(cutoff)
    except (TypeError, ValueError):
        fraction = None
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError(f"a fraction must be between 0 and 1 (or give a date), got {cutoff!r}")
        every = np.sort(np.concatenate(ds.times))
        return float(every[min(len(every) - 1, int(np.ceil(fraction * len(every))))])
    try:
        stamp = datetime.fromisoformat(str(cutoff).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be a date such as 2018-06-01 or a fraction such as 0.8, got {cutoff!r}") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()


def split_by_time(ds, cutoff) -> TimeSplit:
    """Split every user's sequence at ``cutoff`` (``time_cutoff``'s forms): the items before it
    are the history, the distinct items at or after it the held-out set. Users with nothing
    before or nothing after the cutoff are not evaluated. Raises ValueError where ``ds`` has
    no times or no user falls on both sides."""
    if getattr(ds, "times", None) is None:
        raise ValueError("the data has no times (a sequence file); the time split needs a timestamp column")
    at = time_cutoff(ds, cutoff)
    histories, held_out, users = [], [], []
    for u, (s, t) in enumerate(zip(ds.sequences, ds.times)):
        before = np.asarray(t) < at
        if before.any() and not before.all():
            histories.append(np.asarray(s, dtype=np.int64)[before])
            held_out.append({int(i) for i in np.asarray(s)[~before]})
            users.append(u)
    if not users:
        raise ValueError("no user has interactions both before and after the cutoff")
    return TimeSplit(at, histories, held_out, np.array(users, dtype=np.int64))
