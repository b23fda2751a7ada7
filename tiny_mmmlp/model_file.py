"""The trained model of a run: ``model.safetensors``, readable without the data it was trained on.

The file is a plain safetensors file (the weights format of the wider ecosystem: no pickle,
readable by ``safetensors.numpy`` without torch). It holds

- every parameter under the shared names (tiny_mmmlp.params; a baseline's torch names);
- ``features/<modality>``: the (V + 1, d) feature table of each modality the model reads, in
  the model's item order, so that scoring needs no data folder;
- string metadata (each value a JSON string): ``format_version``, ``config`` (MMMLPConfig),
  ``run`` (model, backend, modalities, data, the run's settings), ``item_ids`` (the raw item
  ids; internal item i is ``item_ids[i - 1]``) and ``fingerprints`` (SHA-256 of the item ids,
  of the feature tables and of the interactions, to tell whether data changed).

Reading trusts nothing: the file must be a regular file (not a link, not a FIFO), its header
is read first and bounded, every tensor's declared dtype, shape and byte span are checked
against the file size and against the shapes the saved config implies, and only then are the
bytes those tensors span read (a file holding more than they span is refused unread).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .files import available_memory, open_regular, write_bytes
from .interrupts import held
from .model_config import MMMLPConfig
from .params import param_specs

MODEL_FILE = "model.safetensors"
LEGACY_MODEL_FILE = "model.npz"              # written before; never read
FORMAT_VERSION = "2"                         # 1 was model.npz
FEATURE_PREFIX = "features/"                 # parameter names never hold a slash
MAX_HEADER_BYTES = 256 * 2**20               # item ids of a few million items fit
_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
_META_KEYS = ("format_version", "config", "run", "item_ids", "fingerprints")


@dataclass(frozen=True)
class SavedModel:
    """What ``read_model`` returns: everything needed to score without the data."""

    path: Path
    params: dict            # name -> float array
    meta: dict              # config, data, modalities, n_items, backend, model, encoder, ...
    item_ids: list          # raw item ids in model order
    features: dict          # modality -> (V + 1, d) float32, row 0 zeros
    fingerprints: dict      # {"items", "features", "interactions"} -> hex digest

    @property
    def config(self) -> MMMLPConfig:
        return MMMLPConfig.from_dict(self.meta["config"])


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part).encode())
    return h.hexdigest()


def fingerprints(ds, features: dict) -> dict:
    """SHA-256 digests of what a model depends on: its item ids in order, its feature tables
    (names, shapes and bytes) and the interactions (user ids and their sequences)."""
    tables = []
    for name in sorted(features):
        f = np.ascontiguousarray(features[name], dtype=np.float32)
        tables += [[name, list(f.shape)], f.tobytes()]
    interactions = [list(ds.user_ids)] + [np.asarray(s, dtype=np.int64).tobytes() for s in ds.sequences]
    return {"items": _digest([list(ds.item_ids)]), "features": _digest(tables),
            "interactions": _digest(interactions)}


def save_model(folder, params: dict, meta: dict, ds=None, features: dict | None = None) -> Path:
    """Write ``<folder>/model.safetensors`` atomically; returns its path.

    params:   the trained parameters by name; meta: config, data, modalities, n_items, backend,
              model, encoder and any other JSON-able settings of the run;
    ds:       the Dataset it was trained on (its raw item ids and interactions are kept);
    features: the feature tables it was trained with ({modality: (V + 1, d)}).
    Without ds and features they are read again from ``meta["data"]``.
    """
    modalities = [m for m in meta["modalities"] if m != "id"]
    if ds is None or features is None:
        from . import data
        ds = ds if ds is not None else data.load(meta["data"])
        features = features if features is not None else data.build_features(ds, modalities, progress=False)
    if ds.n_items != meta["n_items"]:
        raise ValueError(f"the data has {ds.n_items} items, the model {meta['n_items']}")
    tensors = {k: np.ascontiguousarray(v) for k, v in params.items()}
    for m in modalities:
        tensors[FEATURE_PREFIX + m] = np.ascontiguousarray(features[m], dtype=np.float32)
    run = {k: v for k, v in meta.items() if k not in ("config", "fingerprints")}
    prints = meta.get("fingerprints") or fingerprints(ds, {m: features[m] for m in modalities})  # training has them
    metadata = {"format_version": FORMAT_VERSION, "config": json.dumps(meta["config"]),
                "run": json.dumps(run, allow_nan=False), "item_ids": json.dumps(list(ds.item_ids)),
                "fingerprints": json.dumps(prints)}
    from safetensors.numpy import save
    path = Path(folder) / MODEL_FILE
    blob = save(tensors, metadata=metadata)
    with held():                                       # Ctrl-C waits for the file (interrupts.py)
        write_bytes(path, blob)
    return path


def model_path(path) -> Path:
    """The model file of a run folder (or the file itself); a folder holding only the older
    model.npz, or no model at all, is refused in one sentence."""
    path = Path(path)
    if path.is_dir():
        if not (path / MODEL_FILE).exists() and (path / LEGACY_MODEL_FILE).exists():
            raise UserError(f"{path / LEGACY_MODEL_FILE}: an older model file format (model.npz, "
                            f"format 1), which this version does not read; train the run again")
        path = path / MODEL_FILE
    if not os.path.lexists(path):
        raise UserError(f"{path}: no trained model here (train one with python -m tiny_mmmlp.train)")
    return path


def _header(path: Path, f, size: int) -> tuple[dict, dict, bytes]:
    """(tensor entries, metadata, the header's bytes) of the safetensors file open as ``f``
    (``size`` bytes), every offset checked against the size; only the header is read."""
    bad = lambda why: UserError(f"{path}: not a tiny_mmmlp model file ({why})")   # noqa: E731
    first = f.read(8)
    if len(first) < 8:
        raise bad("shorter than a safetensors header")
    n = int.from_bytes(first, "little")
    if not 2 <= n <= min(size - 8, MAX_HEADER_BYTES):
        raise bad(f"its header claims {n} bytes")
    raw = f.read(n)
    try:
        head = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("its header is not JSON") from None
    if not isinstance(head, dict):
        raise bad("its header is not a mapping")
    metadata = head.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("its metadata is not a mapping of strings")
    body = size - 8 - n
    for name, e in head.items():
        ok = (isinstance(e, dict) and e.get("dtype") in _DTYPES and isinstance(e.get("shape"), list)
              and len(e["shape"]) <= 2 and all(type(d) is int and d >= 0 for d in e["shape"])
              and isinstance(e.get("data_offsets"), list) and len(e["data_offsets"]) == 2
              and all(type(o) is int for o in e["data_offsets"]))
        if not ok:
            raise bad(f"tensor {name!r} has no float dtype, shape of at most 2 axes and offsets")
        lo, hi = e["data_offsets"]
        size_of = math.prod(e["shape"]) * np.dtype(_DTYPES[e["dtype"]]).itemsize    # exact: no overflow
        if not 0 <= lo <= hi <= body or hi - lo != size_of:
            raise bad(f"tensor {name!r} claims bytes {lo}..{hi} of {body}")
    return head, metadata, first + raw


def _parsed(path: Path, metadata: dict) -> tuple[dict, list, dict]:
    """(meta, item ids, fingerprints) from the metadata, or one sentence saying what is wrong."""
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"{path}: model file format {version or 'unknown'}, which this version of "
                        f"tiny_mmmlp does not read (it reads format {FORMAT_VERSION}); train the run again")
    try:
        values = {k: json.loads(metadata[k]) for k in _META_KEYS[1:]}
        meta = {**values["run"], "config": values["config"]}
        item_ids, n_items = values["item_ids"], meta["n_items"]
        MMMLPConfig.from_dict(meta["config"])
        if not (isinstance(item_ids, list) and all(isinstance(i, str) for i in item_ids)
                and type(n_items) is int and len(item_ids) == n_items >= 1
                and len(set(item_ids)) == n_items and isinstance(meta["modalities"], list)
                and all(isinstance(m, str) for m in meta["modalities"])
                and isinstance(values["fingerprints"], dict)):
            raise ValueError("item ids, item count or modalities do not agree")
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as err:
        raise UserError(f"{path}: the model file's metadata is not a tiny_mmmlp run's ({err})") from None
    return meta, item_ids, values["fingerprints"]


def _check_shapes(path: Path, head: dict, meta: dict) -> None:
    """Each feature table has V + 1 rows; an MMMLP's parameters are exactly those its config implies."""
    n = meta["n_items"] + 1
    modalities = [m for m in meta["modalities"] if m != "id"]
    widths = {}
    for m in modalities:
        e = head.get(FEATURE_PREFIX + m)
        if e is None or len(e["shape"]) != 2 or e["shape"][0] != n:
            raise UserError(f"{path}: the feature table of {m} is missing or does not have {n} rows")
        widths[m] = e["shape"][1]
    tables = {k for k in head if k.startswith(FEATURE_PREFIX)}
    if tables != {FEATURE_PREFIX + m for m in modalities}:
        raise UserError(f"{path}: its feature tables do not match its modalities {','.join(meta['modalities'])}")
    if meta.get("model", "mmmlp") != "mmmlp":
        return                                        # a baseline: its torch module checks on load
    cfg = MMMLPConfig.from_dict(meta["config"])
    try:
        specs = param_specs(cfg, meta["n_items"], widths)
    except ValueError as err:
        raise UserError(f"{path}: its config does not describe a model ({err})") from None
    params = {k: e["shape"] for k, e in head.items() if k not in tables}
    for name, (shape, _) in specs.items():
        if params.get(name) != list(shape):
            raise UserError(f"{path}: parameter {name} is missing or has shape {params.get(name)} "
                            f"(expected {list(shape)}); the file does not match its own config")
    extra = sorted(set(params) - set(specs))
    if extra:
        raise UserError(f"{path}: holds parameters its config has no place for ({', '.join(extra[:3])})")


def read_model(path) -> SavedModel:
    """Read and check a ``model.safetensors`` (or the run folder holding one)."""
    path = model_path(path)
    try:
        fd = open_regular(path, what="a model file")
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(fd).st_size
            head, metadata, header = _header(path, f, size)        # the header alone, first
            meta, item_ids, prints = _parsed(path, metadata)
            _check_shapes(path, head, meta)
            body = max((e["data_offsets"][1] for e in head.values()), default=0)
            if len(header) + body != size:
                raise UserError(f"{path}: holds {size - len(header) - body:,} bytes after its tensors; not a "
                                f"model file as this package saves it (damaged, or appended to)")
            free = available_memory()
            if free is not None and body > free:
                raise UserError(f"{path}: its tensors hold {body:,} bytes, more than this machine's free "
                                f"memory ({free} bytes); they are not read")
            blob = header + f.read(body)                          # then only the bytes they imply
    except OSError as err:
        raise UserError(f"{path}: cannot be read ({err.strerror or err})") from None
    from safetensors import SafetensorError
    from safetensors.numpy import load
    try:
        arrays = load(blob)
    except (SafetensorError, ValueError) as err:
        raise UserError(f"{path}: not a readable tiny_mmmlp model file ({err})") from None
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise UserError(f"{path}: holds NaN or inf values; the file is damaged or training diverged")
    features = {k[len(FEATURE_PREFIX):]: v.astype(np.float32, copy=False)
                for k, v in arrays.items() if k.startswith(FEATURE_PREFIX)}
    params = {k: v for k, v in arrays.items() if not k.startswith(FEATURE_PREFIX)}
    return SavedModel(path, params, meta, item_ids, features, prints)


def load_model(path) -> tuple[dict, dict]:
    """(params, meta) of a ``model.safetensors`` or a run folder holding one."""
    saved = read_model(path)
    return saved.params, saved.meta
