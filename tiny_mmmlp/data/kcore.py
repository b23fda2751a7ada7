"""k-core filtering: repeatedly drop users and items with fewer than k interactions."""
from __future__ import annotations

import numpy as np


def kcore_mask(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask over interactions that survive the k-core filter.

    users, items: (E,) int arrays of user and item indices (any non-negative ints).
    Returns keep: (E,) bool; every kept user and item has at least k kept interactions.
    """
    keep = np.ones(len(users), dtype=bool)
    if k is None or k <= 1:
        return keep
    while True:
        user_count = np.bincount(users[keep], minlength=users.max() + 1 if len(users) else 0)
        item_count = np.bincount(items[keep], minlength=items.max() + 1 if len(items) else 0)
        new_keep = keep & (user_count[users] >= k) & (item_count[items] >= k)
        if new_keep.sum() == keep.sum():
            return new_keep
        keep = new_keep
