"""Read text files line by line (plain or gzipped) with errors that name the file and line."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Iterator

from ..errors import UserError


def open_binary(path: Path):
    """Open ``path`` for reading bytes, transparently un-gzipping gzip files (by their magic bytes)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file.")
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def first_bytes(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of ``path`` (un-gzipped), or what a corrupt stream gives before failing."""
    try:
        with open_binary(path) as f:
            return f.read(n)
    except (OSError, EOFError, zlib.error):
        return b""


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line of ``path`` (1-based, newline stripped).

    Bytes that are not UTF-8 raise ``UserError`` naming the file, line and column.
    """
    with open_binary(path) as f:
        try:
            for number, raw in enumerate(f, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise UserError(
                        f"{path} line {number}: byte 0x{raw[err.start]:02x} at column "
                        f"{err.start + 1} is not valid UTF-8 (save the file as UTF-8).") from None
                yield number, text.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as err:  # truncated or corrupt gzip stream
            raise UserError(f"{path}: cannot be read ({err}).") from None
