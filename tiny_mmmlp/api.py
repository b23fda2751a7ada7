"""``tiny_mmmlp.fit``: train from Python with the command line's settings as keyword arguments.

    import tiny_mmmlp
    rec = tiny_mmmlp.fit(data="toyshop-tiny", epochs=2, no_progress=True)
    rec = tiny_mmmlp.fit(data=df, user_col="user_id", item_col="item_id", time_col="timestamp")
    rec.recommend(["U00001"], k=5); rec.metrics; rec.plot_curves()

Writes the same run folder as ``python -m tiny_mmmlp.train`` and returns it as a
``Recommender`` (recommender.py). Without ``out``, each call trains into the first default
folder that holds no run (``runs/<name>``, ``runs/<name>-2``, ...), so running a notebook cell
again never fails on, nor replaces, the run before. ``data`` may be a pandas DataFrame of
interactions (frames.py). A setting that is wrong raises ``UserError`` with the sentence the
command line prints, naming the setting as the keyword the caller gave.
"""
from __future__ import annotations

import os
import re
from dataclasses import fields

from .errors import UserError
from .progress import show_messages_unless_handled
from .run_config import RunConfig

_FLAG = re.compile(r"--(no-)?([a-z][a-z-]*)")
_COMMAND = re.compile(r"python -m \S+.*$|tiny-mmmlp \S+.*$")      # a command quoted to the end
_SETTINGS = {f.name for f in fields(RunConfig)}
FRAME_KEYWORDS = ("user_col", "item_col", "time_col")


def keyword_sentence(text: str) -> str:
    """A command-line sentence with each flag of a setting written as its keyword
    (``--d-model`` -> ``d_model``, ``--no-history-bias`` -> ``history_bias=False``); a command
    the sentence quotes (``python -m ...`` to its end) keeps its flags."""
    def keyword(m):
        key = m.group(2).replace("-", "_")
        if key not in _SETTINGS:
            return m.group(0)
        return f"{key}=False" if m.group(1) else key
    command = _COMMAND.search(text)
    head, tail = (text[:command.start()], text[command.start():]) if command else (text, "")
    return _FLAG.sub(keyword, head) + tail


def _data_source(data, frame_columns: dict):
    """The data setting of ``data``: a DataFrame becomes its cached RecBole folder (frames.py);
    anything but a name, path or DataFrame is refused without printing it."""
    given = {k: v for k, v in frame_columns.items() if v is not None}
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    if data is None or isinstance(data, str):
        if given:
            raise UserError(f"{', '.join(given)}: only with a pandas DataFrame as data")
        return data
    from .data.interactions_table import frame_folder
    from .frames import is_frame, not_data
    if not is_frame(data):
        raise not_data(data)
    columns = {"user_col": "user_id", "item_col": "item_id", **given}
    return str(frame_folder(data, columns["user_col"], columns["item_col"], columns.get("time_col")))


def _refuse_a_table_file(data) -> None:
    """A CSV given as data: the two ways on, in Python's words."""
    from pathlib import Path

    from .data.interactions_table import looks_like_table
    path = Path(data).expanduser()
    if not path.is_file() or path.suffix == ".inter":
        return
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline(4096)
    except (OSError, UnicodeDecodeError):
        return
    if looks_like_table(first):
        raise UserError(f"data {data}: a table of interactions with a header; pass it as a DataFrame "
                        f"(data=pandas.read_csv({str(data)!r}) with user_col, item_col and time_col), or "
                        f"convert it once with: python -m tiny_mmmlp.data convert --interactions {data} "
                        f"--out FOLDER")


def fit(data=None, user_col=None, item_col=None, time_col=None, **settings):
    """Train a run with ``settings`` (RunConfig's fields; the rest at their defaults) and
    return it as a Recommender. Returns after the test metrics are written, like the command.

    data: a built-in name, an Amazon source, a folder or file, or a pandas DataFrame of
    interactions whose columns ``user_col`` and ``item_col`` (default user_id, item_id) hold
    the ids and ``time_col`` (optional; default: row order) the times.
    """
    from .recommender import load
    from .train import fit as fit_run
    try:
        source = _data_source(data, {"user_col": user_col, "item_col": item_col, "time_col": time_col})
        if source is not None:
            _refuse_a_table_file(source)
            settings["data"] = source
        cfg = RunConfig.resolve(settings)
        show_messages_unless_handled(cfg.verbose)      # a notebook shows the epoch lines and the table
        result = fit_run(cfg)
    except UserError as err:
        raise UserError(keyword_sentence(str(err))) from None
    return load(result["settings"]["out"], data=cfg.data)
