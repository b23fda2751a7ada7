"""User-facing errors: one clear sentence, exit code 2, no traceback.

Anything a user can cause (a bad file, a wrong flag, an unsupported shape) raises
``UserError`` with a sentence that names the file, line or flag. Command-line entry points
wrap their ``main`` in ``exit_on_user_error`` so the sentence is printed to stderr and the
process exits with status 2.
"""
from __future__ import annotations

import functools
import sys


class UserError(Exception):
    """A problem with the user's input. ``str(err)`` is the one sentence to show."""

    exit_code = 2


def exit_on_user_error(main):
    """Decorate a CLI ``main(argv=None)`` so a ``UserError`` prints one line and exits 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(err.exit_code) from None

    return wrapper
