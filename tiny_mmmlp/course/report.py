"""The grader's report: a text table, a JSON list, and Gradescope's ``results.json``.

Every message and flag is one line with control characters (newlines, ESC, bidirectional
overrides) written as escapes, so what a student's code raises cannot draw a fake total
or hide a line. Output paths are checked before grading starts.
"""
from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

from ..errors import UserError
from ..files import write_text

MAX_MESSAGE = 400


def one_line(text, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line: control and format characters escaped, at most ``limit`` characters."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    line = "".join(out)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def table(results: list, notes=()) -> str:
    """The results as a text table, the kit's notes above, each exercise's flags below its row."""
    width = max([len(r["function"]) for r in results] + [8])
    lines = [f"note: {one_line(n)}" for n in notes]
    lines.append(f" #  {'function':{width}s}  points  result")
    for r in results:
        got = r["points"] if r["passed"] else 0
        lines.append(f"{r['exercise']:2d}  {r['function']:{width}s}  {got:2d}/{r['points']:<3d}  "
                     f"{'passed' if r['passed'] else one_line(r['message'])}")
        lines += [f"{'':4s}flag: {one_line(f)}" for f in r.get("flags", ())]
    total = sum(r["points"] for r in results)
    earned = sum(r["points"] for r in results if r["passed"])
    lines.append(f"total: {earned}/{total} points, {sum(r['passed'] for r in results)} of {len(results)} "
                 "exercises passed")
    return "\n".join(lines)


def write_json(results: list, path: Path) -> None:
    write_text(Path(path), json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def gradescope(results: list, notes=()) -> dict:
    """Gradescope's autograder ``results.json``: one test per exercise, the notes as its output."""
    tests = []
    for r in results:
        text = "passed" if r["passed"] else r["message"]
        tests.append({"name": f"exercise {r['exercise']}: {r['function']}", "number": str(r["exercise"]),
                      "score": r["points"] if r["passed"] else 0, "max_score": r["points"],
                      "status": "passed" if r["passed"] else "failed",
                      "output": "\n".join([one_line(text)] + [f"flag: {one_line(f)}" for f in r.get("flags", ())])})
    return {"score": sum(t["score"] for t in tests), "output": "\n".join(one_line(n) for n in notes),
            "tests": tests}


def write_gradescope(results: list, notes, path: Path) -> None:
    write_text(Path(path), json.dumps(gradescope(results, notes), indent=1, ensure_ascii=False) + "\n")


def check_writable(path: Path, flag: str) -> None:
    """UserError in one sentence unless a file can be written at ``path`` (tried in its folder)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: that is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UserError(f"{flag} {path}: that is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{flag} {path}: the folder {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot write in {folder} ({err.strerror or err})") from None
