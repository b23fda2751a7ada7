"""The grader's report: a text table, a JSON list, and Gradescope's ``results.json``.

Every message and flag is one line with control characters (newlines, ESC, bidirectional
overrides) written as escapes, so what a student's code raises cannot draw a fake total
or hide a line. Output paths are checked before grading starts (a symbolic link is refused)
and an earlier file there is removed, so that only a grade that reached its end leaves one.
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


def points(x) -> str:
    """2, 1.5 or 0.33: a whole number without decimals."""
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def earned(r: dict):
    return r.get("score", r["points"] if r["passed"] else 0)


def table(results: list, notes=()) -> str:
    """The results as a text table, the kit's notes above, each exercise's flags below its row."""
    width = max([len(r["function"]) for r in results] + [8])
    lines = [f"note: {one_line(n)}" for n in notes]
    lines.append(f" #  {'function':{width}s}  points  result")
    for r in results:
        cases = (f" ({r['cases_passed']} of {r['cases']} cases passed)"
                 if not r["passed"] and r.get("cases_passed") else "")
        lines.append(f"{r['exercise']:2d}  {r['function']:{width}s}  {points(earned(r)):>2s}/{r['points']:<3d}  "
                     f"{'passed' if r['passed'] else one_line(r['message'])}{cases}")
        lines += [f"{'':4s}flag: {one_line(f)}" for f in r.get("flags", ())]
    total = sum(r["points"] for r in results)
    lines.append(f"total: {points(sum(earned(r) for r in results))}/{total} points, "
                 f"{sum(r['passed'] for r in results)} of {len(results)} exercises passed")
    return "\n".join(lines)


def write_json(results: list, path: Path) -> None:
    write_text(Path(path), json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def gradescope(results: list, notes=(), visibility: str = "visible", seconds: float = 0.0) -> dict:
    """Gradescope's autograder ``results.json``: one test per exercise, the notes as its
    output, ``visibility`` for the whole and for each test, ``execution_time`` in seconds."""
    tests = []
    for r in results:
        text = "passed" if r["passed"] else r["message"]
        if not r["passed"] and r.get("cases"):
            text += f" ({r.get('cases_passed', 0)} of {r['cases']} cases passed)"
        tests.append({"name": f"exercise {r['exercise']}: {r['function']}", "number": str(r["exercise"]),
                      "score": earned(r), "max_score": r["points"], "status": "passed" if r["passed"] else "failed",
                      "visibility": visibility,
                      "output": "\n".join([one_line(text)] + [f"flag: {one_line(f)}" for f in r.get("flags", ())])})
    return {"score": round(sum(t["score"] for t in tests), 2), "execution_time": round(seconds, 2),
            "visibility": visibility, "output": "\n".join(one_line(n) for n in notes), "tests": tests}


def write_gradescope(results: list, notes, path: Path, visibility: str = "visible", seconds: float = 0.0) -> None:
    write_text(Path(path), json.dumps(gradescope(results, notes, visibility, seconds), indent=1,
                                      ensure_ascii=False) + "\n")


def check_writable(path: Path, flag: str) -> None:
    """UserError in one sentence unless a file can be written at ``path`` (tried in its folder)."""
    path = Path(path)
    if path.is_symlink():
        raise UserError(f"{flag} {path}: that is a symbolic link; results are never written through a link "
                        "(remove it, or give another name)")
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


def remove_stale(path: Path) -> None:
    """Remove a results file left by an earlier grade, so that a grade stopped before its end
    leaves none (the checks above ran first: it is a regular file or nothing)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise UserError(f"{path}: cannot remove the earlier results ({err.strerror or err})") from None
