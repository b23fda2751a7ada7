"""RecBole atomic files: ``<name>.inter`` and ``<name>.item``, tab-separated with a typed header.

    user_id:token   item_id:token   timestamp:float
    A3LXYBB...      B002SQJL9U      0

A header names each column as ``field:type`` (types: token, token_seq, float, float_seq).
Every problem a user's file can have raises ``UserError`` naming the file and line.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import UserError
from ..files import write_lines, write_text
from .textfile import iter_lines

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")


def read_atomic(path: Path, required: tuple[str, ...]) -> tuple[list, list, list]:
    """Read one atomic file.

    Returns ``(header, rows, line_numbers)``: header is a list of ``(field, type)``, rows a
    list of string lists (one per data line, same length as header), line_numbers the
    1-based line each row came from. ``required`` fields must appear in the header.
    """
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise UserError(f"{path} line 1: the file is empty; expected a header like "
                        f"'user_id:token<TAB>item_id:token<TAB>timestamp:float'.")
    header = []
    for column in first[1].split("\t"):
        name, _, ftype = column.strip().partition(":")
        if ftype not in FIELD_TYPES:
            raise UserError(f"{path} line 1: header column {column!r} is not 'name:type' with "
                            f"type one of {', '.join(FIELD_TYPES)}.")
        header.append((name, ftype))
    names = [name for name, _ in header]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UserError(f"{path} line 1: the header names {', '.join(twice)} more than once; "
                        f"keep one column of each name.")
    missing = [name for name in required if name not in names]
    if missing:
        raise UserError(f"{path} line 1: header lacks the column(s) {', '.join(missing)} "
                        f"(found {', '.join(names)}).")
    rows, numbers = [], []
    width = len(header)
    for number, text in lines:
        if not text.strip():
            continue
        values = text.split("\t")
        if len(values) != width:
            raise UserError(f"{path} line {number}: has {len(values)} tab-separated fields "
                            f"but the header has {width}.")
        rows.append(values)
        numbers.append(number)
    return header, rows, numbers


def parse_float(value: str, path: Path, number: int, field: str) -> float:
    """``float(value)`` or a ``UserError`` naming the file, line and field (NaN and inf included)."""
    try:
        number_value = float(value)
    except ValueError:
        raise UserError(f"{path} line {number}: {field} value {value!r} is not a number.") from None
    if not math.isfinite(number_value):
        raise UserError(f"{path} line {number}: {field} value {value!r} is not a finite number.")
    return number_value


def _clean(value) -> str:
    """A field as written: never a tab or a newline inside; a float as ``repr`` writes it."""
    return " ".join(str(value).split()) if not isinstance(value, float) else repr(value)


def inter_lines(interactions):
    """The lines of a ``.inter`` file, header first, each with its newline, one at a time.
    interactions: ``(user, item, timestamp)`` triples, any iterable (read once)."""
    yield "user_id:token\titem_id:token\ttimestamp:float\n"
    for u, i, t in interactions:
        yield f"{_clean(u)}\t{_clean(i)}\t{_clean(float(t))}\n"


def write_atomic_files(folder: Path, name: str, interactions, items: list, item_header: list) -> None:
    """Write ``<name>.inter`` and ``<name>.item`` into ``folder`` (each file atomically).

    interactions: ``(user, item, timestamp)`` triples, any iterable (read once, as written).
    items:        rows of strings matching ``item_header``, a list of ``(field, type)``.
    """
    write_lines(Path(folder) / f"{name}.inter", inter_lines(interactions))   # a line at a time
    clean = _clean
    lines = ["\t".join(f"{f}:{t}" for f, t in item_header)]
    lines += ["\t".join(clean(v) for v in row) for row in items]
    write_text(Path(folder) / f"{name}.item", "\n".join(lines) + "\n")
