"""Grade kits: a trusted parent (this process) and one untrusted child per kit and exercise.

This process never imports a kit. Before the first child starts it has imported every
module it judges with (the checks of both parts, at the top of this file), sealed the
installed package's sources (``seal``), read every kit's source once (``staging``), drawn
every exercise's cases and computed their inputs: nothing a child could change on disk is
read or imported by the grader after that. Each child (``child.py``, in a scratch folder,
in a process group of its own, under limits, as an unprivileged user where this runs as
root, writing only inside its folder where Landlock exists: ``processes``, ``confine``)
imports its kit's copy, calls the student's function on the inputs and saves what it
returns as plain arrays (``plain``). The verdict is this process's comparison of those
arrays with its own answers, case by case. After the last child is gone and the scratch
folder removed, the seal is checked: a grader file that changed means no report at all.
"""
from __future__ import annotations

import importlib.util
import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import UserError
from . import checks, checks_triton, confine, plain
from .checks import Failure
from .exercises import exercise
from .flags import exercise_flags, kit_flags
from .kit import SHIM
from .problems import draw, hidden_case
from .processes import Child, Limits, Reaper, remove_tree, signals_held, stop_on_signals, usage
from .report import one_line
from .seal import Seal
from .settings import MAX_EXAMPLES, MAX_JOBS, MAX_TIME_LIMIT, Course, score  # noqa: F401 (the flags' bounds)
from .staging import installed_root, installed_text, snapshot, stage, syntax_error

HERE = Path(__file__).resolve().parent
RUNNER = ("child.py", "plain.py", "child_triton.py")
MEMORY = {"numpy": 4 * 2**30, "triton": 8 * 2**30}   # address space of a child, bytes
FILE_LIMIT = 64 * 2**20                              # largest file a child may write, bytes
SCRATCH_ENTRIES, SCRATCH_BYTES = 1_000, 256 * 2**20  # what a child may add to its scratch folder
QUOTA_EVERY = 0.25                                   # seconds between looks at a child's folder
CHECKS = {**checks.CHECKS, **checks_triton.CHECKS}   # exercise name -> check, both parts


def check_for(name: str):
    """The check of the exercise named ``name`` (NumPy or Triton part)."""
    return CHECKS[name]


class GraderChanged(Exception):
    """A file of the installed grader changed while children ran: nothing is reported."""

    exit_code = 3


@dataclass
class Plan:
    """What every kit meets in exercise k: its cases and their inputs, drawn once."""
    k: int
    time_limit: float
    check: object = None
    cases: list = None
    inputs: dict = None
    unavailable: str = ""          # why this machine cannot grade it


@dataclass
class Job:
    kit: int
    plan: Plan
    result: tuple = None           # (cases passed, message) once known
    child: Child = None
    base: tuple = (0, 0)           # (entries, bytes) of the scratch folder before the child ran
    seconds: float = 0.0
    looked: float = 0.0


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


def plan(k: int, course: Course, examples: int, time_limit: float) -> Plan:
    ex = exercise(k)
    triton = ex.part == "triton"
    p = Plan(k, 3 * time_limit if triton else time_limit)
    missing = [m for m in ("torch", "triton") if triton and importlib.util.find_spec(m) is None]
    if missing:
        p.unavailable = f"cannot be graded here: {' and '.join(missing)} not installed"
        return p
    p.check = check_for(ex.name)
    extra = []
    for i, (j, dims) in enumerate(course.hidden):
        if j == k:
            try:
                extra.append(hidden_case(p.check.problem, dims, (course.seed or 0) + 7919 * (i + 1)))
            except ValueError as err:
                raise UserError(f"hidden case {i + 1} of the course settings (exercise {k}): {err}") from None
    p.cases = draw(p.check.problem, max(3, examples // 3) if triton else examples, course.seed, extra)
    p.inputs = {"module": ex.module, "function": ex.function, "recipe": p.check.recipe, "paths": library_paths(),
                "cases": [p.check.prepare(case) for case in p.cases]}
    return p


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
    """(cases passed, message) from what the child left, judged against the reference here;
    the message names the smallest failing case."""
    ex, child, cases = exercise(job.plan.k), job.child, job.plan.cases
    timed_out = f"did not finish within its time limit of {job.plan.time_limit:g} s (an endless loop?)"
    if child.timed_out or child.returncode == -signal.SIGXCPU:
        return 0, timed_out
    if child.returncode == -signal.SIGXFSZ:
        return 0, f"wrote a file larger than the limit of {FILE_LIMIT // 2**20} MiB"
    try:
        out = plain.load(child.cwd / "outputs.npz", FILE_LIMIT)
    except plain.Unreadable as err:
        last = (child.stderr_tail().strip().splitlines() or [f"its result file: {err}"])[-1]
        return 0, f"the grading process stopped without a readable result ({_ended(child.returncode)}): {last}"
    if not isinstance(out, dict):
        return 0, "the grading process left a result the grader cannot read"
    if out.get("error") == "import":
        return 0, f"the kit's tiny_mmmlp/{ex.path} does not import ({out.get('text')})"
    if out.get("error") == "missing":
        return 0, f"tiny_mmmlp/{ex.path} has no {ex.function}"
    results = out.get("results")
    if not isinstance(results, list) or len(results) != len(cases):
        return 0, f"the grading process did not give one answer for each of the {len(cases)} cases"
    passed, first = 0, None
    for case, got in zip(cases, results):
        try:
            if isinstance(got, dict) and isinstance(got.get("raised"), str):
                raise Failure(f"{case.label}: raised {got['raised']}")
            if not isinstance(got, dict) or "value" not in got:
                raise Failure(f"{case.label}: the grading process gave no readable answer")
            job.plan.check.judge(case, got["value"])
            passed += 1
        except Failure as f:
            first = first or str(f)
        except Exception as err:       # an answer shaped so oddly that judging it failed
            first = first or f"{case.label}: its answer could not be checked ({type(err).__name__}: {err})"
    return passed, first or "passed"


@dataclass
class Run:
    """One grade: the kits' snapshots, the plans, the scratch folder and the children's limits."""
    snaps: list
    plans: dict
    scratch: Path
    seal: Seal
    limits: dict = field(default_factory=dict)       # part -> Limits


def start(run: Run, job: Job) -> None:
    k, p = job.plan.k, job.plan
    if p.unavailable or syntax_error(run.snaps[job.kit], k):
        job.result = (0, p.unavailable or syntax_error(run.snaps[job.kit], k))
        return
    ex = exercise(k)
    folder = run.scratch / f"kit_{job.kit}" / f"exercise_{k}"
    if not folder.parent.exists():
        folder.parent.mkdir()
        os.chmod(folder.parent, 0o711)          # a child user finds its own folder in it, nothing more
    (folder / "runner").mkdir(parents=True)
    (folder / "tmp").mkdir()
    for name, data in run.seal.runner.items():
        (folder / "runner" / name).write_bytes(data)
    stage(run.snaps[job.kit], k, folder / "kit")
    plain.save(folder / "inputs.npz", p.inputs)
    limits = run.limits[ex.part]
    confine.give_folder(folder, limits.user)
    job.base = usage(folder)
    job.child = Child([sys.executable, "-I", "-B", str(folder / "runner" / "child.py"), str(folder)],
                      folder, child_env(folder, ex.part == "triton"), limits, p.time_limit)


def over_quota(job: Job) -> str:
    """A sentence when the child has added too much to its scratch folder, else ''."""
    entries, size = usage(job.child.cwd, job.base[0] + SCRATCH_ENTRIES + 1)
    if entries - job.base[0] > SCRATCH_ENTRIES:
        return f"made more than {SCRATCH_ENTRIES} files or folders in its scratch folder"
    if size - job.base[1] > SCRATCH_BYTES:
        return f"wrote more than {SCRATCH_BYTES // 2**20} MiB to its scratch folder"
    return ""


def _run_all(run: Run, jobs: list, parallel: int, reaper: Reaper) -> None:
    pending, running = list(enumerate(jobs)), {}
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index, job = pending.pop(0)
                start(run, job)
                if job.result is None:
                    running[index] = job
            now = time.monotonic()
            for index, job in list(running.items()):
                quota, finished = "", job.child.finished()
                if finished or now - job.looked >= QUOTA_EVERY:     # and once more when it has ended
                    job.looked, quota = now, over_quota(job)
                    if quota and not finished:
                        job.child.stop()
                if quota or finished:
                    del running[index]
                    job.seconds = time.monotonic() - job.child.started
                    reaper.sweep(keep={j.child.pid for j in running.values()})
                    job.result = (0, quota) if quota else verdict(job)
                    remove_tree(job.child.cwd)
            if running:
                time.sleep(0.02)
    finally:
        with signals_held():
            for job in running.values():
                job.child.stop()


def grade_kits(kits: list, chosen: list, course: Course = None, examples: int = 25, time_limit: float = 60.0,
               jobs: int = 2, child_user: str | None = None):
    """([(results, notes) per kit], run notes). A result per exercise of ``chosen``, in that
    order: {exercise, function, points (what it is worth), score (earned), passed, cases_passed,
    cases, seconds, message, flags}. Triton exercises get a third of the examples (at least 3)
    and three times the time. Raises GraderChanged if a grader file changed meanwhile."""
    course = course or Course()
    seal = Seal(installed_root(), HERE, RUNNER)
    for path in seal.digests:                        # the reference's text, read now, not after a child ran
        installed_text(Path(path).as_posix())
    snaps = [snapshot(Path(kit).resolve()) for kit in kits]
    kit_notes = [kit_flags(snap, SHIM) for snap in snaps]
    flags = [{k: exercise_flags(snap, k) for k in chosen} for snap in snaps]
    run_notes, scratch, reaper, job_list = [], None, Reaper(), []
    with stop_on_signals():
        try:
            with signals_held():                     # a signal now arrives with scratch set
                scratch = Path(tempfile.mkdtemp(prefix="tiny_mmmlp_grade_"))
                hypothesis_home(scratch / "hypothesis")      # not a .hypothesis/ in the current folder
                reaper.open()
            plans = {k: plan(k, course, examples, time_limit) for k in chosen}
            user = confine.child_user(child_user, [sys.executable, sys.base_prefix, sys.prefix, scratch,
                                                   *library_paths()])
            if user.switches:
                os.chmod(scratch, 0o711)
                run_notes.append(f"the student's code ran as {user.name}" + (
                    ", allowed to read every file since it cannot reach this Python otherwise "
                    f"({sys.executable}): install Python where every user can read it" if user.read_all else ""))
            present = confine.tasks_of(user.uid if user.switches else os.getuid())
            nproc = 0 if present is None else present + confine.NPROC_PER_CHILD * jobs
            base = Limits(0, 0, FILE_LIMIT, nproc, user, confine.landlock_abi())
            limits = {part: replace(base, cpu_seconds=math.ceil(time_limit * (3 if part == "triton" else 1)) + 1,
                                    memory_bytes=MEMORY[part]) for part in MEMORY}
            run = Run(snaps, plans, scratch, seal, limits)
            job_list = [Job(i, plans[k]) for i in range(len(kits)) for k in chosen]
            _run_all(run, job_list, max(1, jobs), reaper)
        finally:
            with signals_held():
                reaper.close()
                hypothesis_home(None)
                if scratch is not None:
                    remove_tree(scratch)
    changed = seal.changed()
    if changed:
        raise GraderChanged(f"the grader's own files changed while the kits' code ran ({changed[0]}"
                            + (f" and {len(changed) - 1} more" if len(changed) > 1 else "")
                            + f" in {seal.root}); nothing is reported: reinstall tiny_mmmlp and grade again "
                            "as root or in a container")
    out = []
    for i in range(len(kits)):
        results = []
        for job in job_list[i * len(chosen):(i + 1) * len(chosen)]:
            k, cases = job.plan.k, len(job.plan.cases or [])
            passed, message = job.result
            points = course.points_of(k)
            results.append({"exercise": k, "function": exercise(k).name, "points": points,
                            "score": score(points, passed, cases, course.partial_credit),
                            "passed": bool(cases) and passed == cases, "cases_passed": passed, "cases": cases,
                            "seconds": round(job.seconds, 2), "message": one_line(message), "flags": flags[i][k]})
        out.append((results, kit_notes[i]))
    return out, run_notes


def grade(kit: Path, chosen: list, examples: int = 25, time_limit: float = 60.0, jobs: int = 2, course=None,
          child_user=None):
    """(results, notes) of one kit (see ``grade_kits``)."""
    per_kit, run_notes = grade_kits([kit], chosen, course, examples, time_limit, jobs, child_user)
    results, notes = per_kit[0]
    return results, notes + run_notes
