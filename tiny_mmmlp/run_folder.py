"""The run folder: one training writes it, an existing run is never silently replaced.

- ``default_out``: ``runs/<data>-<modalities>-<backend>``, so an ablation starts a new folder;
  ``first_free``: ``-2``, ``-3``, ... after it where that folder holds a run already.
- ``RunLock``: ``<out>/.lock``, held with ``fcntl.flock`` for the life of the run. A second
  training into the same folder exits 2 naming the holder's pid. The kernel drops the lock
  when its process dies (even by ``kill -9``), so a stale lock file never blocks a new run.
- ``prepare``: a new run into a folder that holds one exits 2 naming ``--resume`` and
  ``--overwrite``; ``--overwrite`` removes only the files a run writes (a link among them is
  removed itself, never what it points to). Without it, a run file that is a link, folder,
  FIFO or device is refused by name. The lock file is opened only as a regular file with one
  link (never through a symbolic link), so a planted ``.lock`` cannot truncate another file.
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from .checkpoint import CHECKPOINT_FILE, LEGACY_CHECKPOINT, has_checkpoint
from .errors import UserError
from .files import kind_of, open_regular
from .model_file import LEGACY_MODEL_FILE, MODEL_FILE
from .run_config import CONFIG_FILE

LOCK_FILE = ".lock"
RUN_FILES = (CHECKPOINT_FILE, MODEL_FILE, CONFIG_FILE, "metrics.json", "curves.png", LEGACY_CHECKPOINT,
             LEGACY_MODEL_FILE)
RUN_PATTERNS = ("checkpoint-*.npz",)
_TMP = re.compile(r"^\.(checkpoint.*|model\.safetensors|config\.json|metrics\.json|curves\.png|README\.md)\.[^/]*\.tmp$")


def default_out(data_name: str, modalities: list, runner: str) -> Path:
    """``runs/<data>-<modalities joined by +>-<backend or baseline>``, e.g.
    ``runs/toyshop-all-numpy`` or ``runs/toyshop-id+text-numpy``: an ablation starts a new folder."""
    from .data.safe_names import safe_stem
    return Path("runs") / f"{safe_stem(data_name)}-{'+'.join(modalities)}-{runner}"


def first_free(out: Path) -> Path:
    """``out``, or where it holds a run already, the first of ``out-2``, ``out-3``, ... that does
    not: a run without --out (one repeated from a configuration, say) starts a folder of its
    own instead of stopping at the run before it."""
    for n in range(1, 10_000):
        candidate = out if n == 1 else out.with_name(f"{out.name}-{n}")
        if not os.path.lexists(candidate) or (candidate.is_dir() and not holds_run(candidate)):
            return candidate
    return out                                       # all taken: the usual refusal names it


def holds_run(out: Path) -> bool:
    return any(os.path.lexists(out / f) for f in RUN_FILES) or any(
        any(out.glob(p)) for p in RUN_PATTERNS)


def _run_entries(out: Path) -> list:
    """The entries of ``out`` that a run writes (its files and checkpoint arrays)."""
    found = [out / f for f in RUN_FILES if os.path.lexists(out / f)]
    return found + [p for pattern in RUN_PATTERNS for p in sorted(out.glob(pattern))]


def _refuse_odd_entries(out: Path, entries: list) -> None:
    """A run file that is a symbolic link, folder, FIFO or device is refused by name: training
    would write through it or fail on it at the end."""
    for p in entries:
        mode = os.lstat(p).st_mode
        if not stat.S_ISREG(mode):
            raise UserError(f"--out {out}: {p.name} is {kind_of(mode)}, not a file a run writes; "
                            f"remove it (or replace the run with --overwrite), or choose another --out")


def _check_folder(out: Path) -> None:
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise UserError(f"--out {out}: {parent} is a file, not a folder")


class RunLock:
    """``with RunLock(out):`` -- exclusive right to write ``out`` (see the module docstring)."""

    def __init__(self, out: Path):
        self.out, self.fd = Path(out), None

    def __enter__(self):
        import fcntl
        _check_folder(self.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as err:                   # e.g. under /proc, or a folder not ours
            raise UserError(f"--out {self.out}: cannot make this folder here "
                            f"({err.strerror or err}); choose another --out") from None
        path = self.out / LOCK_FILE
        fd = open_regular(path, os.O_RDWR | os.O_CREAT, 0o644, what="the run's lock file",
                          prefix=f"--out {self.out}: ", single_link=True)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"--out {self.out}: another training (pid {holder}) is writing this run "
                            f"folder; wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc):
        import fcntl
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        return False


def remove_stale_temporaries(out: Path) -> None:
    """Delete ``.<run file>.*.tmp`` left by a killed run (only names our atomic writer makes)."""
    for p in out.iterdir():
        if _TMP.match(p.name) and (p.is_symlink() or p.is_file()):
            p.unlink(missing_ok=True)            # a link itself, never its target


def check_request(out: Path, resume: bool, overwrite: bool) -> None:
    """Checks that need no lock: contradicting flags, a file in the way, nothing to resume."""
    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other; give one of them")
    _check_folder(out)
    if resume and not has_checkpoint(out):
        raise UserError(f"--resume: {out / CHECKPOINT_FILE} does not exist (give the --out folder "
                        f"of an earlier run)")


def prepare(out: Path, resume: bool, overwrite: bool) -> None:
    """Check (under the lock) that this run may write ``out``; with --overwrite, clear the old run."""
    remove_stale_temporaries(out)
    entries = _run_entries(out)
    if not overwrite:
        _refuse_odd_entries(out, entries)
    if resume or not entries:
        return
    if not overwrite:
        raise UserError(f"--out {out} already holds a run; continue it with --resume (and the same "
                        f"flags), replace it with --overwrite, or choose another --out")
    for p in entries:             # a link is removed itself, never what it points to
        if os.path.isdir(p) and not os.path.islink(p):
            raise UserError(f"--out {out}: {p.name} is a folder, not a file a run writes; remove "
                            f"it yourself, or choose another --out")
        p.unlink(missing_ok=True)
