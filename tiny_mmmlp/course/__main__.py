"""The course kit's command line.

    python -m tiny_mmmlp.course list
    python -m tiny_mmmlp.course new DIR [--exercises 1-10 | all | triton | 2,3,6]
    python -I -m tiny_mmmlp.course grade DIR [--exercises K ... | --manifest FILE] [--json FILE]
                                             [--gradescope FILE] [--examples 25] [--time-limit 60]
    python -m tiny_mmmlp.course solve DIR (--exercise K | --all)

``-I`` keeps the current folder off ``sys.path``: run from inside a kit, plain ``python -m``
would start the kit's own (student-editable) ``tiny_mmmlp/course`` instead of this grader.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import signal
import sys
from pathlib import Path

from ..cli import OneLineParser, positive_int
from ..errors import UserError, exit_on_user_error
from . import kit as kits
from . import manifest
from .exercises import DEFAULT, EXERCISES, parse_selection


def _bounded(kind, low, high, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


def build_parser():
    from .grade import MAX_EXAMPLES, MAX_JOBS, MAX_TIME_LIMIT

    p = OneLineParser(prog="python -m tiny_mmmlp.course",
                      description="Hand out, grade and solve the tiny_mmmlp course kit.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the exercise table")
    new = sub.add_parser("new", help="write a student kit to DIR (which must not exist)")
    new.add_argument("dir", type=Path, help="the kit folder to create")
    new.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                     help="exercise numbers, ranges (2-5), 'all' or 'triton' "
                          f"(default: {DEFAULT[0]}-{DEFAULT[-1]}, the NumPy part)")
    grade = sub.add_parser("grade", help="grade the kit in DIR (run from outside the kit, or with python -I)")
    grade.add_argument("dir", type=Path, help="a kit folder made by new")
    which = grade.add_mutually_exclusive_group()
    which.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                       help="the exercises to grade, as for new (default: the list in the kit's "
                            "course.json, which the student can edit)")
    which.add_argument("--manifest", type=Path, default=None, metavar="FILE",
                       help="grade the exercises listed in FILE, a course.json kept outside the kit")
    grade.add_argument("--json", type=Path, default=None, metavar="FILE",
                       help="also write the results as a JSON list to FILE")
    grade.add_argument("--gradescope", type=Path, default=None, metavar="FILE",
                       help="also write Gradescope's autograder results.json to FILE")
    grade.add_argument("--examples", type=_bounded(int, 0, MAX_EXAMPLES, f"an integer from 1 to {MAX_EXAMPLES}"),
                       default=25, help="Hypothesis examples per exercise (default 25; a third for Triton)")
    grade.add_argument("--time-limit", type=_bounded(float, 0, MAX_TIME_LIMIT, f"seconds, above 0 and at most "
                                                                              f"{MAX_TIME_LIMIT:g}"),
                       default=60.0, metavar="S",
                       help="seconds per exercise (default 60; three times that for Triton)")
    grade.add_argument("--jobs", type=_bounded(int, 0, MAX_JOBS, f"an integer from 1 to {MAX_JOBS}"), default=2,
                       help="exercises graded at once (default 2)")
    solve = sub.add_parser("solve", help="restore reference bodies in the kit in DIR")
    solve.add_argument("dir", type=Path, help="a kit folder made by new")
    which = solve.add_mutually_exclusive_group(required=True)
    which.add_argument("--exercise", type=positive_int, metavar="K", help="restore exercise K")
    which.add_argument("--all", action="store_true", help="restore every exercise of the kit")
    return p


def _selection(words, flag: str) -> list:
    try:
        return parse_selection(words)
    except ValueError as err:
        raise UserError(f"{flag}: {err}") from None


def run_grade(args) -> None:
    from .grade import grade
    from .processes import Stopped
    from .report import check_writable, table, write_gradescope, write_json
    from .staging import installed_root

    if importlib.util.find_spec("hypothesis") is None:
        raise UserError("grading needs Hypothesis: pip install 'tiny_mmmlp[course]'")
    if args.json and args.gradescope and args.json.resolve() == args.gradescope.resolve():
        raise UserError("--json and --gradescope name the same file; give two")
    for flag, path in (("--json", args.json), ("--gradescope", args.gradescope)):
        if path is not None:
            check_writable(path, flag)
    notes = []
    if args.exercises:
        chosen = _selection(args.exercises, "--exercises")
    elif args.manifest:
        chosen = manifest.read_manifest_file(args.manifest)
    else:
        chosen = manifest.read_manifest(args.dir)
        notes.append(f"graded the exercises {args.dir / manifest.MANIFEST} lists, which the kit's owner "
                     "can edit; name them with --exercises or --manifest")
    manifest.check_kit(args.dir)
    kit = args.dir.resolve()
    if installed_root() == kit or kit in installed_root().parents:
        raise UserError(f"this grader was loaded from inside the kit {args.dir}; run the installed one "
                        "from outside the kit, or with python -I -m tiny_mmmlp.course")
    if os.environ.get("TINY_MMMLP_KIT_ROOT"):
        notes.append("started through a kit's own tiny_mmmlp/course/__main__.py, which its owner can edit: "
                     "a self-check; grade with python -I -m tiny_mmmlp.course grade KIT from outside the kit")
    try:
        results, kit_notes = grade(args.dir, chosen, args.examples, args.time_limit, args.jobs)
    except Stopped as stop:
        print(f"\nstopped by {signal.Signals(stop.signum).name}; every process of the kit was killed "
              "and nothing was graded", file=sys.stderr)
        raise SystemExit(128 + stop.signum) from None
    notes += kit_notes
    print(table(results, notes))
    if args.json:
        write_json(results, args.json)
    if args.gradescope:
        write_gradescope(results, notes, args.gradescope)


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for k, ex in enumerate(EXERCISES, 1):
            print(f"{k:2d}  {ex.name:45s} {ex.points} point{'s' if ex.points > 1 else ' '}  tutorial {ex.tutorial}"
                  f"{'  (triton)' if ex.part == 'triton' else ''}")
    elif args.command == "new":
        chosen = _selection(args.exercises, "--exercises") if args.exercises else list(DEFAULT)
        kits.new(args.dir, chosen)
        print(f"wrote a kit with exercises {', '.join(map(str, chosen))} to {args.dir}; "
              f"grade it with: python -I -m tiny_mmmlp.course grade {args.dir} "
              f"--exercises {','.join(map(str, chosen))}")
    elif args.command == "grade":
        run_grade(args)
    else:
        chosen = manifest.read_manifest(args.dir)
        if args.exercise is not None and args.exercise not in chosen:
            raise UserError(f"--exercise {args.exercise}: this kit holds exercises "
                            f"{', '.join(map(str, chosen))}")
        for line in kits.solve(args.dir, chosen if args.all else [args.exercise]):
            print(line)


if __name__ == "__main__":
    main()
