"""Shared command-line pieces: a parser whose errors are one line and exit code 2."""
from __future__ import annotations

import argparse
import sys

from .errors import UserError
from .values import CHECKS, check_value, shown


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag ends in one line on stderr (no usage dump) and exit code 2."""

    def error(self, message):
        message = message.removeprefix("argument ")            # "--flag: ...", as a setting's errors read
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
        shown = text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"
        raise argparse.ArgumentTypeError(f"must be {what}, got {shown!r}")
    return value


def positive_int(text):
    return flag_type("positive")(text)      # the settings' own check (values.py)


def seconds(most: float, positive: bool = False):
    """A flag's converter for a number of seconds, at most ``most`` (``time.sleep`` and socket
    timeouts overflow on numbers like 1e308)."""
    low = "a positive" if positive else "a"
    return lambda text: _flag_value(text, float, lambda v: (v > 0 if positive else v >= 0) and v <= most,
                                    f"{low} number of seconds up to {most:g}")


def non_negative_int(text):
    return flag_type("non_negative")(text)


def flag_type(check: str):
    """An argparse ``type=`` that converts a flag's text and checks it with ``check``; its error
    is "must be <what>, got <text>" (argparse prefixes the flag)."""
    kind, _, what = CHECKS[check]

    def convert(text):
        try:
            value = kind(text)
        except ValueError:                              # also: int() of over 4,300 digits
            raise argparse.ArgumentTypeError(f"must be {what}, got {shown(text)}") from None
        try:
            check_value("", value, check)
        except UserError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix(": ")) from None
        return value
    return convert
