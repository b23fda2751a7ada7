"""Read text files line by line (plain or gzipped) with errors that name the file and line.

The one reader of the data files people hand over: every line bounded (``MAX_LINE_BYTES``),
a gzip stream bounded in how far it inflates (``MAX_GZIP_RATIO``), bytes that are not UTF-8
named by line and column, and a line of a CSV split by ``csv_fields``, whose every problem
(a carriage return inside a line, a quote left open, a field over the csv module's limit)
is one sentence naming the line, never a ``_csv.Error``.
"""
from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path
from typing import Iterator

from ..errors import UserError

# one line of a data file is at most this long (a review or product record is a few KB; a
# one-line file that inflates without end is refused before it fills memory)
MAX_LINE_BYTES = 64 << 20
# a gzip stream that inflates to more than this many times its compressed size, past the first
# MAX_GZIP_FREE bytes, is refused: review and metadata JSON compresses 5 to 20 times, while a
# file of one line repeated compresses hundreds of times and would fill memory as rows
MAX_GZIP_RATIO = 100
MAX_GZIP_FREE = 64 << 20


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


def _compressed_read(f) -> int | None:
    """Bytes read so far from the file under a gzip stream, or None for a plain file."""
    raw = getattr(f, "fileobj", None)
    try:
        return raw.tell() if raw is not None else None
    except (OSError, ValueError):
        return None


def iter_lines(path: Path, max_line_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line of ``path`` (1-based, newline stripped).

    Bytes that are not UTF-8 raise ``UserError`` naming the file, line and column; a UTF-8 byte
    order mark at the start is dropped; a line longer than ``max_line_bytes``, or a gzip
    stream that inflates more than ``MAX_GZIP_RATIO`` times, is refused before it is read whole.
    """
    max_line_bytes = max_line_bytes or MAX_LINE_BYTES
    with open_binary(path) as f:
        try:
            number, inflated = 0, 0
            while raw := f.readline(max_line_bytes + 1):
                number += 1
                inflated += len(raw)
                if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                    raise UserError(f"{path} line {number}: longer than {max_line_bytes:,} bytes; "
                                    f"a data file holds one record a line.")
                packed = _compressed_read(f)
                if packed is not None and inflated > MAX_GZIP_FREE and inflated > MAX_GZIP_RATIO * max(packed, 1):
                    raise UserError(f"{path} line {number}: the gzip stream inflates over "
                                    f"{MAX_GZIP_RATIO} times its size; it is not a data file.")
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise UserError(
                        f"{path} line {number}: byte 0x{raw[err.start]:02x} at column "
                        f"{err.start + 1} is not valid UTF-8 (save the file as UTF-8).") from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as err:  # truncated or corrupt gzip stream
            raise UserError(f"{path}: cannot be read ({err}).") from None


def csv_fields(text: str, path, number: int, delimiter: str = ",") -> list:
    """The fields of one CSV line (as pandas writes it), or one sentence naming the line."""
    if "\r" in text:
        raise UserError(f"{path} line {number}: holds a carriage return inside the line (line ends of "
                        f"CR alone?); save the file with LF or CRLF line ends.")
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as err:
        why = str(err)
        reason = (f"a field is longer than {csv.field_size_limit():,} characters" if "field limit" in why else
                  "a quoted field runs past the end of the line (a line break inside quotes); ids and "
                  "times hold none" if "unexpected end of data" in why else
                  "a quote inside a field that does not start with one (write such a field quoted, "
                  "its quotes doubled)" if "expected after" in why else why)
        raise UserError(f"{path} line {number}: {reason}.") from None
