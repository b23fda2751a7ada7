"""Shared command-line pieces: a parser whose errors are one line and exit code 2."""
from __future__ import annotations

import argparse
import math
import sys


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag ends in one line on stderr (no usage dump) and exit code 2."""

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)   # as UserError's
        raise SystemExit(2)


def _flag_value(text, kind, ok, what):
    """``kind(text)`` where it converts and ``ok`` accepts it; else the one sentence
    "must be <what>, got <text>", whether the text is no number at all or a wrong one."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text):
    return _flag_value(text, int, lambda v: v >= 1, "a positive integer")


def finite_positive_float(text):
    return _flag_value(text, float, lambda v: v > 0 and math.isfinite(v), "a finite positive number")


def finite_non_negative_float(text):
    return _flag_value(text, float, lambda v: v >= 0 and math.isfinite(v), "a finite number >= 0")


def non_negative_int(text):
    return _flag_value(text, int, lambda v: v >= 0, "an integer >= 0")
