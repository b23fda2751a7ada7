"""The course kit's command line.

    python -m tiny_mmmlp.course list
    python -m tiny_mmmlp.course new DIR [--exercises 1-10 | all | triton | 2,3,6]
    python -m tiny_mmmlp.course grade DIR [--json FILE] [--examples 25] [--time-limit 60]
    python -m tiny_mmmlp.course solve DIR (--exercise K | --all)
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..cli import OneLineParser, positive_float, positive_int
from ..errors import UserError, exit_on_user_error
from . import kit as kits
from .exercises import DEFAULT, EXERCISES, parse_selection


def build_parser():
    p = OneLineParser(prog="python -m tiny_mmmlp.course",
                      description="Hand out, grade and solve the tiny_mmmlp course kit.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the exercise table")
    new = sub.add_parser("new", help="write a student kit to DIR (which must not exist)")
    new.add_argument("dir", type=Path, help="the kit folder to create")
    new.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                     help="exercise numbers, ranges (2-5), 'all' or 'triton' "
                          f"(default: {DEFAULT[0]}-{DEFAULT[-1]}, the NumPy part)")
    grade = sub.add_parser("grade", help="grade the kit in DIR")
    grade.add_argument("dir", type=Path, help="a kit folder made by new")
    grade.add_argument("--json", type=Path, default=None, metavar="FILE",
                       help="also write the results as a JSON list to FILE")
    grade.add_argument("--examples", type=positive_int, default=25,
                       help="Hypothesis examples per exercise (default 25; a third for Triton)")
    grade.add_argument("--time-limit", type=positive_float, default=60.0, metavar="S",
                       help="seconds per exercise (default 60; three times that for Triton)")
    grade.add_argument("--jobs", type=positive_int, default=2, help="exercises graded at once (default 2)")
    solve = sub.add_parser("solve", help="restore reference bodies in the kit in DIR")
    solve.add_argument("dir", type=Path, help="a kit folder made by new")
    which = solve.add_mutually_exclusive_group(required=True)
    which.add_argument("--exercise", type=positive_int, metavar="K", help="restore exercise K")
    which.add_argument("--all", action="store_true", help="restore every exercise of the kit")
    return p


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for k, ex in enumerate(EXERCISES, 1):
            print(f"{k:2d}  {ex.name:45s} {ex.points} point{'s' if ex.points > 1 else ' '}  tutorial {ex.tutorial}"
                  f"{'  (triton)' if ex.part == 'triton' else ''}")
    elif args.command == "new":
        try:
            chosen = parse_selection(args.exercises) if args.exercises else list(DEFAULT)
        except ValueError as err:
            raise UserError(f"--exercises: {err}") from None
        kits.new(args.dir, chosen)
        print(f"wrote a kit with exercises {', '.join(map(str, chosen))} to {args.dir}; "
              f"grade it with: python -m tiny_mmmlp.course grade {args.dir}")
    elif args.command == "grade":
        from .grade import grade, table, write_json

        if importlib.util.find_spec("hypothesis") is None:
            raise UserError("grading needs Hypothesis: pip install 'tiny_mmmlp[course]'")
        results = grade(args.dir, args.examples, args.time_limit, args.jobs)
        print(table(results))
        if args.json:
            try:
                write_json(results, args.json)
            except OSError as err:
                raise UserError(f"--json: cannot write {args.json}: {err.strerror or err}") from None
    else:
        chosen = kits.read_manifest(args.dir)
        if args.exercise is not None and args.exercise not in chosen:
            raise UserError(f"--exercise {args.exercise}: this kit holds exercises "
                            f"{', '.join(map(str, chosen))}")
        for line in kits.solve(args.dir, chosen if args.all else [args.exercise]):
            print(line)


if __name__ == "__main__":
    main()
