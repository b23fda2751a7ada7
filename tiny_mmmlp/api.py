"""``tiny_mmmlp.fit``: train from Python with the command line's settings as keyword arguments.

    import tiny_mmmlp
    rec = tiny_mmmlp.fit(data="toyshop-tiny", epochs=2, out="runs/x", no_progress=True)
    rec.recommend(["U00001"], k=5)

Writes the same run folder as ``python -m tiny_mmmlp.train`` and returns it as a
``Recommender`` (recommender.py). A setting that is wrong raises ``UserError`` with the
sentence the command line prints, naming the setting as the keyword the caller gave.
"""
from __future__ import annotations

import re
from dataclasses import fields

from .errors import UserError
from .progress import show_messages_unless_handled
from .run_config import RunConfig

_FLAG = re.compile(r"--(no-)?([a-z][a-z-]*)")
_SETTINGS = {f.name for f in fields(RunConfig)}


def keyword_sentence(text: str) -> str:
    """A command-line sentence with each flag of a setting written as its keyword
    (``--d-model`` -> ``d_model``, ``--no-history-bias`` -> ``history_bias=False``)."""
    def keyword(m):
        key = m.group(2).replace("-", "_")
        if key not in _SETTINGS:
            return m.group(0)
        return f"{key}=False" if m.group(1) else key
    return _FLAG.sub(keyword, text)


def fit(**settings):
    """Train a run with ``settings`` (RunConfig's fields; the rest at their defaults) and
    return it as a Recommender. Returns after the test metrics are written, like the command."""
    from .recommender import load
    from .train import fit as fit_run
    try:
        cfg = RunConfig.resolve(settings)
        show_messages_unless_handled(cfg.verbose)      # a notebook shows the epoch lines and the table
        result = fit_run(cfg)
    except UserError as err:
        raise UserError(keyword_sentence(str(err))) from None
    return load(result["settings"]["out"])
