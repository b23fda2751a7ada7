"""The in-memory data set every loader returns: sequences of internal item ids plus item side data.

Internal item ids run 1..V; id 0 is the padding item. ``item_ids[i - 1]`` is the raw token of
internal item i, and every per-item list (``titles``, ``image_paths``, ``item_fields[f]``) has
length V + 1 with a blank entry at index 0, so it can be indexed by internal id directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Dataset:
    """A loaded data set.

    name:         data set name (the atomic files' stem, e.g. "scientific").
    folder:       folder the data set was read from (images and ``.npy`` files live there).
    user_ids:     raw user tokens, one per sequence.
    item_ids:     raw item tokens; internal item i (1..V) is ``item_ids[i - 1]``.
    sequences:    one int64 array per user: internal item ids in time order.
    titles:       (V + 1) display titles; "" at 0.
    image_paths:  (V + 1) picture paths or None.
    item_fields:  side field name -> (V + 1) raw strings ("" at 0), from the ``.item`` file.
    field_types:  side field name -> RecBole type ("token", "token_seq", "float_seq", ...).
    item_rows:    (V,) row of each internal item in the ``.item`` file (``.npy`` rows follow it).
    n_item_rows:  number of rows of the ``.item`` file (what a ``.npy`` matrix must match).
    n_dropped:    interactions dropped because ``.item`` lacked their item.
    item_lines:   (V,) line of each internal item in the ``.item`` file (for error messages).
    times:        one float64 array per user, the time of each item of ``sequences`` (RecBole
                  folders; None for a sequence file, which has no times).
    """

    name: str
    folder: Path
    user_ids: list
    item_ids: list
    sequences: list
    titles: list
    image_paths: list
    item_fields: dict = field(default_factory=dict)
    field_types: dict = field(default_factory=dict)
    item_rows: np.ndarray | None = None
    n_item_rows: int = 0
    n_dropped: int = 0
    item_lines: np.ndarray | None = None
    times: list | None = None

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, "
                f"interactions={self.n_interactions})")
