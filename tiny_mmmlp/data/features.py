"""Per-item feature tables, one per modality, cached on disk.

Modality names (what ``describe`` prints and ``--modalities`` takes):

    image          pictures in ``images/<item_id>.png|jpg``        -> image_encoders.py
    text           a ``title`` / ``text`` field                    -> text.py
    <field name>   any other token / token_seq field (multi-hot), float_seq field (dense)
    <npy stem>     a precomputed ``<stem>.npy`` matrix, rows in ``.item`` order

``id`` is the item-ID branch of the model, never a feature table. Every table has shape
(V + 1, d) float32 with row 0 (padding) all zeros. Built tables are stored under
``<cache_dir>/features/<name>-<modality>-<hash>.npy`` where the hash covers every input
(texts, picture files' sizes and times, field values, encoder and recipe versions), so a
changed input or another ``image_encoder`` / ``text_encoder`` builds a new table instead of
reading a stale one. The data set and field
names pass through ``safe_stem`` first, so a field named ``../../x`` stays in the cache.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from ..errors import NPY_ERRORS, UserError
from ..files import default_cache_dir, save_npy
from . import image_encoders, text, tokens
from .load import TEXT_FIELDS
from .safe_names import safe_stem

SKIPPED_FIELDS = ("image_url", "url")


def _npy_files(ds) -> list:
    return sorted(p for p in Path(ds.folder).glob("*.npy") if not p.name.startswith("."))


def _token_fields(ds) -> list:
    """Side fields that become their own modality (everything but text, urls and plain floats)."""
    return [f for f, t in ds.field_types.items()
            if f not in TEXT_FIELDS and f not in SKIPPED_FIELDS and t in ("token", "token_seq", "float_seq")]


def available_modalities(ds) -> list:
    """Feature modality names found in ``ds`` (never "id"), in a stable order."""
    names = []
    if any(p is not None for p in ds.image_paths):
        names.append("image")
    if any(f in ds.item_fields for f in TEXT_FIELDS):
        names.append("text")
    names += _token_fields(ds)
    names += [p.stem for p in _npy_files(ds) if p.stem not in names]
    return names


def _read_npy(ds, stem: str) -> np.ndarray:
    """A precomputed matrix, checked against the ``.item`` row count, reordered to items 1..V."""
    path = Path(ds.folder) / f"{stem}.npy"
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except NPY_ERRORS as err:
        raise UserError(f"{path}: is not a readable .npy matrix ({err}).") from None
    if matrix.ndim != 2:
        raise UserError(f"{path}: has shape {matrix.shape}; expected (items, features).")
    if matrix.shape[0] != ds.n_item_rows:
        raise UserError(f"{path}: has {matrix.shape[0]} rows but {ds.name}.item lists "
                        f"{ds.n_item_rows} items (one row per item, in .item order).")
    if matrix.dtype.kind not in "fiub":
        raise UserError(f"{path}: holds {matrix.dtype} values; expected numbers.")
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(np.asarray(matrix, dtype=np.float32)).all(axis=1)
    if bad.any():
        raise UserError(f"{path}: row {int(np.flatnonzero(bad)[0])} (0-based, .item order) holds NaN, "
                        f"inf or a value too large for float32.")
    return matrix


def modality_widths(ds, image_encoder: str = image_encoders.DEFAULT,
                    text_encoder: str = text.DEFAULT) -> dict:
    """Feature width of each available modality, without building the tables."""
    widths = {}
    for name in available_modalities(ds):
        if name == "image":
            widths[name] = image_encoders.width(image_encoder)
        elif name == "text":
            widths[name] = text.text_width(text_encoder)
        elif name in ds.field_types:
            ftype = ds.field_types[name]
            if ftype == "float_seq":
                widths[name] = _dense(ds, name).shape[1]
            else:
                widths[name] = tokens.token_width(ds.item_fields[name], ftype)
        else:
            widths[name] = int(_read_npy(ds, name).shape[1])
    return widths


def _dense(ds, name: str) -> np.ndarray:
    """A float_seq field as a dense table; errors name the ``.item`` file and line."""
    item_file = Path(ds.folder) / f"{ds.name}.item"
    lines = ds.item_lines
    where = lambda i: f"{item_file} line {lines[i - 1]}" if lines is not None else f"{item_file} item {i}"
    return tokens.dense_field(ds.item_fields[name], name, where)


def _text_of(ds) -> list:
    """(V + 1) strings: the title and text fields joined."""
    present = [f for f in TEXT_FIELDS if f in ds.item_fields]
    return [" ".join(ds.item_fields[f][i] for f in present).strip() for i in range(ds.n_items + 1)]


def _fingerprint(ds, name: str, encoders: dict) -> str:
    """A hash of everything the ``name`` table depends on."""
    h = hashlib.sha256()
    h.update(json.dumps([ds.name, name, ds.item_ids]).encode())
    if name == "image":
        h.update(image_encoders.encoder_id(encoders["image"]).encode())
        for p in ds.image_paths[1:]:
            st = Path(p).stat() if p is not None else None
            h.update(json.dumps([str(p), st and st.st_size, st and st.st_mtime_ns]).encode())
    elif name == "text":
        h.update(text.encoder_name(encoders["text"]).encode())
        h.update(json.dumps(_text_of(ds)).encode())
    else:
        h.update(json.dumps([ds.field_types[name], ds.item_fields[name]]).encode())
    return h.hexdigest()[:16]


def _build_one(ds, name: str, progress: bool, encoders: dict) -> np.ndarray:
    if name == "image":
        matrix, failed = image_encoders.encode_pictures(ds.image_paths, encoders["image"], progress)
        if failed:
            warnings.warn(f"{ds.folder / 'images'}: {failed} of {ds.n_items} items have a missing "
                          f"or unreadable picture; their image features are zero.")
        return matrix
    if name == "text":
        return text.encode_texts(_text_of(ds), progress=progress, encoder=encoders["text"])
    ftype = ds.field_types[name]
    if ftype == "float_seq":
        return _dense(ds, name)
    return tokens.multi_hot(ds.item_fields[name], ftype)


def _read_cached(path: Path, rows: int) -> np.ndarray | None:
    """A cached table of ``rows`` rows, or None (unreadable, or the wrong shape or type: rebuilt).

    Its header is read first (memory-mapped), so a table of the wrong shape is never read
    whole; a table holding NaN or inf is refused, naming the file.
    """
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if (not isinstance(mapped, np.ndarray) or mapped.dtype != np.float32 or mapped.ndim != 2
                or mapped.shape[0] != rows or mapped.shape[1] < 1):
            return None
        table = np.array(mapped)
    except NPY_ERRORS:
        return None
    if not np.isfinite(table).all():
        raise UserError(f"{path}: the cached feature table holds NaN or inf; delete the file and "
                        f"rerun to rebuild it.")
    return table


def build_features(ds, modalities=None, cache_dir=None, progress: bool = True,
                   image_encoder: str = image_encoders.DEFAULT, text_encoder: str = text.DEFAULT) -> dict:
    """Feature tables ``{name: (V + 1, d) float32}``, row 0 zeros; ``None`` means all available.

    "id" in ``modalities`` is skipped (it is the model's ID branch, not a table). Tables are
    read from the cache when their inputs are unchanged, else built and stored atomically.
    image_encoder: "auto" (default), "handmade", "efficientnet-lite0" or a sentence-transformers
                   image model name (image_encoders.py).
    text_encoder:  "auto" (default: the bundled MiniLM), "minilm", "hashed-bow" or a
                   sentence-transformers model name (text.py).
    """
    available = available_modalities(ds)
    wanted = available if modalities is None else [m for m in modalities if m != "id"]
    unknown = [m for m in wanted if m not in available]
    if unknown:
        hint = ""
        if "image" in unknown and (Path(ds.folder) / "image_urls.tsv").is_file():
            hint = "; its pictures are not fetched yet: add --pictures (pictures=True)"
        raise UserError(f"--modalities: {', '.join(unknown)} not found in {ds.name} "
                        f"(available: {', '.join(['id'] + available)}){hint}.")
    encoders = {"image": image_encoder, "text": text_encoder}
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "features"
    out = {}
    for name in wanted:
        if name not in ds.field_types and name not in ("image", "text"):
            matrix = _read_npy(ds, name)               # (rows of .item, d), read as given
            table = np.zeros((ds.n_items + 1, matrix.shape[1]), dtype=np.float32)
            table[1:] = matrix[ds.item_rows]
            out[name] = table
            continue
        path = folder / f"{safe_stem(ds.name)}-{safe_stem(name)}-{_fingerprint(ds, name, encoders)}.npy"
        if path.is_file():
            cached = _read_cached(path, ds.n_items + 1)
            if cached is not None:
                out[name] = cached
                continue
        table = _build_one(ds, name, progress, encoders).astype(np.float32)
        table[0] = 0.0
        save_npy(path, table)
        out[name] = table
    return out
