"""pandas DataFrames in and out: an event log as training data, recommendations as a table.

    rec = tiny_mmmlp.fit(data=df, user_col="user_id", item_col="item_id", time_col="timestamp")
    recs = rec.recommend_frame(users="all", k=10)         # columns user_id, rank, item_id, score

A DataFrame of interactions becomes a RecBole atomic folder as a CSV does
(``data.interactions_table.frame_folder``). pandas is imported only when a DataFrame is given
(``pip install 'tiny_mmmlp[pandas]'``); the rest of the package never needs it.
"""
from __future__ import annotations

from .errors import UserError

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
