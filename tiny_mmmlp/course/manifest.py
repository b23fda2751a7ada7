"""Which exercises a kit holds: its ``course.json``, or a manifest the instructor keeps.

A manifest is a JSON object with an ``"exercises"`` list of distinct exercise numbers,
at least one. The file must be a regular file of at most ``MAX_BYTES`` (checked before it is
read, so a FIFO named ``course.json`` cannot hang the grader); anything else ends in one
sentence naming the file. The kit's own ``course.json`` is written by ``new`` but held by
the student: the grader uses it only when the instructor names no exercises.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from .exercises import EXERCISES
from .plain import Unreadable, read_regular_file

MANIFEST = "course.json"
PACKAGE = "tiny_mmmlp"
MAX_BYTES = 64 * 1024


def check_kit(kit: Path) -> None:
    """UserError unless ``kit`` is a folder holding a ``tiny_mmmlp`` package."""
    kit = Path(kit)
    if not kit.is_dir():
        raise UserError(f"{kit} does not exist or is not a folder")
    if not (kit / PACKAGE / "__init__.py").is_file():
        raise UserError(f"{kit} is not a course kit: {kit / PACKAGE / '__init__.py'} is missing")


def read_json(path: Path):
    """The JSON value in ``path``; UserError in one sentence if it is not a small regular JSON file."""
    try:
        data = read_regular_file(path, MAX_BYTES, follow=True)
    except Unreadable as err:
        raise UserError(f"{path}: {err}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UserError(f"{path} is not valid JSON (or is nested too deeply)") from None


def exercise_list(chosen, where: str) -> list:
    """``chosen`` if it is a non-empty list of distinct exercise numbers, else UserError."""
    if not isinstance(chosen, list):
        raise UserError(f"{where}: \"exercises\" should be a list of exercise numbers")
    if not chosen:
        raise UserError(f"{where} lists no exercises")
    bad = [k for k in chosen if type(k) is not int or not 1 <= k <= len(EXERCISES)]
    if bad:
        shown = json.dumps(bad[0]) if not isinstance(bad[0], (list, dict)) else type(bad[0]).__name__
        raise UserError(f"{where} lists exercise {shown[:40]}, which this course does not have "
                        f"(it has 1 to {len(EXERCISES)})")
    twice = next((k for i, k in enumerate(chosen) if k in chosen[:i]), None)
    if twice is not None:
        raise UserError(f"{where} lists exercise {twice} twice")
    return chosen


def read_manifest_file(path: Path) -> list:
    """The exercise numbers of the manifest at ``path``."""
    value = read_json(path)
    if not isinstance(value, dict) or "exercises" not in value:
        raise UserError(f"{path} is not a course manifest: it should be a JSON object with an "
                        "\"exercises\" list")
    return exercise_list(value["exercises"], str(path))


def read_manifest(kit: Path) -> list:
    """The exercise numbers the kit's own ``course.json`` lists; UserError if ``kit`` is not a kit."""
    kit = Path(kit)
    if not kit.is_dir():
        raise UserError(f"{kit} does not exist or is not a folder")
    path = kit / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise UserError(f"{kit} is not a course kit: it has no {MANIFEST} "
                        "(make one with `python -m tiny_mmmlp.course new DIR`)")
    chosen = read_manifest_file(path)
    check_kit(kit)
    return chosen
