"""Grade a kit: a trusted parent (this process) and one untrusted child per exercise.

This process never imports the kit. It reads the kit's source once (``staging``), draws
each exercise's cases, builds their inputs and computes the reference answers; the child
(``child.py``, in a scratch folder, in a process group of its own, under resource limits)
imports the kit's copy, calls the student's function on the inputs and saves what it
returns as plain arrays (``plain``). The verdict is this process's comparison of those
arrays with its own answers: a child that crashes, exits, hangs, prints or writes garbage
only fails its exercise. After each exercise its process group and any escaped descendant
are killed; on a time-out, Ctrl-C or SIGTERM everything started is killed and the scratch
folder removed.
"""
from __future__ import annotations

import importlib.util
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import plain
from .checks import Failure, check_for
from .exercises import exercise
from .flags import exercise_flags, kit_flags
from .kit import SHIM
from .problems import draw
from .processes import Child, Limits, Reaper, remove_tree, signals_held, stop_on_signals
from .report import one_line
from .staging import snapshot, stage, syntax_error

HERE = Path(__file__).resolve().parent
RUNNER = ("child.py", "plain.py", "child_triton.py")
MEMORY = {"numpy": 4 * 2**30, "triton": 8 * 2**30}   # address space of a child, bytes
FILE_LIMIT = 64 * 2**20                              # largest file a child may write, bytes
MAX_EXAMPLES, MAX_TIME_LIMIT, MAX_JOBS = 1000, 3600.0, 32


@dataclass
class Job:
    k: int
    time_limit: float
    check: object = None
    cases: list = None
    child: Child = None
    result: tuple = None          # (passed, message), known without a child


def child_env(folder: Path, triton: bool) -> dict:
    """A small environment: no secrets of the grader's, home and temporary files in the scratch folder."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "LC_CTYPE") if k in os.environ}
    env.update(HOME=str(folder), TMPDIR=str(folder / "tmp"), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    if triton:
        env["TRITON_INTERPRET"] = "1"
    return env


def library_paths() -> list:
    """This process's library folders, less any that hold a ``tiny_mmmlp`` (the child adds them
    after its own; the kit's copy comes first anyway)."""
    return [p for p in sys.path if p and os.path.isabs(p) and not os.path.exists(os.path.join(p, "tiny_mmmlp"))]


def start(snap, k: int, examples: int, time_limit: float, scratch: Path) -> Job:
    ex = exercise(k)
    triton = ex.part == "triton"
    job = Job(k, 3 * time_limit if triton else time_limit)
    missing = [m for m in ("torch", "triton") if triton and importlib.util.find_spec(m) is None]
    if missing:
        job.result = (False, f"cannot be graded here: {' and '.join(missing)} not installed")
        return job
    problem = syntax_error(snap, k)
    if problem:
        job.result = (False, problem)
        return job
    job.check = check_for(ex.name)
    job.cases = draw(job.check.problem, max(3, examples // 3) if triton else examples)
    folder = scratch / f"exercise_{k}"
    (folder / "runner").mkdir(parents=True)
    (folder / "tmp").mkdir()
    for name in RUNNER:
        shutil.copyfile(HERE / name, folder / "runner" / name)
    stage(snap, k, folder / "kit")
    plain.save(folder / "inputs.npz", {
        "module": ex.module, "function": ex.function, "recipe": job.check.recipe, "paths": library_paths(),
        "cases": [job.check.prepare(case) for case in job.cases]})
    limits = Limits(math.ceil(job.time_limit) + 1, MEMORY[ex.part], FILE_LIMIT)
    job.child = Child([sys.executable, "-I", "-B", str(folder / "runner" / "child.py"), str(folder)],
                      folder, child_env(folder, triton), limits, job.time_limit)
    return job


def hypothesis_home(folder) -> None:
    """Where Hypothesis keeps its files (it caches constants even without a database)."""
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    set_hypothesis_home_dir(folder)


def _ended(returncode: int) -> str:
    if returncode is None or returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def verdict(job: Job) -> tuple:
    """(passed, message) from what the child left, judged against the reference here."""
    ex, child = exercise(job.k), job.child
    timed_out = f"did not finish within its time limit of {job.time_limit:g} s (an endless loop?)"
    if child.timed_out or child.returncode == -signal.SIGXCPU:
        return False, timed_out
    if child.returncode == -signal.SIGXFSZ:
        return False, f"wrote a file larger than the limit of {FILE_LIMIT // 2**20} MiB"
    try:
        out = plain.load(child.cwd / "outputs.npz", FILE_LIMIT)
    except plain.Unreadable as err:
        last = (child.stderr_tail().strip().splitlines() or [f"its result file: {err}"])[-1]
        return False, f"the grading process stopped without a readable result ({_ended(child.returncode)}): {last}"
    if not isinstance(out, dict):
        return False, "the grading process left a result the grader cannot read"
    if out.get("error") == "import":
        return False, f"the kit's tiny_mmmlp/{ex.path} does not import ({out.get('text')})"
    if out.get("error") == "missing":
        return False, f"tiny_mmmlp/{ex.path} has no {ex.function}"
    results = out.get("results")
    if not isinstance(results, list) or len(results) != len(job.cases):
        return False, f"the grading process did not give one answer for each of the {len(job.cases)} cases"
    for case, got in zip(job.cases, results):
        try:
            if isinstance(got, dict) and isinstance(got.get("raised"), str):
                raise Failure(f"{case.label}: raised {got['raised']}")
            if not isinstance(got, dict) or "value" not in got:
                raise Failure(f"{case.label}: the grading process gave no readable answer")
            job.check.judge(case, got["value"])
        except Failure as f:
            return False, str(f)
        except Exception as err:       # an answer shaped so oddly that judging it failed
            return False, f"{case.label}: its answer could not be checked ({type(err).__name__}: {err})"
    return True, "passed"


def _run_all(snap, chosen, examples, time_limit, jobs, scratch, reaper) -> dict:
    verdicts, pending, running = {}, list(chosen), {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                job = start(snap, pending.pop(0), examples, time_limit, scratch)
                if job.result is not None:
                    verdicts[job.k] = job.result
                else:
                    running[job.k] = job
            for k, job in list(running.items()):
                if job.child.finished():
                    del running[k]
                    reaper.sweep(keep={j.child.pid for j in running.values()})
                    verdicts[k] = verdict(job)
            if running:
                time.sleep(0.02)
    finally:
        with signals_held():
            for job in running.values():
                job.child.stop()
    return verdicts


def grade(kit: Path, chosen: list, examples: int = 25, time_limit: float = 60.0, jobs: int = 2):
    """(results, notes): one result per exercise of ``chosen``, in that order: {exercise,
    function, points (what it is worth), passed, message, flags}; notes about the whole kit.
    Triton exercises get a third of the examples (at least 3) and three times the time."""
    kit = Path(kit).resolve()
    snap = snapshot(kit)
    notes = kit_flags(snap, SHIM)
    scratch, reaper = None, Reaper()
    with stop_on_signals():
        try:
            with signals_held():                     # a signal now arrives with scratch set
                scratch = Path(tempfile.mkdtemp(prefix="tiny_mmmlp_grade_"))
                hypothesis_home(scratch / "hypothesis")      # not a .hypothesis/ in the current folder
                reaper.open()
            verdicts = _run_all(snap, chosen, examples, time_limit, max(1, jobs), scratch, reaper)
        finally:
            with signals_held():
                reaper.close()
                hypothesis_home(None)
                if scratch is not None:
                    remove_tree(scratch)
    results = []
    for k in chosen:
        ex = exercise(k)
        passed, message = verdicts[k]
        results.append({"exercise": k, "function": ex.name, "points": ex.points, "passed": bool(passed),
                        "message": one_line(message), "flags": exercise_flags(snap, k)})
    return results, notes
