"""Atomic writes and guarded opens: nothing is left half-written, nothing is written through a link.

Every file is written to a temporary sibling and moved into place with ``os.replace``
(atomic on POSIX within one file system). Whole folders are built in a temporary sibling
folder and renamed at the end, so a reader sees either nothing or the finished folder.
A folder a command is told to write (``replacing_folder``) is never merged into: one that
holds files is refused unless the caller may replace it, and then it is replaced whole, so
no file of the old folder is left beside the new ones.
Both get the modes a plain ``open`` or ``mkdir`` would give them (0666 and 0777 less the
process's umask), not the private 0600 / 0700 of Python's temporary files.

Opening never follows a link. The temporary file is created with ``O_EXCL | O_NOFOLLOW``;
a symbolic link, folder, FIFO or device where the final file should be is refused in one
sentence, never replaced or written through. ``open_regular`` and ``read_regular`` open an
existing file (or create one) the same way, without blocking on a FIFO, and accept only a
regular file; ``read_regular`` also bounds how many bytes it reads.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISLNK, "a symbolic link"))


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


def kind_of(mode: int) -> str:
    """``"a FIFO"``, ``"a folder"``, ... for a file mode that is not a regular file's."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse(path, mode: int, what: str, prefix: str) -> UserError:
    if stat.S_ISLNK(mode):
        return UserError(f"{prefix}{path}: is a symbolic link; {what} is only opened as a regular "
                         f"file, never through a link (remove the link)")
    return UserError(f"{prefix}{path}: is {kind_of(mode)}, not a regular file, so it is not "
                     f"opened as {what}")


def open_regular(path, flags: int = os.O_RDONLY, mode: int = 0o666, *, what: str = "a file",
                 prefix: str = "", single_link: bool = False) -> int:
    """A descriptor of ``path`` opened with ``flags`` (``O_CREAT`` may create it), never through
    a symbolic link and without blocking on a FIFO. Anything but a regular file is refused
    (``UserError``: ``prefix`` + the path + why, ``what`` naming what the file was to be); so
    is a file with other hard links where ``single_link`` (it is about to be changed in place)."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK, mode)
    except OSError as err:
        with contextlib.suppress(OSError):
            held = os.lstat(path).st_mode
            if err.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO) or not stat.S_ISREG(held):
                raise _refuse(path, held, what, prefix) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, info.st_mode, what, prefix)
        if single_link and info.st_nlink > 1:
            raise UserError(f"{prefix}{path}: has {info.st_nlink} hard links; {what} is never a link "
                            f"to another file (remove it)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def available_memory() -> int | None:
    """Bytes of memory the machine has free for a new allocation (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_regular(path, max_bytes: int | None = None, *, what: str = "a file", prefix: str = "") -> bytes:
    """The bytes of the regular file ``path`` (``open_regular``), at most ``max_bytes`` of them
    (None: at most the memory the machine has free); a larger file is refused unread."""
    fd = open_regular(path, what=what, prefix=prefix)
    with os.fdopen(fd, "rb") as f:
        limit = max_bytes if max_bytes is not None else available_memory()
        size = os.fstat(fd).st_size
        if limit is not None and size > limit:
            bound = (f"more than {what} can hold ({limit} bytes)" if max_bytes is not None
                     else f"more than this machine's free memory ({limit} bytes)")
            raise UserError(f"{prefix}{path}: holds {size} bytes, {bound}; it is not read")
        data = f.read(size + 1)
    if len(data) > size:                     # it grew while read: another writer
        raise UserError(f"{prefix}{path}: changed while it was read; try again")
    return data


def _check_replaceable(path: Path) -> None:
    """Refuse to replace ``path`` unless it is absent or a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        if stat.S_ISLNK(mode):
            raise UserError(f"{path}: is a symbolic link; it is never written through or replaced "
                            f"(remove the link, or write elsewhere)")
        raise UserError(f"{path}: is {kind_of(mode)}, not a regular file, so it is not replaced "
                        f"(remove it, or write elsewhere)")


def _new_temporary(path: Path) -> tuple[int, Path]:
    """(descriptor, name) of a new file ``.<name>.<random>.tmp`` beside ``path``, made with
    O_EXCL | O_NOFOLLOW: never an existing file, never through a link."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path))


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + os.replace).
    A link or special file at ``path`` is refused; a failed write (a full disk) names ``path``."""
    write_chunks(path, [data])


def write_lines(path: Path, lines) -> None:
    """Write the UTF-8 text ``lines`` (each ending in its own newline) to ``path`` atomically,
    one at a time: the file's text is never held whole."""
    write_chunks(path, (line.encode("utf-8") for line in lines))


def write_chunks(path: Path, chunks) -> None:
    """Write the bytes of ``chunks`` (an iterable) to ``path`` atomically, as ``write_bytes``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_replaceable(path)
    fd, tmp = _new_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            for chunk in chunks:
                f.write(chunk)
        _check_replaceable(path)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from None      # ENOSPC: which file
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

    If another process finished ``final`` first, its folder wins and ours is discarded. A
    symbolic link at ``final`` is refused, never renamed over or taken for a finished folder.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_symlink():
        raise UserError(f"{final}: is a symbolic link; a folder this program builds is never "
                        f"reached through a link (remove the link)")
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        try:
            os.replace(tmp, final)  # fails if final exists and is not empty
        except OSError:
            if not final.is_dir() or final.is_symlink():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def replacing_folder(final: Path, overwrite: bool, flag: str = "--out", inputs=()):
    """Yield a fresh temporary sibling folder to build in; on success it becomes ``final``.

    ``final`` may be absent or empty; one that holds files is refused (``UserError`` naming
    ``flag``) unless ``overwrite``, and then replaced whole: the old folder is moved aside,
    the new one renamed into place, the old one deleted. Never the current folder (or one
    holding it), nor one holding any of ``inputs``. On failure or Ctrl-C nothing changes.
    """
    final = Path(final)
    if os.path.lexists(final) and (final.is_symlink() or not final.is_dir()):
        raise UserError(f"{flag} {final}: is {kind_of(os.lstat(final).st_mode)}, not a folder; give a folder "
                        f"name (a new one is made)")
    held = sorted(p.name for p in final.iterdir())[:3] if final.is_dir() else []
    if held and not overwrite:
        raise UserError(f"{flag} {final}: holds files already ({', '.join(held)}, ...); give a new or empty "
                        f"folder, or add --overwrite to replace the folder and everything in it")
    if held:
        whole = final.resolve()
        for inside in [Path.cwd(), *inputs]:
            if inside is not None and (whole == Path(inside).resolve() or whole in Path(inside).resolve().parents):
                raise UserError(f"{flag} {final}: holds {inside}, so --overwrite would delete it; choose "
                                f"another folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        if held:                                      # the old folder goes only once the new one is whole
            old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)                    # a rename onto an empty folder, or a new one
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
