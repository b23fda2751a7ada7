"""Grading a class: a folder of submissions into a CSV gradebook and a report per student.

    SUBMISSIONS/alice/tiny_mmmlp/...     one folder per student, named after the student:
    SUBMISSIONS/bob/hw1/tiny_mmmlp/...   the kit itself, or a folder holding exactly one kit

Every kit is graded in the same run (``grade.grade_kits``: the cases are drawn once, every
student meets the same ones, ``--jobs`` children at once over the whole class). The
gradebook has one row per student (``student``, one column per exercise with the points
earned, ``total``, ``max``, ``flags``: how many flags and notes deserve a look) and the
feedback folder one ``STUDENT.txt`` per student: the table that ``grade`` prints for one kit.
A folder that holds no kit gets a row of zeros and a report that says why.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import UserError
from ..files import write_text
from .exercises import exercise
from .manifest import PACKAGE
from .report import earned, one_line, points, table


def _kit_in(folder: Path):
    if (folder / PACKAGE / "__init__.py").is_file():
        return folder
    inner = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.is_symlink()
             and (d / PACKAGE / "__init__.py").is_file()]
    return inner[0] if len(inner) == 1 else None


def submissions(folder: Path) -> list:
    """[(student, kit folder or None, why not)] for each folder in ``folder``, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist or is not a folder")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.is_symlink():
            found.append((entry.name, None, "the submission is a symbolic link, not a folder"))
            continue
        kit = _kit_in(entry)
        found.append((entry.name, kit, "" if kit else f"no course kit in it (no {PACKAGE}/__init__.py)"))
    if not found:
        raise UserError(f"{folder} holds no submission folders (one per student, each holding a kit)")
    return found


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = one_line(text, 200)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write(path: Path, feedback: Path, students: list, per_kit: list, chosen: list, course, notes=()) -> str:
    """Write the gradebook and the feedback files; return a summary for the terminal."""
    header = ["student"] + [f"{k} {exercise(k).function} ({course.points_of(k)})" for k in chosen] + \
        ["total", "max", "flags"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    maximum = sum(course.points_of(k) for k in chosen)
    graded = iter(per_kit)
    lines, reports = [], {}
    for name, kit, why in students:
        if kit is None:
            writer.writerow([_cell(name)] + ["0"] * len(chosen) + ["0", points(maximum), "1"])
            reports[name] = f"note: {one_line(why)}\ntotal: 0/{points(maximum)} points\n"
            lines.append(f"{name}: 0/{points(maximum)} ({why})")
            continue
        results, kit_notes = next(graded)
        total = sum(earned(r) for r in results)
        flags = len(kit_notes) + sum(len(r["flags"]) for r in results)
        writer.writerow([_cell(name)] + [points(earned(r)) for r in results] +
                        [points(total), points(maximum), str(flags)])
        reports[name] = table(results, list(notes) + kit_notes) + "\n"
        lines.append(f"{name}: {points(total)}/{points(maximum)}" + (f", {flags} flags" if flags else ""))
    for name, text in reports.items():
        write_text(Path(feedback) / f"{name}.txt", text)
    write_text(Path(path), out.getvalue())
    lines.append(f"wrote {path} ({len(students)} students) and a report per student to {feedback}/")
    return "\n".join(lines)
