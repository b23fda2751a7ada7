"""File names built from data: item ids, field names and data set names never become paths as they are.

A name from a data file (an asin, a ``.item`` header field, a folder name) may hold ``/``,
``..``, a leading dot, control characters or thousands of bytes. ``safe_stem`` keeps a name
that is already harmless and replaces any other with a hash of it, so a path built as
``folder / (safe_stem(name) + suffix)`` always stays inside ``folder``:

    B00ABC123  -> B00ABC123                  (letters, digits, ``_``, ``-``, ``.``, ``,``; <= 80 chars;
                                              not starting with ``.`` or ``-``)
    ../../x    -> h-6b86b273ff34fce1         (anything else: ``h-`` + 16 hex digits of its SHA-256)

The rule is one-way, so whoever writes such files also keeps a manifest (the downloader
writes ``images/manifest.tsv``), and readers look files up with the same function.
"""
from __future__ import annotations

import hashlib
import re

from ..errors import UserError

_SAFE = re.compile(r"[A-Za-z0-9_,][A-Za-z0-9_.,-]{0,79}")


def safe_stem(name: str) -> str:
    """``name`` if it is a harmless file-name stem, else ``h-<16 hex digits of its SHA-256>``."""
    name = str(name)
    if _SAFE.fullmatch(name) and not name.startswith("h-"):
        return name
    return "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def check_name(name: str, flag: str = "--name") -> str:
    """A data set name given by the user (it becomes ``<out>/<name>.inter``): refused in one
    sentence unless it is a plain file stem (no path separator, no ``..``, not hidden)."""
    name = str(name)
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise UserError(f"{flag} {name!r}: must be a plain name (no '/', no leading '.'), as the data "
                        f"set's files are named <name>.inter and <name>.item inside the output folder")
    return name
