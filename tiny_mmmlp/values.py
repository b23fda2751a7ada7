"""The one check of a value a user gives: a setting of a run, an argument of the Python API, a flag.

    check_value("epochs", 0, "positive")   # UserError "epochs: must be a positive integer, got 0"
    cli.flag_type("positive")              # an argparse type= for the same check of a flag's text

``CHECKS`` maps a check's name to (type, accepts, "what it must be"). The type comes first:
None, a bool where a number is wanted, a text where a bool is wanted are all wrong types, and
an integer of 2**63 or more is refused before anything converts it to a float (10**400 would
overflow). Values are shown cut to a line (``shown``), never at their full length.
"""
from __future__ import annotations

import math

from .errors import UserError
from .progress import VERBOSITY


# value checks: (accepts, "what it must be"); a value is checked after its type
def _positive(v): return v >= 1
def _non_negative(v): return v >= 0
def _finite_non_negative(v): return math.isfinite(v) and v >= 0
def _finite_positive(v): return math.isfinite(v) and v > 0
def _rate(v): return 0 <= v < 1


CHECKS = {
    "positive": (int, _positive, "a positive integer"),
    "non_negative": (int, _non_negative, "an integer >= 0"),
    "seed": (int, lambda v: 0 <= v < 2**63, "an integer in [0, 2**63)"),
    "finite_positive": (float, _finite_positive, "a finite positive number"),
    "finite_non_negative": (float, _finite_non_negative, "a finite number >= 0"),
    "rate": (float, _rate, "in [0, 1)"),
    "ema": (float, lambda v: v == 0 or 0 < v < 1, "0 (off) or a decay between 0 and 1"),
    "ema_warmup": (int, lambda v: v == 0 or v >= 2, "0 (off) or an integer >= 2"),
    "bool": (bool, lambda v: True, "true or false"),
    "text": (str, lambda v: 0 < len(v) <= 4096, "a non-empty text of at most 4096 characters"),
    "verbosity": (int, lambda v: v in VERBOSITY, "0, 1 or 2"),
}


MAX_INT = 2**63                 # every integer setting is below it (a 5,000-digit one is not a count)


def shown(value) -> str:
    """``repr(value)`` for an error sentence, at most 60 characters (an integer of thousands of
    digits, which ``repr`` refuses, is described instead)."""
    if isinstance(value, int) and abs(value).bit_length() > 200:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103):,} digits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text):,} characters)"


def check_value(name: str, value, check: str, choices=None) -> None:
    """The one check of a setting's value: its type first (None, a bool for a number, a text
    for a bool are all wrong types), then its range and choices; ``UserError`` naming ``name``.
    The Python API's own arguments (``k``, ``exclude_history``) are checked here too."""
    kind, ok, what = CHECKS[check]
    typed = (isinstance(value, bool) if kind is bool else
             isinstance(value, int) and not isinstance(value, bool) if kind is int else
             isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
             isinstance(value, str))
    if typed and isinstance(value, int) and abs(value) >= MAX_INT:      # float(10**400) overflows
        raise UserError(f"{name}: must be {what} below 2**63, got {shown(value)}")
    if not typed or not ok(value):
        raise UserError(f"{name}: must be {what}, got {shown(value)}")
    if choices and value not in choices:
        raise UserError(f"{name}: must be one of {', '.join(choices)}, got {shown(value)}")
