"""Recommendations in the formats the recommend command writes: a table, CSV or JSON lines.

    csv     user_id,rank,item_id,score        one row per recommendation, rank from 1
    jsonl   {"user_id": ..., "items": [...], "scores": [...]}   one object per user, best first
    table   the same rows aligned for reading, with each item's title

``rows`` is a list of (user id, [(item id, score), ...]) pairs; a history given as item ids
has the user id "".

Ids and titles come from other people's data, so every format writes them safely: a CSV cell
that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) gets a leading ``'``, a cell holding a comma, quote or control character is quoted
(so the file reads back row for row), the table shows control characters and terminal escape
sequences as ``\x1b``-style escapes instead of sending them to the terminal, and a lone
surrogate (possible in ids read from JSON) is written as its ``\udc80`` escape everywhere.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from .errors import UserError
from .files import write_text

FORMATS = ("table", "csv", "jsonl")
MAX_USERS_FILE = 64 * 2**20                  # bytes of a --users file read at most


def read_users(value: str) -> list:
    """User ids from --users: a file of one id a line (a first line "user_id" is a header),
    else the comma-separated ids themselves."""
    path = Path(value)
    if not path.is_file():
        users = [u.strip() for u in value.split(",") if u.strip()]
        if not users:
            raise UserError(f"--users {value!r}: no user id given")
        return users
    if path.stat().st_size > MAX_USERS_FILE:
        raise UserError(f"--users {path}: larger than {MAX_USERS_FILE // 2**20} MiB; is it a list of user ids?")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"--users {path}: not UTF-8 text (one user id a line)") from None
    users = [line.strip() for line in lines if line.strip()]
    if users and users[0] == "user_id":
        users = users[1:]
    if not users:
        raise UserError(f"--users {path}: holds no user id (one a line)")
    return users


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def encodable(value) -> str:
    """``str(value)`` with each lone surrogate as its backslash escape (UTF-8 can hold it then)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def visible(value) -> str:
    """``value`` for a terminal: every character that is not printable (control characters,
    escape sequences' ESC, bidirectional overrides, surrogates) as its escape."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def csv_cell(value) -> str:
    """One CSV cell of an id: a formula start neutralised with ``'``, quoted where needed."""
    text = encodable(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    if any(c in text for c in ',"') or not text.isprintable() or text != text.strip():
        text = '"' + text.replace('"', '""') + '"'
    return text


def to_csv(rows) -> str:
    lines = ["user_id,rank,item_id,score"]
    for user, recs in rows:
        for rank, (item, score) in enumerate(recs, 1):
            lines.append(f"{csv_cell(user)},{rank},{csv_cell(item)},{score:.6f}")
    return "".join(line + "\n" for line in lines)


def to_jsonl(rows) -> str:
    return "".join(json.dumps({"user_id": user, "items": [i for i, _ in recs],     # ASCII: escapes all
                               "scores": [round(s, 6) for _, s in recs]}) + "\n" for user, recs in rows)


def to_table(rows, titles: dict) -> str:
    rows = [(visible(u), [(visible(i), s, visible(titles.get(i, ""))) for i, s in recs]) for u, recs in rows]
    width = max([len("user_id")] + [len(u) for u, _ in rows])
    items = max([len("item_id")] + [len(i) for _, recs in rows for i, _, _ in recs])
    lines = [f"{'user_id':<{width}}  rank  {'item_id':<{items}}     score  title"]
    for user, recs in rows:
        for rank, (item, score, title) in enumerate(recs, 1):
            lines.append(f"{user:<{width}}  {rank:>4}  {item:<{items}}  {score:8.3f}  {title}")
    return "\n".join(lines) + "\n"


def render(rows, fmt: str, titles: dict | None = None) -> str:
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "jsonl":
        return to_jsonl(rows)
    return to_table(rows, titles or {})


def write_output(path, text: str, flag: str = "--output") -> Path:
    """Write ``text`` to the file ``path`` that ``flag`` named, atomically (temp file, then rename)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; give a file name")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
    write_text(path, text)
    return path


def read_recs(path) -> dict:
    """{user id: [item id, ...] best first} of a CSV of recommendations with a header naming
    user_id, item_id and (to order a user's rows; else file order) rank, as to_csv writes it."""
    import csv as csv_module

    from .files import read_regular
    path = Path(path)
    try:
        text = read_regular(path, what="a CSV of recommendations",
                            prefix="--recs ").decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        why = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else (err.strerror or str(err))
        raise UserError(f"--recs {path}: cannot be read ({why})") from None
    reader = csv_module.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in ("user_id", "item_id") if c not in header]
    if missing:
        raise UserError(f"--recs {path} line 1: no {', '.join(missing)} column (the header needs "
                        f"user_id,rank,item_id as recommend --format csv writes it)")
    user, item = header.index("user_id"), header.index("item_id")
    rank = header.index("rank") if "rank" in header else None
    ranked: dict = {}
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UserError(f"--recs {path} line {number}: {len(row)} fields, the header has {len(header)}")
        try:
            position = float(row[rank]) if rank is not None else float(number)
        except ValueError:
            raise UserError(f"--recs {path} line {number}: rank {row[rank]!r} is not a number") from None
        ranked.setdefault(row[user].strip(), []).append((position, number, row[item].strip()))
    return {u: [i for _, _, i in sorted(rows)] for u, rows in ranked.items()}
