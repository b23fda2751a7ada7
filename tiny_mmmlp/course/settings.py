"""What an instructor sets for a grade: the bounds of the flags, and ``course.toml``.

``course.toml`` (read with ``tomllib``, Python 3.11+) or the same keys as a JSON object
(``course.json``, any Python) sets, all optional::

    exercises = [1, 2, 3]          # or "1-10", "all", "triton" (the grader's default otherwise)
    examples = 40                  # Hypothesis-drawn cases per exercise (a third for Triton)
    time_limit = 60                # seconds per exercise (three times that for Triton)
    partial_credit = true          # points x (cases passed / cases drawn), see ``score``
    visibility = "after_published" # Gradescope's visibility of the results
    seed = 31337                   # draw other cases than a student's local check draws

    [points]                       # exercise number -> points (default: the exercise table's)
    3 = 4

    [[hidden]]                     # extra cases of sizes the instructor picks
    exercise = 3
    B = 4
    N = 7
    D = 9

Students check their kit with the defaults (no seed, no hidden cases); the instructor's
seed and hidden cases give the graded run cases the students' local runs never met.
A kit's own ``course.json`` (``{"exercises": [...]}``) is a valid file of this kind too.
Anything malformed ends in one sentence naming the file and the key. This module imports
neither Hypothesis nor the checks: the command line reads it without the ``course`` extra.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .exercises import EXERCISES, parse_selection
from .manifest import exercise_list
from .plain import Unreadable, read_regular_file

MAX_EXAMPLES, MAX_TIME_LIMIT, MAX_JOBS = 1000, 3600.0, 32
MAX_POINTS = 1000
MAX_HIDDEN_SIZE = 64                # the largest size letter a hidden case may ask for
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
KEYS = ("tiny_mmmlp", "exercises", "examples", "time_limit", "partial_credit", "visibility", "seed", "points",
        "hidden")
MAX_BYTES = 256 * 1024


@dataclass
class Course:
    """The instructor's settings; None where the command line or the default decides."""
    exercises: list | None = None
    examples: int | None = None
    time_limit: float | None = None
    partial_credit: bool = False
    visibility: str = "visible"
    seed: int | None = None
    points: dict = field(default_factory=dict)      # exercise -> points
    hidden: list = field(default_factory=list)      # (exercise, {letter: value})

    def points_of(self, k: int) -> int:
        return self.points.get(k, EXERCISES[k - 1].points)


def score(points: int, passed: int, drawn: int, partial: bool) -> float:
    """Points earned: all of them when every drawn case passed; with partial credit,
    ``points * passed / drawn`` rounded to two decimals; otherwise none."""
    if drawn and passed == drawn:
        return float(points)
    return round(points * passed / drawn, 2) if partial and drawn else 0.0


def _load(path: Path):
    try:
        data = read_regular_file(path, MAX_BYTES, follow=True)
    except Unreadable as err:
        raise UserError(f"{path}: {err}") from None
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:
            raise UserError(f"{path}: reading TOML needs Python 3.11 or later; give the same keys as "
                            "a JSON object in a .json file") from None
        try:
            return tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path} is not valid TOML ({str(err).splitlines()[0]})") from None
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UserError(f"{path} is not valid JSON (or is nested too deeply)") from None


def _number(value, kind, low, high, where):
    ok = type(value) in ((int,) if kind is int else (int, float)) and math.isfinite(value) and low <= value <= high
    if not ok:
        raise UserError(f"{where} should be {'an integer' if kind is int else 'a number'} from {low:g} to {high:g}, "
                        f"got {json.dumps(value)[:40]}")
    return kind(value)


def read_course(path: Path) -> Course:
    """The settings in ``path`` (``.toml``, else JSON)."""
    path = Path(path)
    value = _load(path)
    if not isinstance(value, dict):
        raise UserError(f"{path} should hold a table of settings (keys {', '.join(KEYS[1:])})")
    unknown = [k for k in value if k not in KEYS]
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(KEYS[1:])})")
    course = Course()
    if "exercises" in value:
        chosen = value["exercises"]
        if isinstance(chosen, str):
            try:
                chosen = parse_selection([chosen])
            except ValueError as err:
                raise UserError(f"{path}: exercises: {err}") from None
        course.exercises = exercise_list(chosen, f"{path}: exercises")
    if "examples" in value:
        course.examples = _number(value["examples"], int, 1, MAX_EXAMPLES, f"{path}: examples")
    if "time_limit" in value:
        course.time_limit = _number(value["time_limit"], float, 0.1, MAX_TIME_LIMIT, f"{path}: time_limit")
    if "partial_credit" in value:
        if type(value["partial_credit"]) is not bool:
            raise UserError(f"{path}: partial_credit should be true or false")
        course.partial_credit = value["partial_credit"]
    if "visibility" in value:
        if value["visibility"] not in VISIBILITY:
            raise UserError(f"{path}: visibility should be one of {', '.join(VISIBILITY)}")
        course.visibility = value["visibility"]
    if "seed" in value:
        course.seed = _number(value["seed"], int, 0, 2**32 - 1, f"{path}: seed")
    points = value.get("points", {})
    if not isinstance(points, dict):
        raise UserError(f"{path}: points should be a table of exercise number = points")
    for key, p in points.items():
        if not str(key).isdigit() or not 1 <= int(key) <= len(EXERCISES):
            raise UserError(f"{path}: points names exercise {str(key)[:20]!r}; the course has 1 to {len(EXERCISES)}")
        course.points[int(key)] = _number(p, int, 0, MAX_POINTS, f"{path}: points of exercise {key}")
    hidden = value.get("hidden", [])
    if not isinstance(hidden, list) or not all(isinstance(h, dict) for h in hidden):
        raise UserError(f"{path}: hidden should be a list of tables ([[hidden]] with exercise = K and sizes)")
    for i, case in enumerate(hidden, 1):
        where = f"{path}: hidden case {i}"
        k = _number(case.get("exercise"), int, 1, len(EXERCISES), f"{where}: exercise")
        dims = {}
        for letter, size in case.items():
            if letter == "exercise":
                continue
            if type(size) is bool:
                dims[letter] = size
            else:
                dims[letter] = _number(size, type(size) if type(size) in (int, float) else int,
                                       0, MAX_HIDDEN_SIZE, f"{where}: {letter}")
        course.hidden.append((k, dims))
    return course
