"""Grade a kit: one process per exercise (``worker``), each with a time limit.

An exercise that raises, hangs or returns the wrong shape costs only its own points: it
fails in its own process, which is stopped when its time runs out.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..data.atomic import write_text
from .exercises import exercise
from .kit import read_manifest


def _env(kit: Path, triton: bool) -> dict:
    """The worker's environment: the kit off PYTHONPATH (the worker loads it under another
    name), Triton's CPU interpreter for the Triton part."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != kit]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if triton:
        env["TRITON_INTERPRET"] = "1"
    return env


def grade_exercise(kit: Path, k: int, examples: int, time_limit: float, scratch: Path) -> dict:
    ex = exercise(k)
    result = scratch / f"exercise_{k}.json"
    cmd = [sys.executable, "-m", "tiny_mmmlp.course.worker", str(kit), str(k), str(examples), str(result)]
    try:
        proc = subprocess.run(cmd, cwd=scratch, env=_env(kit, ex.part == "triton"), capture_output=True,
                              text=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        passed, message = False, f"did not finish within its time limit of {time_limit:g} s (an endless loop?)"
    else:
        try:
            got = json.loads(result.read_text())
            passed, message = bool(got["passed"]), str(got["message"])
        except (OSError, ValueError, KeyError):
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            passed, message = False, (f"the grading process stopped without a result "
                                      f"(exit code {proc.returncode}): {last}")
    return {"exercise": k, "function": ex.name, "points": ex.points, "passed": passed, "message": message}


def grade(kit: Path, examples: int = 25, time_limit: float = 60.0, jobs: int = 2) -> list[dict]:
    """One result per exercise of the kit, in exercise order: {exercise, function, points
    (what the exercise is worth), passed, message}. Triton exercises get a third of the
    examples (at least 3) and three times the time: the interpreter is slow."""
    kit = Path(kit).resolve()
    chosen = read_manifest(kit)
    with tempfile.TemporaryDirectory(prefix="tiny_mmmlp_grade_") as scratch:
        def one(k):
            triton = exercise(k).part == "triton"
            return grade_exercise(kit, k, max(3, examples // 3) if triton else examples,
                                  3 * time_limit if triton else time_limit, Path(scratch))
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            return list(pool.map(one, chosen))


def table(results: list[dict]) -> str:
    """The results as a text table, with the total."""
    width = max([len(r["function"]) for r in results] + [8])
    lines = [f" #  {'function':{width}s}  points  result"]
    for r in results:
        got = r["points"] if r["passed"] else 0
        lines.append(f"{r['exercise']:2d}  {r['function']:{width}s}  {got:2d}/{r['points']:<3d}  "
                     f"{'passed' if r['passed'] else r['message']}")
    total = sum(r["points"] for r in results)
    earned = sum(r["points"] for r in results if r["passed"])
    lines.append(f"total: {earned}/{total} points, {sum(r['passed'] for r in results)} of {len(results)} "
                 "exercises passed")
    return "\n".join(lines)


def write_json(results: list[dict], path: Path) -> None:
    write_text(Path(path), json.dumps(results, indent=1, ensure_ascii=False) + "\n")
