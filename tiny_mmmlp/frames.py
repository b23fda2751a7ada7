"""pandas DataFrames in and out: an event log as training data, recommendations as a table.

    rec = tiny_mmmlp.fit(data=df, user_col="user_id", item_col="item_id", time_col="timestamp")
    recs = rec.recommend_frame(users="all", k=10)         # columns user_id, rank, item_id, score

A DataFrame of interactions is written once as a RecBole atomic folder (the format every
other data source ends in, data/recbole.py) under the cache, in a folder named by a SHA-256
of what it holds: running the same notebook cell again finds the folder and reuses it, and
a changed DataFrame gets a folder of its own. pandas is imported only when a DataFrame is
given (``pip install 'tiny_mmmlp[pandas]'``); the rest of the package never needs it.

Times: a numeric column is taken as it is (seconds, or any increasing number); dates
(datetime64 or ISO text) become seconds since 1970, UTC. Without ``time_col`` the row order
is the order of events. A user's events are sorted by time, ties kept in row order.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from .errors import UserError
from .files import building_folder, default_cache_dir

FRAME_NAME = "frame"                        # the data set's name (its atomic files' stem)
CSV_COLUMNS = ("user_id", "rank", "item_id", "score")     # as the recommend command's CSV


def is_frame(obj) -> bool:
    """Whether ``obj`` is a pandas DataFrame, found without importing pandas."""
    return any(c.__name__ == "DataFrame" and c.__module__.split(".")[0] == "pandas"
               for c in type(obj).__mro__)


def kind_of_object(obj) -> str:
    """"a list", "an int": what an object is, in words, without showing it."""
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def not_data(obj) -> UserError:
    """The one sentence for a data argument that is no data source (the object is not printed)."""
    return UserError(f"data: must be a data set name, a path or a pandas DataFrame, got {kind_of_object(obj)}")


def pandas():
    """The pandas module, or one sentence saying how to install it."""
    try:
        import pandas as pd
    except ImportError:
        raise UserError("a DataFrame needs pandas (pip install 'tiny_mmmlp[pandas]')") from None
    return pd


def _column(df, key: str, name) -> list:
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


def _seconds(df, name) -> list:
    """The time column as floats: numbers as they are, dates as seconds since 1970 (UTC)."""
    pd = pandas()
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
    """The RecBole folder of the interactions in ``df`` (written on first use, then reused)."""
    pandas()
    if len(df) == 0:
        raise UserError("data: the DataFrame has no rows")
    users, items = _column(df, "user_col", user_col), _column(df, "item_col", item_col)
    times = _seconds(df, time_col) if time_col is not None else [float(n) for n in range(len(users))]
    inter = ["user_id:token\titem_id:token\ttimestamp:float"]
    inter += [f"{u}\t{i}\t{t!r}" for u, i, t in zip(users, items, times)]
    text = "\n".join(inter) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
    final = Path(cache_dir or default_cache_dir()) / "frames" / digest
    if not (final / f"{FRAME_NAME}.inter").is_file():
        with building_folder(final) as tmp:
            (tmp / f"{FRAME_NAME}.inter").write_text(text, encoding="utf-8")
            item_lines = ["item_id:token"] + sorted(set(items))
            (tmp / f"{FRAME_NAME}.item").write_text("\n".join(item_lines) + "\n", encoding="utf-8")
    return final


def recommendations_frame(rows):
    """A DataFrame of ``rows`` ([(user id, [(item id, score), ...])], best first) with the CSV
    export's columns: user_id, rank (from 1), item_id, score."""
    pd = pandas()
    records = [(user, rank, item, score) for user, recs in rows
               for rank, (item, score) in enumerate(recs, 1)]
    frame = pd.DataFrame.from_records(records, columns=list(CSV_COLUMNS))
    return frame.astype({"user_id": str, "rank": "int64", "item_id": str, "score": "float64"})


def frame_rows(recs, what: str = "recs") -> dict:
    """{user id: [item id, ...] best first} of a DataFrame with user_id, item_id and (if there)
    rank columns; a user's rows are ordered by rank, else kept in row order."""
    if not is_frame(recs):
        raise UserError(f"{what}: must be a pandas DataFrame with columns user_id, item_id (and rank), "
                        f"got {kind_of_object(recs)}")
    missing = [c for c in ("user_id", "item_id") if c not in recs.columns]
    if missing:
        raise UserError(f"{what}: no column {', '.join(missing)} (it needs user_id, item_id and, "
                        f"to order them, rank)")
    table = recs
    if "rank" in recs.columns:
        table = recs.sort_values("rank", kind="stable")
    lists: dict = {}
    for user, item in zip(table["user_id"].astype(str), table["item_id"].astype(str)):
        lists.setdefault(user, []).append(item)
    return lists
