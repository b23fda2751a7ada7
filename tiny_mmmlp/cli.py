"""Shared command-line pieces: a parser whose errors are one line and exit code 2."""
from __future__ import annotations

import argparse
import math
import sys


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag ends in one line on stderr (no usage dump) and exit code 2."""

    def error(self, message):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _parse(text, kind, what):
    """``kind(text)``; a word that is no number at all gets the same sentence as a bad one."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive_int(text):
    value = _parse(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    value = _parse(text, float, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def finite_positive_float(text):
    value = _parse(text, float, "a finite positive number")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value


def finite_non_negative_float(text):
    value = _parse(text, float, "a finite number >= 0")
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def ema_decay(text):
    value = _parse(text, float, "0 (off) or a decay between 0 and 1")
    if not (value == 0 or 0 < value < 1):
        raise argparse.ArgumentTypeError(f"must be 0 (off) or a decay between 0 and 1, got {text}")
    return value


def ema_warmup_k(text):
    value = _parse(text, int, "0 (off) or an integer >= 2")
    if not (value == 0 or value >= 2):
        raise argparse.ArgumentTypeError(f"must be 0 (off) or an integer >= 2, got {text}")
    return value


def seed_int(text):
    value = _parse(text, int, "an integer in [0, 2**63)")
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text}")
    return value


def non_negative_int(text):
    value = _parse(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value
