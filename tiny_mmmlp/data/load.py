"""``load(source)``: one entry point for toyshop, Amazon categories, RecBole atomic folders and sequence files."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import UserError
from .dataset import Dataset
from .kcore import kcore_mask
from .recbole import parse_float, read_atomic
from .safe_names import safe_stem
from .textfile import iter_lines

TEXT_FIELDS = ("title", "text")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


BUILT_IN = ("toyshop", "toyshop-tiny")        # generated on first use (toyshop.py), no files needed
# what a data source can be, as every --data help and the error below say it
SOURCES = (", ".join(BUILT_IN) + ", amazon2018:<Category> or amazon2023:<Category> (downloaded once), "
           "a folder of RecBole atomic files, or a sequence file of 'user item item ...' lines")


def load(source, cache_dir=None, kcore: int | None = None, strict: bool = False,
         pictures: bool = False, progress: bool = True, max_download_mb: int | None = None) -> Dataset:
    """Load a data set.

    source:    "toyshop", "toyshop-tiny", "amazon2018:<Category>", "amazon2023:<Category>",
               a folder of RecBole atomic files, or a plain ``user item item ...`` sequence file.
    cache_dir: where toyshop is generated and Amazon categories are downloaded (default
               ``$TINY_MMMLP_CACHE`` or ~/.cache/tiny_mmmlp).
    kcore:     if set, keep only users and items with at least ``kcore`` interactions.
    strict:    an interaction naming an item that ``.item`` lacks is an error (else dropped
               and counted, with a warning).
    pictures:  Amazon sources only: also fetch one picture per item (once; amazon_source.py).
    progress:  progress bars while downloading.
    max_download_mb: Amazon sources only: refuse a raw file larger than this (default 2048).
    """
    if str(source) in BUILT_IN:
        from .toyshop import ensure_toyshop
        return load_folder(ensure_toyshop(str(source), cache_dir), kcore=kcore, strict=strict)
    from .amazon_source import MAX_DOWNLOAD_MB, ensure_amazon, parse_source
    if parse_source(source) is not None:
        folder, name = ensure_amazon(str(source), cache_dir, pictures=pictures, progress=progress,
                                     max_download_mb=max_download_mb or MAX_DOWNLOAD_MB)
        return load_folder(folder, kcore=kcore, strict=strict, name=name)
    path = Path(source).expanduser()
    if path.is_dir():
        return load_folder(path, kcore=kcore, strict=strict)
    if path.is_file():
        if path.suffix == ".inter":
            return load_folder(path.parent, kcore=kcore, strict=strict, name=path.stem)
        return load_sequence_file(path, kcore=kcore)
    raise UserError(f"{source}: no such data set; give {SOURCES}.")


def load_folder(folder: Path, kcore=None, strict=False, name: str | None = None) -> Dataset:
    """Load ``<name>.inter`` (+ optional ``<name>.item`` and ``images/``) from ``folder``."""
    folder = Path(folder)
    if name is None:
        candidates = sorted(folder.glob("*.inter"))
        if (folder / f"{folder.name}.inter").is_file():
            name = folder.name
        elif len(candidates) == 1:
            name = candidates[0].stem
        elif not candidates:
            sequence_files = sorted(folder.glob("*.txt"))
            if len(sequence_files) == 1:
                return load_sequence_file(sequence_files[0], kcore=kcore)
            raise UserError(f"{folder}: holds no <name>.inter file.")
        else:
            raise UserError(f"{folder}: holds several .inter files "
                            f"({', '.join(c.name for c in candidates)}); pass one of them.")
    inter_path = folder / f"{name}.inter"
    header, rows, numbers = read_atomic(inter_path, required=("user_id", "item_id"))
    names = [f for f, _ in header]
    u_col, i_col = names.index("user_id"), names.index("item_id")
    t_col = names.index("timestamp") if "timestamp" in names else None

    item_path = folder / f"{name}.item"
    item_tokens, item_header, item_rows, item_numbers = None, [], [], []
    if item_path.is_file():
        item_header, item_rows, item_numbers = read_atomic(item_path, required=("item_id",))
        id_col = [f for f, _ in item_header].index("item_id")
        item_tokens = {}
        for row, number in zip(item_rows, item_numbers):
            if not row[id_col].strip():
                raise UserError(f"{item_path} line {number}: the item_id is empty.")
            if row[id_col] in item_tokens:
                raise UserError(f"{item_path} line {number}: item {row[id_col]!r} is listed twice.")
            item_tokens[row[id_col]] = len(item_tokens)

    # Interactions -> integer arrays; items index .item rows (or first appearance if no .item).
    user_index, first_seen = {}, {}
    users, items, times, dropped = [], [], [], 0
    for row, number in zip(rows, numbers):
        token = row[i_col]
        if not token.strip() or not row[u_col].strip():
            raise UserError(f"{inter_path} line {number}: the {'item_id' if not token.strip() else 'user_id'} "
                            f"is empty.")
        if item_tokens is not None:
            if token not in item_tokens:
                if strict:
                    raise UserError(f"{inter_path} line {number}: item {token!r} is not in {item_path}.")
                dropped += 1
                continue
            item = item_tokens[token]
        else:
            item = first_seen.setdefault(token, len(first_seen))
        users.append(user_index.setdefault(row[u_col], len(user_index)))
        items.append(item)
        times.append(parse_float(row[t_col], inter_path, number, "timestamp") if t_col is not None
                     else float(number))
    if dropped:
        warnings.warn(f"{inter_path}: dropped {dropped} interaction(s) whose item is not in "
                      f"{item_path} (use strict=True / --strict to make this an error).")
    users, items = np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)
    times = np.array(times, dtype=np.float64)
    keep = kcore_mask(users, items, kcore)
    if not keep.any():
        what = f" after the {kcore}-core filter" if kcore and kcore > 1 else ""
        raise UserError(f"{inter_path}: no interactions left{what}.")
    users, items, times = users[keep], items[keep], times[keep]

    # Which source rows become items 1..V.
    n_rows = len(item_rows) if item_tokens is not None else len(first_seen)
    used = np.zeros(n_rows, dtype=bool)
    used[items] = True
    if item_tokens is None or (kcore and kcore > 1):
        rows_kept = np.flatnonzero(used)
    else:
        rows_kept = np.arange(n_rows)
    row_to_item = np.zeros(n_rows, dtype=np.int64)
    row_to_item[rows_kept] = np.arange(1, len(rows_kept) + 1)
    raw_ids = list(item_tokens) if item_tokens is not None else list(first_seen)
    item_ids = [raw_ids[r] for r in rows_kept]

    # Sequences: sort by (user, timestamp); lexsort is stable so ties keep file order.
    order = np.lexsort((times, users))
    users_sorted, items_sorted = users[order], row_to_item[items[order]]
    user_order = np.unique(users_sorted)
    bounds = np.searchsorted(users_sorted, user_order, side="left")
    sequences = np.split(items_sorted, bounds[1:])
    user_times = np.split(times[order], bounds[1:])
    all_user_ids = list(user_index)
    user_ids = [all_user_ids[u] for u in user_order]

    fields, types = {}, {}
    for col, (field, ftype) in enumerate(item_header):
        if field != "item_id":
            fields[field] = [""] + [item_rows[r][col] for r in rows_kept]
            types[field] = ftype
    text_field = next((f for f in TEXT_FIELDS if f in fields), None)
    titles = [""] + [(fields[text_field][i] if text_field else "") or raw
                     for i, raw in enumerate(item_ids, start=1)]
    return Dataset(name=name, folder=folder, user_ids=user_ids, item_ids=item_ids,
                   sequences=sequences, titles=titles,
                   image_paths=find_images(folder, item_ids), item_fields=fields,
                   field_types=types, item_rows=rows_kept.astype(np.int64),
                   n_item_rows=n_rows, n_dropped=dropped,
                   item_lines=(np.asarray(item_numbers, dtype=np.int64)[rows_kept]
                               if item_tokens is not None else None),
                   times=user_times if t_col is not None else None)


def find_images(folder: Path, item_ids: list) -> list:
    """(V + 1) list: ``folder/images/<safe_stem(item_id)>.png|jpg|jpeg`` or None, None at index 0.

    Picture names come from ``safe_stem`` (safe_names.py): a plain item id is its own file
    name, any other is hashed, so an id like ``../x`` never reaches outside ``images/``.
    Entries that are not regular files (folders, broken links) are ignored.
    """
    image_dir = Path(folder) / "images"
    found = {}
    if image_dir.is_dir():
        for p in image_dir.iterdir():
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file():
                found.setdefault(p.stem, p)
    return [None] + [found.get(safe_stem(i)) for i in item_ids]


def _refuse_other_kinds(path: Path, first: str) -> None:
    """A file given as a sequence file that is something else is named, not misread."""
    from .interactions_table import looks_like_table
    head = first.lstrip("\ufeff")
    if any(f.split(":", 1)[-1] in ("token", "token_seq", "float", "float_seq")
           for f in head.split("\t") if ":" in f):
        raise UserError(f"{path}: a RecBole atomic file (field:type headers), not a sequence file; give "
                        f"the folder that holds it as --data")
    if looks_like_table(head):
        raise UserError(f"{path}: a table of interactions with a header, not a sequence file; convert it "
                        f"once with: python -m tiny_mmmlp.data convert --interactions {path} --out FOLDER")


def load_sequence_file(path: Path, kcore=None) -> Dataset:
    """Load the plain ``user item item ...`` format (one user a line, items in time order)."""
    path = Path(path)
    users, items, times, user_tokens, item_tokens = [], [], [], {}, {}
    for number, text in iter_lines(path):
        if number == 1:
            _refuse_other_kinds(path, text)
        tokens = text.split()
        if not tokens:
            continue
        if len(tokens) < 2:
            raise UserError(f"{path} line {number}: has 1 field; a sequence file has one "
                            f"'user item item ...' line per user.")
        if tokens[0] in user_tokens:
            raise UserError(f"{path} line {number}: user {tokens[0]!r} appears on two lines "
                            f"(read as a sequence file: one 'user item item ...' line per user).")
        u = user_tokens.setdefault(tokens[0], len(user_tokens))
        for position, token in enumerate(tokens[1:]):
            users.append(u)
            items.append(item_tokens.setdefault(token, len(item_tokens)))
            times.append(position)
    if not users:
        raise UserError(f"{path}: holds no sequences.")
    users, items = np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)
    keep = kcore_mask(users, items, kcore)
    if not keep.any():
        raise UserError(f"{path}: no interactions left after the {kcore}-core filter.")
    users, items = users[keep], items[keep]
    rows_kept = np.unique(items)  # items that survive, in first-appearance order
    row_to_item = np.zeros(len(item_tokens), dtype=np.int64)
    row_to_item[rows_kept] = np.arange(1, len(rows_kept) + 1)
    raw_ids = list(item_tokens)
    item_ids = [raw_ids[r] for r in rows_kept]
    user_order, bounds = np.unique(users, return_index=True)  # users stay in line order
    sequences = np.split(row_to_item[items], bounds[1:])
    raw_users = list(user_tokens)
    return Dataset(name=path.stem, folder=path.parent, user_ids=[raw_users[u] for u in user_order],
                   item_ids=item_ids, sequences=sequences, titles=[""] + item_ids,
                   image_paths=find_images(path.parent, item_ids),
                   item_rows=rows_kept.astype(np.int64), n_item_rows=len(item_tokens))
