"""The grader's own files, fixed before any child runs and checked after the last one.

``Seal`` hashes (SHA-256) every ``.py`` file of the installed package, the grader's and
the reference's, when grading starts, after the grader has imported every module it will
use (``grade`` imports the checks of both parts at its top, and draws every case before the
first child starts), and keeps the bytes of the files a child is given (``child.py``,
``plain.py``, ``child_triton.py``), so that a child's copy never comes from disk later.
``changed()`` hashes them again: the grader refuses to report when any differs, since a
later import, or a later grader, might then run code a student wrote.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

MAX_FILES = 5_000


def _digests(root: Path) -> dict:
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py") and len(found) < MAX_FILES:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as f:
                        found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    found[os.path.relpath(path, root)] = None
    return found


class Seal:
    """The installed package's sources at one moment, and the runner files' bytes."""

    def __init__(self, root: Path, runner_folder: Path, runner_names):
        self.root = Path(root)
        self.digests = _digests(self.root)
        self.runner = {name: (Path(runner_folder) / name).read_bytes() for name in runner_names}

    def changed(self) -> list:
        """The files (relative to the package) added, removed or changed since the seal."""
        now = _digests(self.root)
        return sorted(p for p in set(now) | set(self.digests) if now.get(p) != self.digests.get(p))
