"""The kit as the grader reads it (once, before any student code runs), and the copy each
exercise's child process imports.

``snapshot`` reads the ``.py`` files of ``KIT/tiny_mmmlp`` (only regular files, at most
``MAX_FILE`` bytes each; no ``.pyc``, no extension modules, no FIFO, nothing under a linked
folder) and notes the symbolic links and what it skipped. ``stage`` writes one exercise's
copy: every other exercise's body replaced by the installed reference's, and every other
file that does not parse replaced by the installed one, so exercise k is graded on its own
(an unfinished LayerNorm backward does not fail token mixing). Nothing here runs the kit's
code: source is only parsed.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import stubs
from .exercises import EXERCISES, exercise
from .plain import Unreadable, read_regular_file

PACKAGE = "tiny_mmmlp"
MAX_FILE = 2 * 2**20
MAX_TOTAL = 64 * 2**20
MAX_FILES = 5_000


@dataclass
class Snapshot:
    files: dict = field(default_factory=dict)     # path inside the package (posix) -> bytes
    links: list = field(default_factory=list)     # paths that are symbolic links ("" for the package)
    skipped: list = field(default_factory=list)   # "path (why)"


def installed_root() -> Path:
    import tiny_mmmlp

    return Path(tiny_mmmlp.__file__).resolve().parent


@lru_cache(maxsize=None)
def installed_text(path: str):
    """The installed package's file ``path`` (posix, inside the package), or None."""
    try:
        return (installed_root() / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def snapshot(kit: Path) -> Snapshot:
    snap, total = Snapshot(), 0
    root = Path(kit) / PACKAGE
    if root.is_symlink():
        snap.links.append("")
    for folder, dirs, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root)
        for d in list(dirs):
            if d == "__pycache__":
                dirs.remove(d)
            elif (Path(folder) / d).is_symlink():
                snap.links.append((rel_folder / d).as_posix())
                snap.skipped.append(f"{(rel_folder / d).as_posix()}/ (a linked folder)")
        for name in sorted(names):
            rel = (rel_folder / name).as_posix()
            if not name.endswith(".py"):
                if not name.endswith(".pyc"):
                    snap.skipped.append(f"{rel} (not a .py file)")
                continue
            if (Path(folder) / name).is_symlink():
                snap.links.append(rel)
            if len(snap.files) >= MAX_FILES or total > MAX_TOTAL:
                snap.skipped.append(f"{rel} (the kit holds too many files)")
                continue
            try:
                data = read_regular_file(Path(folder) / name, MAX_FILE, follow=True)
            except Unreadable as err:
                snap.skipped.append(f"{rel} ({err})")
                continue
            snap.files[rel] = data
            total += len(data)
    return snap


@lru_cache(maxsize=4096)
def parses(data: bytes) -> bool:
    try:
        ast.parse(data)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeDecodeError):
        return False


def restore(text: str, qualname: str, reference: str) -> str:
    """``text`` with ``qualname``'s def taken from ``reference``; unchanged where either lacks it."""
    try:
        return stubs.replace_function(text, qualname, stubs.function_source(reference, qualname))
    except (ValueError, SyntaxError):
        return text


def staged_files(snap: Snapshot, k: int) -> dict:
    """The files of exercise k's copy: path -> bytes."""
    own = exercise(k).path
    files = {}
    for path, data in snap.files.items():
        installed = installed_text(path)
        if path != own and not parses(data) and installed is not None:
            data = installed.encode("utf-8")
        files[path] = data
    for j, ex in enumerate(EXERCISES, 1):
        reference = installed_text(ex.path)
        if j == k or ex.path not in files or reference is None or not parses(files[ex.path]):
            continue
        try:
            text = files[ex.path].decode("utf-8")
        except UnicodeDecodeError:
            continue
        files[ex.path] = restore(text, ex.function, reference).encode("utf-8")
    return files


def stage(snap: Snapshot, k: int, dest: Path) -> None:
    """Write exercise k's copy of the package to ``dest/tiny_mmmlp``. It always has an
    ``__init__.py``: without one it would be a namespace package, and an installed
    ``tiny_mmmlp`` later on the search path would win the import."""
    files = staged_files(snap, k)
    files.setdefault("__init__.py", b"")
    for path, data in files.items():
        target = Path(dest) / PACKAGE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def syntax_error(snap: Snapshot, k: int):
    """A sentence if exercise k's own file is missing or does not parse, else None."""
    path = exercise(k).path
    if path not in snap.files:
        return f"the kit has no readable tiny_mmmlp/{path}"
    try:
        ast.parse(snap.files[path])
    except SyntaxError as err:
        return f"the kit's tiny_mmmlp/{path} does not import (SyntaxError: {err.msg}, line {err.lineno})"
    except (ValueError, RecursionError, MemoryError, UnicodeDecodeError) as err:
        return f"the kit's tiny_mmmlp/{path} does not import ({type(err).__name__})"
    return None
