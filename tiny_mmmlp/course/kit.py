"""A student's kit: a copy of the package in which the chosen exercises' bodies are empty.

    DIR/course.json        which exercises this kit holds (the grader's default, used only
                           when the instructor names none: the student holds this file)
    DIR/README.md          the assignment: exercises, files, points, tutorials, how to check
    DIR/tiny_mmmlp/        the whole package (the fused kernels in tiny_mmmlp/kernels/),
                           without the course tools; importable from DIR

Run from DIR, ``import tiny_mmmlp`` finds the kit's copy, so the tutorials and the
trainer run on the student's own code. For the same reason ``python -m tiny_mmmlp.course``
run from DIR starts the kit's ``tiny_mmmlp/course/__main__.py`` (``SHIM``), which the student
can edit: a self-check. The grade that counts runs the installed grader from outside the
kit, or with ``python -I`` (which keeps the current folder off ``sys.path``).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..files import building_folder, write_text
from . import stubs
from .exercises import exercise, installed_source
from .manifest import MANIFEST, PACKAGE

# Inside a kit, `python -m tiny_mmmlp.course ...` would find the kit's own copy of the
# package first; this stand-in runs the installed grader with the kit off sys.path.
SHIM = '''"""The course tools are not part of a kit: run the installed tiny_mmmlp's, with the kit off sys.path."""
import os
import subprocess
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != KIT]
env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TINY_MMMLP_KIT_ROOT=str(KIT))
code = ("import os, runpy, sys; from pathlib import Path; kit = Path(os.environ['TINY_MMMLP_KIT_ROOT']); "
        "sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != kit]; "
        "runpy.run_module('tiny_mmmlp.course', run_name='__main__', alter_sys=True)")
sys.exit(subprocess.call([sys.executable, "-c", code, *sys.argv[1:]], env=env))
'''


def message(k: int) -> str:
    ex = exercise(k)
    return f"Exercise {k}: {ex.function}: {ex.hint}."


def _ignore(folder, names):
    return [n for n in names if n in ("__pycache__", "course") or n.endswith((".pyc", ".egg-info"))]


def new(kit: Path, chosen: list[int]) -> None:
    """Write a kit holding exercises ``chosen`` to ``kit`` (which must not exist)."""
    import tiny_mmmlp

    kit = Path(kit)
    if kit.exists():
        raise UserError(f"{kit} already exists; choose a new folder for the kit")
    try:
        _build(kit, chosen, Path(tiny_mmmlp.__file__).parent)
    except OSError as err:
        raise UserError(f"cannot write the kit to {kit}: {err.strerror or err}") from None


def _build(kit: Path, chosen: list[int], package_src: Path) -> None:
    with building_folder(kit) as tmp:
        package = tmp / PACKAGE
        shutil.copytree(package_src, package, ignore=_ignore)   # the fused kernels included
        (package / "course").mkdir()
        write_text(package / "course" / "__init__.py", "")
        write_text(package / "course" / "__main__.py", SHIM)
        for k in chosen:
            ex = exercise(k)
            path = package / ex.path
            path.write_text(stubs.stub(path.read_text(), ex.function, message(k), str(path)))
        write_text(tmp / MANIFEST, json.dumps({"tiny_mmmlp": __version__, "exercises": chosen}) + "\n")
        write_text(tmp / "README.md", assignment(chosen))


def solve(kit: Path, chosen: list[int]) -> list[str]:
    """Put the installed reference bodies of exercises ``chosen`` back into the kit's files.

    Returns one line per exercise restored.
    """
    done = []
    for k in chosen:
        ex = exercise(k)
        path = Path(kit) / PACKAGE / ex.path
        try:
            source = path.read_text()
        except OSError:
            raise UserError(f"{path} is missing from the kit") from None
        reference = installed_source(ex)
        new_def = stubs.function_source(reference.read_text(), ex.function, str(reference))
        try:
            write_text(path, stubs.replace_function(source, ex.function, new_def, str(path)))
        except SyntaxError as err:
            raise UserError(f"{path} line {err.lineno} does not parse ({err.msg}); "
                            "fix it before restoring a body in it") from None
        except ValueError as err:
            raise UserError(f"{err}; cannot restore exercise {k}") from None
        done.append(f"exercise {k}: restored {ex.name} in {path}")
    return done


def assignment(chosen: list[int]) -> str:
    """The kit's README: the exercises, where they are, and how to check them."""
    points = sum(exercise(k).points for k in chosen)
    lines = [
        "# tiny_mmmlp course kit",
        "",
        "This folder is a working copy of `tiny_mmmlp` in which some functions have lost their",
        "bodies. Each keeps its signature and its docstring (the equation and the shapes) and now",
        "raises `NotImplementedError(\"Exercise k: ...\")` with a hint. Write the bodies back.",
        "",
        "Run Python from this folder and `import tiny_mmmlp` uses your copy, so",
        "`python -m tiny_mmmlp.train` runs on your code; so do the tutorials (the `tutorials/`",
        "folder of the tiny_mmmlp repository) when started with this folder on the path:",
        "`PYTHONPATH=. python path/to/tutorials/01_mixer_block_by_hand.py`. Each exercise follows a",
        "tutorial section (last column below), where its equations are derived or used.",
        "Check your work at any time with",
        "",
        "    python -I -m tiny_mmmlp.course grade .",
        "",
        "which compares each function with the installed reference on many random shapes (including",
        "a batch of one, a sequence of one and odd widths) and with a numeric gradient check.",
        "Each exercise is graded on its own: the other exercises' functions are replaced by the",
        "reference while it is checked, so one unfinished exercise does not sink another.",
        "Exercises marked (Triton) run Triton kernels in Triton's CPU interpreter (no GPU needed).",
        "",
        "(`-I` runs the installed grader; without it, Python run from this folder finds this kit's",
        "own `tiny_mmmlp/course/__main__.py`, part of your copy, which starts the installed grader",
        "too.) The grade that counts is the one your instructor runs with the installed grader from",
        "outside this folder: it grades the exercises the instructor names, whatever `course.json`",
        "says, runs your code in a separate process, and flags code changed outside the exercise",
        "bodies. Write only the bodies.",
        "",
        "| # | file | function | points | follows tutorial § |",
        "|---|---|---|---|---|",
    ]
    for k in chosen:
        ex = exercise(k)
        part = " (Triton)" if ex.part == "triton" else ""
        lines.append(f"| {k} | `tiny_mmmlp/{ex.path}`{part} | `{ex.function}` | {ex.points} | {ex.tutorial} |")
    lines += ["", f"{len(chosen)} exercises, {points} points.",
              "", "Stuck? `python -m tiny_mmmlp.course solve . --exercise k` puts the reference body",
              "of exercise k back (and `--all` every one).", ""]
    return "\n".join(lines)
