"""Atomic writes: nothing in the cache or an output folder is ever left half-written.

Every file is written to a temporary sibling and moved into place with ``os.replace``
(atomic on POSIX within one file system). Whole folders are built in a temporary sibling
folder and renamed at the end, so a reader sees either nothing or the finished folder.
Both get the modes a plain ``open`` or ``mkdir`` would give them (0666 and 0777 less the
process's umask), not the private 0600 / 0700 of Python's temporary files.
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


def current_umask() -> int:
    """The process's umask, read without changing it where Linux reports it (another thread
    creating a file meanwhile never sees a umask of 0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
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
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        try:
            os.replace(tmp, final)  # fails if final exists and is not empty
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
