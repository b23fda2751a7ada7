"""A data set seen in a trained model's item order, matched by raw item id.

A model's internal item i is its saved ``item_ids[i - 1]``. Data loaded later may list the
same items in another order (a shuffled ``.item`` file, another export of the same catalogue):
``in_model_order`` renumbers it so that internal ids mean the model's items, which leaves the
model untouched and its recommendations identical by raw id. Data with other items is refused
in one sentence that names the difference.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import UserError

SHOWN = 3                                    # item ids named in a refusal


def _some(ids) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    return ", ".join(ids[:SHOWN]) + more


def item_difference(model_ids, data_ids) -> str | None:
    """None when both list the same set of raw item ids, else what differs, in words."""
    model_set, data_set = set(model_ids), set(data_ids)
    if model_set == data_set and len(data_ids) == len(model_ids):
        return None
    missing, new = model_set - data_set, data_set - model_set
    parts = [f"it has {len(data_ids)} items, the model {len(model_ids)}"]
    if missing:
        parts.append(f"{len(missing)} of the model's items are not in it ({_some(missing)})")
    if new:
        parts.append(f"{len(new)} of its items are not the model's ({_some(new)})")
    return "; ".join(parts)


def in_model_order(ds, model_ids: list, where: str):
    """``ds`` renumbered so that internal item i is ``model_ids[i - 1]``; ``ds`` itself when it
    already is. Refuses data whose items are another set: "data <where>: ...", one sentence."""
    if list(ds.item_ids) == list(model_ids):
        return ds
    why = item_difference(model_ids, ds.item_ids)
    if why:
        raise UserError(f"data {where}: its items are not the model's ({why})")
    position = {raw: i + 1 for i, raw in enumerate(model_ids)}
    old_to_new = np.zeros(ds.n_items + 1, dtype=np.int64)             # 0 (padding) stays 0
    old_to_new[1:] = [position[raw] for raw in ds.item_ids]
    new_to_old = np.argsort(old_to_new)                               # new id -> old id
    by_item = lambda values: [values[i] for i in new_to_old]          # (V + 1) lists
    rows = lambda a: None if a is None else np.asarray(a)[new_to_old[1:] - 1]   # (V,) arrays
    return dataclasses.replace(
        ds, item_ids=list(model_ids),
        sequences=[old_to_new[np.asarray(s, dtype=np.int64)] for s in ds.sequences],
        titles=by_item(ds.titles), image_paths=by_item(ds.image_paths),
        item_fields={f: by_item(v) for f, v in ds.item_fields.items()},
        item_rows=rows(ds.item_rows), item_lines=rows(ds.item_lines))
