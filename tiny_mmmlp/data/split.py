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
