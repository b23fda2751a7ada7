"""User-facing errors: one clear sentence, exit code 2, no traceback.

Anything a user can cause (a bad file, a wrong flag, an unsupported shape) raises
``UserError`` with a sentence that names the file, line or flag. Command-line entry points
wrap their ``main`` in ``exit_on_user_error`` so the sentence is printed to stderr and the
process exits with status 2. The same wrapper turns what the machine can cause into one
sentence too: an ``OSError`` (a file in the way of a folder, a read-only or full disk, an
unreadable file) names the path and the reason, running out of memory says so with advice
that fits the command (``memory_advice``), and Ctrl-C exits 130 without a traceback.
"""
from __future__ import annotations

import functools
import sys
import tokenize

# What np.load raises on a damaged .npy (or .npz member): ValueError for most damage, OSError
# for a short or unreadable file, and, where a flipped byte breaks the header's Python literal,
# tokenize.TokenError or SyntaxError from NumPy's filter for Python 2 headers
NPY_ERRORS = (OSError, ValueError, tokenize.TokenError, SyntaxError)


class UserError(Exception):
    """A problem with the user's input. ``str(err)`` is the one sentence to show."""

    exit_code = 2


def describe_os_error(err: OSError) -> str:
    """One sentence for an ``OSError``: the path(s) and the system's reason."""
    where = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
    reason = err.strerror or str(err) or type(err).__name__
    return f"{where}: {reason}" if where else reason


def brief(err: BaseException, most: int = 200) -> str:
    """``"<Type>: <first line of its message>"``, at most ``most`` characters: what a library's
    exception adds to a sentence (a state-dict mismatch's message alone runs to kilobytes)."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= most else text[:most - 3] + "..."


MEMORY_ADVICE = "close other programs or use a machine with more memory"
SIZES_ADVICE = "use smaller sizes (--d-model, --batch-size, --max-len)"      # train's own flags


def exit_on_user_error(main=None, *, memory_advice: str = MEMORY_ADVICE):
    """Decorate a CLI ``main(argv=None)``: user, file-system and memory errors print one line, exit 2.

    ``@exit_on_user_error`` or ``@exit_on_user_error(memory_advice="use smaller sizes (--d-model)")``:
    what to do when memory runs out is the command's own (only flags that command has).
    """
    if main is None:
        return functools.partial(exit_on_user_error, memory_advice=memory_advice)

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(err.exit_code) from None
        except OSError as err:
            print(f"error: {describe_os_error(err)} (nothing outside the output folder was changed)",
                  file=sys.stderr)
            raise SystemExit(2) from None
        except MemoryError:
            print(f"error: ran out of memory; {memory_advice}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
