"""Atomic writes: nothing in the cache or an output folder is ever left half-written.

Every file is written to a temporary sibling and moved into place with ``os.replace``
(atomic on POSIX within one file system). Whole folders are built in a temporary sibling
folder and renamed at the end, so a reader sees either nothing or the finished folder.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """``$TINY_MMMLP_CACHE`` if set, else ``~/.cache/tiny_mmmlp``."""
    env = os.environ.get("TINY_MMMLP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tiny_mmmlp"


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def save_npy(path: Path, array: np.ndarray) -> None:
    """Save one array as ``.npy`` atomically."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def building_folder(final: Path):
    """Yield a fresh temporary folder; on success rename it to ``final``, else delete it.

    If another process finished ``final`` first, its folder wins and ours is discarded.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        try:
            os.replace(tmp, final)  # fails if final exists and is not empty
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
