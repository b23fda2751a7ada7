"""Checkpoints, written atomically (temporary file, then rename).

A run folder holds two files:
- ``model.npz``: the best parameters under the shared names, plus the config and the data
  description as JSON. Portable: any backend loads it (NumPy only needs numpy).
- ``checkpoint.pkl``: everything ``--resume`` needs to continue exactly: current and best
  parameters, optimizer and random-generator state, the epoch history.
"""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np

from .data.atomic import write_bytes
from .errors import UserError

MODEL_FILE, CHECKPOINT_FILE = "model.npz", "checkpoint.pkl"


def save_model(folder, params: dict, meta: dict):
    """Write ``model.npz``: params by name and ``meta`` (config, data, modalities) as JSON."""
    arrays = dict(params)
    arrays["__meta__"] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(Path(folder) / MODEL_FILE, buf.getvalue())


def load_model(path):
    """Read a ``model.npz`` (or a run folder holding one). Returns (params, meta)."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.exists():
        raise UserError(f"{path}: no trained model here (train one with python -m tiny_mmmlp.train)")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            params = {k: z[k] for k in z.files if k != "__meta__"}
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: not a tiny_mmmlp model file ({err})") from None
    return params, meta


def save_checkpoint(folder, state: dict):
    write_bytes(Path(folder) / CHECKPOINT_FILE, pickle.dumps(state, protocol=4))


def load_checkpoint(folder) -> dict:
    path = Path(folder) / CHECKPOINT_FILE
    if not path.exists():
        raise UserError(f"--resume: {path} does not exist (give the --out folder of an earlier run)")
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        raise UserError(f"--resume: {path} is not a readable checkpoint ({err})") from None
