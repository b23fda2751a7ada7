"""The course kit's command line.

    python -m tiny_mmmlp.course list
    python -m tiny_mmmlp.course new DIR [--exercises 1-10 | all | triton | 2,3,6]
    python -I -m tiny_mmmlp.course grade DIR [--exercises K ... | --manifest FILE] [--json FILE]
                                             [--gradescope FILE] [--examples 25] [--time-limit 60]
    python -I -m tiny_mmmlp.course grade SUBMISSIONS --gradebook grades.csv --config course.toml
    python -m tiny_mmmlp.course solve DIR (--exercise K | --all)
    python -m tiny_mmmlp.course gradescope-zip autograder.zip [--config course.toml]

``-I`` keeps the current folder off ``sys.path``: run from inside a kit, plain ``python -m``
would start the kit's own (student-editable) ``tiny_mmmlp/course`` instead of this grader.
Only ``grade`` needs Hypothesis (the ``course`` extra), and imports it when it starts.
"""
from __future__ import annotations

import argparse
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
from .report import check_writable
from .settings import MAX_EXAMPLES, MAX_JOBS, MAX_TIME_LIMIT, Course, read_course


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
    p = OneLineParser(prog="python -m tiny_mmmlp.course",
                      description="Hand out, grade and solve the tiny_mmmlp course kit.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the exercise table")
    new = sub.add_parser("new", help="write a student kit to DIR (which must not exist)")
    new.add_argument("dir", type=Path, help="the kit folder to create")
    new.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                     help="exercise numbers, ranges (2-5), 'all' or 'triton' "
                          f"(default: {DEFAULT[0]}-{DEFAULT[-1]}, the NumPy part)")
    grade = sub.add_parser("grade", help="grade the kit in DIR (run from outside the kit, or with python -I), "
                                         "or with --gradebook every kit in the folder DIR")
    grade.add_argument("dir", type=Path, help="a kit folder made by new; with --gradebook, a folder of them "
                                              "(one per student, named after the student)")
    which = grade.add_mutually_exclusive_group()
    which.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                       help="the exercises to grade, as for new (default: those of --config, else the list in "
                            "the kit's course.json, which the student can edit)")
    which.add_argument("--manifest", type=Path, default=None, metavar="FILE",
                       help="grade the exercises listed in FILE, a course.json kept outside the kit")
    grade.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help="the instructor's course.toml (or .json): exercises, points, examples, time limit, "
                            "partial credit, Gradescope visibility, a seed and hidden cases")
    grade.add_argument("--json", type=Path, default=None, metavar="FILE",
                       help="also write the results as a JSON list to FILE")
    grade.add_argument("--gradescope", type=Path, default=None, metavar="FILE",
                       help="also write Gradescope's autograder results.json to FILE")
    grade.add_argument("--gradebook", type=Path, default=None, metavar="CSV",
                       help="grade every kit in the folder DIR into this CSV gradebook (a row per student)")
    grade.add_argument("--feedback", type=Path, default=None, metavar="FOLDER",
                       help="with --gradebook: where each student's report goes (default: feedback/ beside "
                            "the gradebook)")
    grade.add_argument("--examples", type=_bounded(int, 0, MAX_EXAMPLES, f"an integer from 1 to {MAX_EXAMPLES}"),
                       default=None, help="Hypothesis examples per exercise (default 25; a third for Triton)")
    grade.add_argument("--time-limit", type=_bounded(float, 0, MAX_TIME_LIMIT, f"seconds, above 0 and at most "
                                                                              f"{MAX_TIME_LIMIT:g}"),
                       default=None, metavar="S",
                       help="seconds per exercise (default 60; three times that for Triton)")
    grade.add_argument("--jobs", type=_bounded(int, 0, MAX_JOBS, f"an integer from 1 to {MAX_JOBS}"), default=2,
                       help="exercises graded at once, over all kits (default 2)")
    grade.add_argument("--partial-credit", action="store_true",
                       help="points x the fraction of cases passed (default: all or nothing per exercise)")
    grade.add_argument("--child-user", default=None, metavar="NAME",
                       help="run as root: the user the student's code runs as (default nobody)")
    solve = sub.add_parser("solve", help="restore reference bodies in the kit in DIR")
    solve.add_argument("dir", type=Path, help="a kit folder made by new")
    which = solve.add_mutually_exclusive_group(required=True)
    which.add_argument("--exercise", type=positive_int, metavar="K", help="restore exercise K")
    which.add_argument("--all", action="store_true", help="restore every exercise of the kit")
    zipped = sub.add_parser("gradescope-zip", help="write a Gradescope autograder archive (setup.sh, "
                                                   "run_autograder, this grader) to OUT.zip")
    zipped.add_argument("out", type=Path, metavar="OUT.zip", help="the archive to write")
    zipped.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="the course.toml (or .json) the autograder grades with")
    zipped.add_argument("--exercises", nargs="+", action="extend", default=None, metavar="K",
                        help="the exercises to grade, when --config names none (default: the NumPy part)")
    return p


def _selection(words, flag: str) -> list:
    try:
        return parse_selection(words)
    except ValueError as err:
        raise UserError(f"{flag}: {err}") from None


def _inside(kit: Path) -> bool:
    from .staging import installed_root

    kit = kit.resolve()
    return installed_root() == kit or kit in installed_root().parents


def _outputs(args) -> list:
    """(flag, path) of every file this grade writes, checked before anything is graded."""
    outs = [(f, p) for f, p in (("--json", args.json), ("--gradescope", args.gradescope),
                                ("--gradebook", args.gradebook)) if p is not None]
    if args.gradebook and (args.json or args.gradescope):
        raise UserError("--gradebook writes a gradebook and a report per student; --json and --gradescope are "
                        "for one kit")
    if args.feedback and not args.gradebook:
        raise UserError("--feedback goes with --gradebook")
    feedback = args.feedback or (args.gradebook.parent / "feedback" if args.gradebook else None)
    if feedback is not None and (feedback.is_symlink() or (feedback.exists() and not feedback.is_dir())):
        raise UserError(f"--feedback {feedback}: that is {'a symbolic link' if feedback.is_symlink() else 'a file'}; "
                        "give a folder (reports are never written through a link)")
    seen = {}
    for flag, path in outs:
        if path.resolve() in seen:
            raise UserError(f"{seen[path.resolve()]} and {flag} name the same file; give two")
        seen[path.resolve()] = flag
        check_writable(path, flag)
    return outs


def run_grade(args) -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UserError("grading needs Hypothesis: pip install 'tiny_mmmlp[course]'") from None
    from . import gradebook
    from .grade import GraderChanged, grade_kits
    from .processes import Stopped
    from .report import remove_stale, table, write_gradescope, write_json

    outs = _outputs(args)
    course = read_course(args.config) if args.config else Course()
    examples = args.examples or course.examples or 25
    time_limit = args.time_limit or course.time_limit or 60.0
    course.partial_credit = course.partial_credit or args.partial_credit
    notes = []
    if args.exercises:
        chosen = _selection(args.exercises, "--exercises")
    elif args.manifest:
        chosen = manifest.read_manifest_file(args.manifest)
    elif course.exercises:
        chosen = course.exercises
    elif args.gradebook:
        raise UserError("--gradebook: name the exercises with --exercises, --manifest or --config "
                        "(a student's course.json does not decide a gradebook)")
    else:
        chosen = manifest.read_manifest(args.dir)
        notes.append(f"graded the exercises {args.dir / manifest.MANIFEST} lists, which the kit's owner "
                     "can edit; name them with --exercises or --manifest")
    if args.gradebook:
        students = gradebook.submissions(args.dir)
        kits = [kit for _, kit, _ in students if kit is not None]
    else:
        manifest.check_kit(args.dir)
        students, kits = None, [args.dir]
    for kit in kits:
        if _inside(kit):
            raise UserError(f"this grader was loaded from inside the kit {kit}; run the installed one "
                            "from outside the kit, or with python -I -m tiny_mmmlp.course")
    if os.environ.get("TINY_MMMLP_KIT_ROOT"):
        notes.append("started through a kit's own tiny_mmmlp/course/__main__.py, which its owner can edit: "
                     "a self-check; grade with python -I -m tiny_mmmlp.course grade KIT from outside the kit")
    for _, path in outs:
        remove_stale(path)
    try:
        per_kit, run_notes = grade_kits(kits, chosen, course, examples, time_limit, args.jobs, args.child_user)
    except Stopped as stop:
        print(f"\nstopped by {signal.Signals(stop.signum).name}; every process of the kit was killed "
              "and nothing was graded", file=sys.stderr)
        raise SystemExit(128 + stop.signum) from None
    except GraderChanged as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(err.exit_code) from None
    if args.gradebook:
        feedback = args.feedback or args.gradebook.parent / "feedback"
        print(gradebook.write(args.gradebook, feedback, students, per_kit, chosen, course, notes + run_notes))
        return
    results, kit_notes = per_kit[0]
    notes += kit_notes + run_notes
    print(table(results, notes))
    if args.json:
        write_json(results, args.json)
    if args.gradescope:
        write_gradescope(results, notes, args.gradescope, course.visibility, sum(r["seconds"] for r in results))


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
    elif args.command == "gradescope-zip":
        from .autograder import write_zip

        course = read_course(args.config) if args.config else Course()
        chosen = _selection(args.exercises, "--exercises") if args.exercises else course.exercises or list(DEFAULT)
        print(write_zip(args.out, args.config, chosen))
    else:
        chosen = manifest.read_manifest(args.dir)
        if args.exercise is not None and args.exercise not in chosen:
            raise UserError(f"--exercise {args.exercise}: this kit holds exercises "
                            f"{', '.join(map(str, chosen))}")
        for line in kits.solve(args.dir, chosen if args.all else [args.exercise]):
            print(line)


if __name__ == "__main__":
    main()
