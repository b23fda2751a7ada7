"""Checkpoints without pickle: arrays in ``.npz``, everything else in JSON.

A run folder holds:
- ``model.safetensors``: the best parameters, the feature tables and the raw item ids
  (model_file.py).
- ``checkpoint.json`` + ``checkpoint-<sha>.npz``: everything ``--resume`` needs to continue
  exactly (current and best parameters, optimizer moments and step counts, NumPy and torch
  generator states, the epoch history, the run's settings).

Nothing is ever unpickled: ``.npz`` files are read with ``allow_pickle=False`` and the rest
is plain JSON, so a crafted file can at worst be refused, never run code. Reading is bounded
too: both files are opened only as regular files (never through a link, never a FIFO),
checkpoint.json holds at most ``MAX_JSON_BYTES``, and each ``.npz`` member's declared size,
its compression ratio and its array header are checked before it is read (``_check_members``),
so a small crafted file cannot fill memory. Float arrays must be finite.

State is any nested structure of dicts, lists, tuples, numbers, strings, None, NumPy arrays
and (if a backend hands them over) torch tensors. ``flatten`` walks it: each array goes into
the ``.npz`` under its key path (``backend/optimizer/m.id.embedding``), and the JSON keeps
the structure with a small tag in its place. The ``.npz`` is written first under a name
holding its SHA-256, then ``checkpoint.json`` (naming it and its hash) replaces the old one
atomically, then the previous ``.npz`` is removed: a kill at any moment leaves a complete,
matching pair, and a flipped byte in either file is detected on load.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import NPY_ERRORS, UserError
from .files import available_memory, read_regular, write_bytes, write_text
from .interrupts import held

CHECKPOINT_FILE = "checkpoint.json"
LEGACY_CHECKPOINT = "checkpoint.pkl"
FORMAT = "tiny_mmmlp-checkpoint-2"     # 1 saved the command-line flags, 2 the RunConfig
MAX_JSON_BYTES = 8 * 2**20             # a run's checkpoint.json is some kB (its history grows ~0.5 kB an epoch)
MAX_RATIO = 10                         # raw / compressed bytes of an .npz member (ours are stored: 1)
# what a damaged .npz raises. A flipped byte in a zip header can also make zipfile raise
# RuntimeError (a member marked encrypted; NotImplementedError, its subclass, for an unknown
# version or compression method) or zlib.error (a member marked deflated): damage too
_NPZ_ERRORS = (*NPY_ERRORS, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
               RuntimeError, zlib.error)


def _why(err) -> str:
    """What was wrong with a file np.load refused. NumPy's own words advise loading a file
    unsafely (allow_pickle=, pickle.load) where it takes a non-.npz file for a pickle or meets
    an object array: never repeated to the user."""
    if "allow_pickle" not in str(err):
        return f"{type(err).__name__}: {err}"
    if "Object arrays" in str(err):
        return "it holds an object array, which is never loaded: unpickling can run code"
    return "not a NumPy .npz archive"


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ---- generic state <-> (JSON tree, arrays) ---------------------------------------------------

def flatten(state, arrays: dict, path: str = "state"):
    """A JSON-able tree of ``state``; every array is moved into ``arrays`` under its key path."""
    if isinstance(state, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in state):
            return {k: flatten(v, arrays, f"{path}/{k}") for k, v in state.items()}
        return {"__dict__": [[flatten(k, arrays, f"{path}/key{i}"), flatten(v, arrays, f"{path}/{k}")]
                             for i, (k, v) in enumerate(state.items())]}
    if isinstance(state, tuple):
        return {"__tuple__": [flatten(v, arrays, f"{path}/{i}") for i, v in enumerate(state)]}
    if isinstance(state, list):
        return [flatten(v, arrays, f"{path}/{i}") for i, v in enumerate(state)]
    if isinstance(state, (np.ndarray, np.generic)):
        arrays[path] = np.asarray(state)
        return {"__array__": path, "scalar": isinstance(state, np.generic)}
    if type(state).__module__.split(".")[0] == "torch" and hasattr(state, "detach"):
        arrays[path] = state.detach().cpu().numpy()
        return {"__tensor__": path}
    if isinstance(state, float) and not math.isfinite(state):
        return {"__float__": repr(state)}
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    raise TypeError(f"checkpoint state at {path} has a {type(state).__name__}, which is not saved")


def unflatten(tree, arrays):
    """The inverse of ``flatten``; raises ValueError on anything it did not write."""
    if isinstance(tree, list):
        return [unflatten(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        if tree is None or isinstance(tree, (bool, int, float, str)):
            return tree
        raise ValueError(f"unexpected {type(tree).__name__}")
    if "__dict__" in tree:
        return {unflatten(k, arrays): unflatten(v, arrays) for k, v in tree["__dict__"]}
    if "__tuple__" in tree:
        return tuple(unflatten(v, arrays) for v in tree["__tuple__"])
    if "__array__" in tree:
        a = arrays[tree["__array__"]]
        return a[()] if tree.get("scalar") else a
    if "__tensor__" in tree:
        import torch
        return torch.from_numpy(np.array(arrays[tree["__tensor__"]]))
    if "__float__" in tree:
        if tree["__float__"] not in ("nan", "inf", "-inf"):
            raise ValueError("bad float tag")
        return float(tree["__float__"])
    return {k: unflatten(v, arrays) for k, v in tree.items()}


# ---- checkpoint.json + checkpoint-<sha>.npz ------------------------------------------------

def save_checkpoint(folder, state: dict):
    """Write ``state`` (see the module docstring) so that a kill at any moment loses nothing."""
    folder = Path(folder)
    arrays = {}
    tree = flatten(state, arrays)
    key = non_finite(arrays)
    if key is not None:              # it would not load: the checkpoint on disk stays the last good one
        raise NotFinite(f"{key} holds NaN or inf")
    with held():                     # Ctrl-C or kill waits for the whole pair (interrupts.py)
        blob = _npz_bytes(arrays)
        digest = hashlib.sha256(blob).hexdigest()
        npz_name = f"checkpoint-{digest[:16]}.npz"
        write_bytes(folder / npz_name, blob)
        write_text(folder / CHECKPOINT_FILE, json.dumps(
            {"format": FORMAT, "arrays": npz_name, "sha256": digest, "state": tree},
            allow_nan=False, indent=1))
        for stale in folder.glob("checkpoint-*.npz"):  # earlier array files: names only we write
            if stale.name != npz_name and _is_ours(stale.name) and not stale.is_dir():
                stale.unlink(missing_ok=True)      # a link there: the link goes, not its target


def _is_ours(name: str) -> bool:
    """``checkpoint-<16 hex digits>.npz``, the only array-file name ``save_checkpoint`` writes."""
    stem = name[len("checkpoint-"):-len(".npz")]
    return (name.startswith("checkpoint-") and name.endswith(".npz") and len(stem) == 16
            and all(c in "0123456789abcdef" for c in stem))


def has_checkpoint(folder) -> bool:
    """Whether ``folder`` has a checkpoint to resume (a link or odd file there counts: loading
    it then says what is wrong with it)."""
    return any(os.path.lexists(Path(folder) / name) for name in (CHECKPOINT_FILE, LEGACY_CHECKPOINT))


def _check_members(z: zipfile.ZipFile, size: int) -> None:
    """Raise ValueError unless every member of the ``.npz`` (``size`` bytes) is a ``.npy`` whose
    header declares exactly the bytes the member holds, compressed at most ``MAX_RATIO`` times,
    all of them together fitting in memory: checked before any array is read."""
    infos = z.infolist()
    total = sum(i.file_size for i in infos)
    free = available_memory()
    if total > MAX_RATIO * size or (free is not None and total > free):
        raise ValueError(f"its members claim {total} bytes unpacked, from {size} bytes on disk")
    headers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    for info in infos:
        if info.file_size > MAX_RATIO * info.compress_size:
            raise ValueError(f"member {info.filename} claims {info.file_size} bytes from "
                             f"{info.compress_size} compressed, more than a checkpoint holds")
        with z.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in headers:
                raise ValueError(f"member {info.filename} has .npy format {version}")
            shape, _, dtype = headers[version](f)
            if dtype.hasobject:
                raise ValueError("allow_pickle: Object arrays")          # worded by _why
            if f.tell() + math.prod(shape) * dtype.itemsize != info.file_size:
                raise ValueError(f"member {info.filename} declares shape {shape} of {dtype}, "
                                 f"which is not the {info.file_size} bytes it holds")


class NotFinite(ValueError):
    """A state holding NaN or inf, which no checkpoint is written with (it could not be loaded)."""


def non_finite(arrays: dict) -> str | None:
    """The first array of ``arrays`` holding NaN or inf, or None: the one rule of saving and loading."""
    return next((key for key, a in arrays.items() if a.dtype.kind in "fc" and not np.isfinite(a).all()), None)


def _check_finite(npz: Path, arrays: dict, reader: str) -> None:
    key = non_finite(arrays)
    if key is not None:
        raise UserError(f"{reader}{npz} holds NaN or inf values ({key}); the checkpoint is "
                        f"damaged or its training diverged, so it is not loaded")


def load_checkpoint(folder, reader: str = "--resume: ") -> dict:
    """Read the state saved by ``save_checkpoint``, checking the hash; never unpickles. Errors
    begin with ``reader`` (what was reading it: train.py's --resume, or nothing)."""
    folder = Path(folder)
    path = folder / CHECKPOINT_FILE
    if not os.path.lexists(path):
        if os.path.lexists(folder / LEGACY_CHECKPOINT):
            raise UserError(f"{reader}{folder / LEGACY_CHECKPOINT} is an old pickle checkpoint, "
                            f"which is never loaded (pickle can run code); start a new run")
        raise UserError(f"{reader}{path} does not exist (give the --out folder of an earlier run)")
    try:
        raw = read_regular(path, MAX_JSON_BYTES, what="a checkpoint", prefix=reader)
        head = json.loads(raw.decode("utf-8"))
        if isinstance(head, dict) and head.get("format") == "tiny_mmmlp-checkpoint-1":
            raise UserError(f"{reader}{path} was written by an older version of tiny_mmmlp (checkpoint "
                            f"format 1, this version reads {FORMAT}); start a new run with --overwrite, "
                            f"or finish it with the version that wrote it")
        if not isinstance(head, dict) or head.get("format") != FORMAT or not _is_ours(str(head.get("arrays"))):
            raise ValueError("not a tiny_mmmlp checkpoint")
        npz = folder / head["arrays"]
        blob = read_regular(npz, what="a checkpoint's arrays", prefix=reader)
        if hashlib.sha256(blob).hexdigest() != head.get("sha256"):
            raise ValueError(f"{head['arrays']} does not match the hash recorded for it")
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            _check_members(z, len(blob))
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        del blob
        _check_finite(npz, arrays, reader)
        state = unflatten(head["state"], arrays)
    except (*_NPZ_ERRORS, TypeError, AttributeError, ImportError, RecursionError) as err:
        raise UserError(f"{reader}{path} is not a readable checkpoint ({_why(err)})") from None
    if not isinstance(state, dict):
        raise UserError(f"{reader}{path} is not a readable checkpoint (its state is not a mapping)")
    return state


def saved_epoch(folder) -> int | None:
    """The epoch of the checkpoint in ``folder`` as its checkpoint.json records it (no arrays
    read), or None when there is none or it cannot be read: what a stopped run tells its user."""
    try:
        head = json.loads(read_regular(Path(folder) / CHECKPOINT_FILE, MAX_JSON_BYTES).decode("utf-8"))
        epoch = head["state"]["run"]["epoch"]
    except (UserError, OSError, ValueError, KeyError, TypeError):
        return None
    return epoch if type(epoch) is int else None
