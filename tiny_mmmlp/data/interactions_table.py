"""A plain CSV or TSV of interactions, with an ordinary header, or a pandas DataFrame
(``frame_folder``), into a RecBole atomic folder.

    python -m tiny_mmmlp.data convert --interactions events.csv --out data/shop --kcore 5

The file is what pandas' ``to_csv`` writes: a header line, then one interaction a line. The
delimiter (comma, tab or semicolon) is read from the header. The user and item columns are
found by name (``user_id``/``user``/``userId``/``reviewerID``/``customer_id`` and
``item_id``/``item``/``itemId``/``asin``/``product_id``), the time column, if any, likewise
(``timestamp``/``time``/``ts``/``unixReviewTime``/``date``: a number, or an ISO date);
without one, file order is the order of purchases. Quoted fields, a UTF-8 byte-order mark and
CRLF line ends are read as such. Every problem names the file and line.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from array import array
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import frames
from ..errors import UserError
from ..files import building_folder, default_cache_dir
from .kcore import kcore_mask
from .recbole import inter_lines, write_atomic_files
from .textfile import csv_fields, iter_lines

USER_COLUMNS = ("user_id", "user", "userid", "reviewerid", "customer_id", "visitor_id", "session_id")
ITEM_COLUMNS = ("item_id", "item", "itemid", "asin", "product_id", "parent_asin", "movie_id")
TIME_COLUMNS = ("timestamp", "time", "ts", "unixreviewtime", "date", "datetime", "event_time")
MAX_FIELD = 1000                   # characters in one id: longer is not an id
MAX_TIME = 1e13                    # seconds (or milliseconds) since 1970: larger is not a time
FRAME_NAME = "frame"               # a DataFrame's data set: its atomic files' stem


def sniff_delimiter(header: str) -> str | None:
    """The delimiter of a header line: tab, comma or semicolon (the most frequent), or None."""
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def looks_like_table(header: str) -> bool:
    """Whether a first line is a header of named columns that include a user and an item."""
    delimiter = sniff_delimiter(header)
    if delimiter is None:
        return False
    names = [n.strip().strip('"').lower() for n in header.lstrip("\ufeff").split(delimiter)]
    return any(n in USER_COLUMNS for n in names) and any(n in ITEM_COLUMNS for n in names)


def _column(names: list, wanted: tuple, path: Path, what: str, required: bool = True) -> int | None:
    found = [i for i, n in enumerate(names) if n.lower() in wanted]
    if len(found) > 1:
        raise UserError(f"{path} line 1: more than one {what} column ({', '.join(names[i] for i in found)}); "
                        f"keep one")
    if not found and required:
        raise UserError(f"{path} line 1: no {what} column (found {', '.join(names) or 'nothing'}; name it "
                        f"one of {', '.join(wanted[:3])})")
    return found[0] if found else None


def _time(text: str, path: Path, number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UserError(f"{path} line {number}: time {text[:40]!r} is neither a number nor an ISO "
                            f"date") from None
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
    if not math.isfinite(value) or abs(value) > MAX_TIME:
        raise UserError(f"{path} line {number}: time {text[:40]!r} is out of range (seconds since 1970)")
    return value


class Table:
    """The interactions of a file, held compactly: the id tables (each distinct user and item
    once, in order of first appearance) and three arrays of one number per interaction (user
    index, item index, time), 24 bytes an interaction (``array``), not a Python tuple of
    strings (about 15 times that). This is what bounds ``data convert``'s memory: the id
    tables plus 24 bytes a row, whatever the length of the lines."""

    def __init__(self):
        self.users, self.items = {}, {}                 # id -> index, first appearance first
        self.user_of, self.item_of = array("q"), array("q")
        self.time_of = array("d")

    def add(self, user: str, item: str, time: float) -> None:
        self.user_of.append(self.users.setdefault(user, len(self.users)))
        self.item_of.append(self.items.setdefault(item, len(self.items)))
        self.time_of.append(time)

    def __len__(self) -> int:
        return len(self.time_of)

    def rows(self, keep=None):
        """(user, item, time) of each interaction (where ``keep`` is true), in file order."""
        user_ids, item_ids = list(self.users), list(self.items)
        for n, (u, i, t) in enumerate(zip(self.user_of, self.item_of, self.time_of)):
            if keep is None or keep[n]:
                yield user_ids[u], item_ids[i], t


def read_table(path) -> list:
    """[(user, item, time)] of the file, in file order (time: the file position without a time
    column). ``read_interactions`` holds the same without a tuple per row."""
    return list(read_interactions(path).rows())


def read_interactions(path) -> Table:
    """The interactions of the file as a compact ``Table``, read a line at a time."""
    path = Path(path)
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise UserError(f"{path}: empty; a header line (user_id,item_id,timestamp) and rows are expected")
    header = first[1].lstrip("\ufeff")
    delimiter = sniff_delimiter(header)
    if delimiter is None:
        raise UserError(f"{path} line 1: no comma, tab or semicolon; a header such as "
                        f"user_id,item_id,timestamp is expected")
    names = [n.strip() for n in csv_fields(header, path, 1, delimiter)]
    if any(":" in n for n in names):
        raise UserError(f"{path} line 1: a RecBole atomic file (field:type headers); give its folder as "
                        f"--data instead of converting it")
    user = _column(names, USER_COLUMNS, path, "user")
    item = _column(names, ITEM_COLUMNS, path, "item")
    when = _column(names, TIME_COLUMNS, path, "time", required=False)
    table = Table()
    spellings = {}                      # id -> the first spelling read: " u1" and "u1" are not merged silently
    for number, text in lines:
        if not text.strip():
            continue
        fields = csv_fields(text, path, number, delimiter)
        if len(fields) != len(names):
            raise UserError(f"{path} line {number}: {len(fields)} fields, the header has {len(names)}")
        u, i = fields[user].strip(), fields[item].strip()
        if not u or not i:
            raise UserError(f"{path} line {number}: empty {'user' if not u else 'item'} id")
        if len(u) > MAX_FIELD or len(i) > MAX_FIELD:
            raise UserError(f"{path} line {number}: an id of over {MAX_FIELD} characters")
        for kind, raw, token in (("user", fields[user], u), ("item", fields[item], i)):
            first = spellings.setdefault((kind, token), raw)        # one entry an id: an id table
            if first != raw:
                raise UserError(f"{path} line {number}: {kind} id {raw[:40]!r} differs from {first[:40]!r} only "
                                f"in white space; make each id one spelling")
        table.add(u, i, _time(fields[when], path, number) if when is not None else float(len(table)))
    if not len(table):
        raise UserError(f"{path}: a header but no interactions")
    return table


def convert_table(path, out, name: str | None = None, kcore: int | None = None) -> str:
    """Write ``<out>/<name>.inter`` (and an id-only ``.item``) from a CSV/TSV; returns a summary.
    Memory: the ``Table`` of the file (its id tables and 24 bytes an interaction); the files
    are written a line at a time (``out`` is a folder of its own, renamed into place whole)."""
    from .safe_names import check_name
    out = Path(out)
    name = check_name(name or out.name, "--name")
    table = read_interactions(path)
    keep = None
    if kcore and kcore > 1:
        keep = kcore_mask(np.frombuffer(table.user_of, dtype=np.int64),
                          np.frombuffer(table.item_of, dtype=np.int64), kcore)          # (n,) bool
        if not keep.any():
            raise UserError(f"{path}: no interactions left after the {kcore}-core filter")
    item_ids = list(table.items)
    kept_items = (sorted(item_ids) if keep is None else
                  sorted(item_ids[i] for i in np.unique(np.frombuffer(table.item_of, dtype=np.int64)[keep])))
    users = len(table.users) if keep is None else len(np.unique(np.frombuffer(table.user_of, dtype=np.int64)[keep]))
    out.mkdir(parents=True, exist_ok=True)
    write_atomic_files(out, name, table.rows(keep), [(i,) for i in kept_items], [("item_id", "token")])
    count = len(table) if keep is None else int(keep.sum())
    return f"{out}: {users} users, {len(kept_items)} items, {count} interactions (name {name})"


# ---- a pandas DataFrame ---------------------------------------------------------------------

def _frame_column(df, key: str, name) -> list:
    """The column ``name`` (given as the keyword ``key``) as raw id strings."""
    if name not in df.columns:
        shown = ", ".join(str(c) for c in list(df.columns)[:8])
        raise UserError(f"{key} {name!r}: no such column in the DataFrame (its columns: {shown or 'none'})")
    column = df[name]
    empty = column.isna() | (column.astype(str).str.strip() == "")
    if empty.any():
        raise UserError(f"{key} {name!r}: the row with index {df.index[int(empty.to_numpy().argmax())]!r} "
                        f"has no id")
    return [" ".join(str(v).split()) for v in column.tolist()]       # no tab or newline in an id


def _frame_seconds(df, name) -> list:
    """The time column as floats: numbers as they are, dates as seconds since 1970 (UTC)."""
    pd = frames.pandas()
    if name not in df.columns:
        shown = ", ".join(str(c) for c in list(df.columns)[:8])
        raise UserError(f"time_col {name!r}: no such column in the DataFrame (its columns: {shown})")
    column = df[name]
    if pd.api.types.is_bool_dtype(column):
        raise UserError(f"time_col {name!r}: holds true/false, not times")
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype("float64")
    else:
        try:
            with warnings.catch_warnings():             # "could not infer format": each row is parsed
                warnings.simplefilter("ignore", UserWarning)
                stamps = pd.to_datetime(column, utc=True)
        except (ValueError, TypeError, OverflowError):
            raise UserError(f"time_col {name!r}: neither numbers nor dates") from None
        values = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    bad = ~values.apply(lambda v: v == v and abs(v) != float("inf"))
    if bad.any():
        raise UserError(f"time_col {name!r}: the row with index {df.index[int(bad.to_numpy().argmax())]!r} "
                        f"has no time")
    return values.tolist()


def frame_folder(df, user_col="user_id", item_col="item_id", time_col=None, cache_dir=None) -> Path:
    """The RecBole folder of the interactions in a pandas DataFrame ``df``, in the cache, named by
    a SHA-256 of what it holds: written on first use, then found again (a notebook cell run twice
    reuses it; a changed DataFrame gets a folder of its own). Times: a numeric column as it is
    (seconds, or any increasing number); dates (datetime64 or ISO text) as seconds since 1970,
    UTC; without ``time_col``, the row order."""
    frames.pandas()
    if len(df) == 0:
        raise UserError("data: the DataFrame has no rows")
    users, items = _frame_column(df, "user_col", user_col), _frame_column(df, "item_col", item_col)
    times = _frame_seconds(df, time_col) if time_col is not None else [float(n) for n in range(len(users))]
    rows = list(zip(users, items, times))
    digest = hashlib.sha256()
    for line in inter_lines(rows):                   # the folder is named by the .inter it holds
        digest.update(line.encode("utf-8"))
    final = Path(cache_dir or default_cache_dir()) / "frames" / digest.hexdigest()[:20]
    if not (final / f"{FRAME_NAME}.inter").is_file():
        with building_folder(final) as tmp:
            write_atomic_files(tmp, FRAME_NAME, rows, [(i,) for i in sorted(set(items))], [("item_id", "token")])
    return final
