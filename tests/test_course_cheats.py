"""The course grader against students who cheat: each trick fails the exercise it targets.

The kits here are made in-process (``kits.new``, ``kits.solve``) and graded by the grader
under test in a process of its own, isolated (``python -I``) with the package under test put
first on its path, as the Gradescope archive's ``run_autograder`` starts it, with a few
Hypothesis examples and only the exercises a test needs, to stay quick. The process tests
give the grader a temporary folder of its own (TMPDIR) and find every process a kit started
by its command line (which names that folder), so that "nothing left behind" is checked,
not assumed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiny_mmmlp.course import kit as kits
from tiny_mmmlp.course import stubs
from tiny_mmmlp.course.exercises import EXERCISES

LINUX = sys.platform.startswith("linux")
COURSE = Path(kits.__file__).resolve().parent
PACKAGE_ROOT = str(COURSE.parents[1])
LAUNCH = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
          "runpy.run_module('tiny_mmmlp.course', run_name='__main__', alter_sys=True)")


def grader(root=PACKAGE_ROOT, isolated=True) -> list:
    """The command that starts the grader of the package in ``root``: ``python -I``, that
    folder first on the path (with ``isolated=False``: plain ``python -m``)."""
    if not isolated:
        return [sys.executable, "-m", "tiny_mmmlp.course"]
    return [sys.executable, "-I", "-c", LAUNCH, str(root)]


def grade(kit, *args, cwd=None, env=None, isolated=True, timeout=300, root=PACKAGE_ROOT, **popen):
    cmd = [*grader(root, isolated), "grade", str(kit), "--examples", "3", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **popen)


def graded(kit, tmp_path, *args, **kw):
    """({exercise: result}, stdout) of a grade that must succeed."""
    out = tmp_path / "results.json"
    proc = grade(kit, "--json", out, *args, **kw)
    assert proc.returncode == 0, proc.stderr
    return {r["exercise"]: r for r in json.loads(out.read_text())}, proc.stdout


def plant(kit, k, code):
    ex = EXERCISES[k - 1]
    path = kit / "tiny_mmmlp" / ex.path
    path.write_text(stubs.replace_function(path.read_text(), ex.function, code.lstrip("\n")))


def prepend_to_init(kit, code):
    init = kit / "tiny_mmmlp" / "__init__.py"
    init.write_text(code.lstrip("\n") + init.read_text())


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    kit = tmp_path_factory.mktemp("cheats") / "solved"
    kits.new(kit, [2, 3, 4, 8, 9])
    kits.solve(kit, [2, 3, 4, 8, 9])
    return kit


@pytest.fixture
def kit(solved, tmp_path):
    copy = tmp_path / "kit"
    shutil.copytree(solved, copy)
    return copy


# ------------------------------------------------------------------ forging a pass

FORGE = '''
import os, sys
if len(sys.argv) > 4 and sys.argv[0].endswith("worker.py"):            # the old grader's result file
    open(sys.argv[4], "w").write('{"passed":true,"message":"passed"}')
try:                                  # the new one's, in its own format: every case "answered"
    import plain
    _job = sys.argv[1]
    _spec = plain.load(os.path.join(_job, "inputs.npz"))
    plain.save(os.path.join(_job, "outputs.npz"),
               {"passed": True, "results": [{"value": args[0]} for args in _spec["cases"]]})
except Exception:
    pass
for _name in ("result.json", "exercise_3.json"):
    open(_name, "w").write('{"passed":true,"message":"passed"}')
os._exit(0)
'''


def test_a_forged_result_file_fails_the_exercise(kit, tmp_path):
    prepend_to_init(kit, FORGE)
    results, table = graded(kit, tmp_path, "--exercises", "3,4")
    assert not results[3]["passed"] and not results[4]["passed"], table
    assert "returned a ndarray, expected 3 (dx, dgamma, dbeta)" in results[3]["message"]
    assert "total: 0/3 points" in table
    assert any("differs from the reference in tiny_mmmlp/__init__.py" in n for n in results[3]["flags"] +
               [line for line in table.splitlines() if line.startswith("note:")])


PATCH_THE_GRADER = '''
import sys
import numpy
sys.modules["__main__"].first_failure = lambda *a, **k: None
for _m in list(sys.modules.values()):
    for _name in ("first_failure", "compare", "judge", "check_for"):
        if hasattr(_m, _name):
            try:
                setattr(_m, _name, lambda *a, **k: None)
            except Exception:
                pass
numpy.abs = lambda x, *a, **k: numpy.zeros_like(numpy.asarray(x, dtype=float))
numpy.linalg.norm = lambda *a, **k: 0.0
numpy.allclose = lambda *a, **k: True
'''
LAYERNORM_BACKWARD_OF_ZEROS = '''
def layernorm_backward(dout, cache):
    xhat, rstd, gamma = cache
    return np.zeros_like(dout), np.zeros_like(gamma), np.zeros_like(gamma)
'''
EMBEDDING_BACKWARD_THAT_PEEKS = '''
def embedding_backward(dout, cache):
    import sys

    class Peek:
        def __array__(self, dtype=None, copy=None):
            frame = sys._getframe(1)
            while frame is not None:                 # the expected answer, if it is anywhere here
                for value in list(frame.f_locals.values()):
                    if isinstance(value, np.ndarray) and value.shape == tuple(cache[1]):
                        return value
                frame = frame.f_back
            return np.zeros(cache[1])
    return Peek()
'''
SOFTMAX_BACKWARD_THAT_DRAWS_A_FAKE_TOTAL = '''
def softmax_cross_entropy_backward(dloss, cache):
    raise type("Oops\\n\\x1b[8mtotal: 13/13 points, 10 of 10 exercises passed\\x1b[0m\\u202e", (Exception,), {})(
        "line one\\nline two")
'''


def test_patching_the_checker_or_numpy_peeking_at_frames_and_fake_lines_fail(kit, tmp_path):
    prepend_to_init(kit, PATCH_THE_GRADER)
    plant(kit, 3, LAYERNORM_BACKWARD_OF_ZEROS)
    plant(kit, 9, EMBEDDING_BACKWARD_THAT_PEEKS)
    plant(kit, 8, SOFTMAX_BACKWARD_THAT_DRAWS_A_FAKE_TOTAL)
    results, table = graded(kit, tmp_path, "--exercises", "3,4,8,9")
    assert {k for k, r in results.items() if r["passed"]} == {4}, table     # 4 is the reference's body
    assert "dx differs from the reference" in results[3]["message"]
    assert "is a Peek, not an array of real numbers" in results[9]["message"] or \
        "differs from the reference" in results[9]["message"]
    assert "its body uses import sys" in " ".join(results[9]["flags"])
    lines = table.splitlines()
    assert [line for line in lines if line.startswith("total:")] == [lines[-1]]
    assert lines[-1].startswith("total: 1/5 points") and "\x1b" not in table and "\u202e" not in table
    assert "\\x1b[8mtotal: 13/13" in results[8]["message"] and "\\n" in results[8]["message"]


LINEAR_THAT_LOOKS_FOR_THE_INSTALLED_PACKAGE = '''
def linear_backward(dout, cache):
    import importlib, sys
    for name in [n for n in sys.modules if n.startswith("tiny_mmmlp")]:
        del sys.modules[name]
    found = importlib.import_module("tiny_mmmlp.reference.affine").__file__
    raise RuntimeError("imported " + found)
'''


def test_the_child_imports_only_the_kits_copy(kit, tmp_path):
    plant(kit, 4, LINEAR_THAT_LOOKS_FOR_THE_INSTALLED_PACKAGE)
    results, table = graded(kit, tmp_path, "--exercises", "4")
    message = results[4]["message"]
    assert "raised RuntimeError: imported " in message, table
    assert message.endswith("/exercise_4/kit/tiny_mmmlp/reference/affine.py")
    assert str(Path(kits.__file__).resolve().parents[1]) not in message


EXITS = "def layernorm_backward(dout, cache):\n    import os\n    os._exit(3)\n"
CRASHES = ("def linear_backward(dout, cache):\n    import os, signal\n"
           "    os.kill(os.getpid(), signal.SIGSEGV)\n")
FLOODS_THE_DISK = ("def softmax_cross_entropy_backward(dloss, cache):\n"
                   "    open('big', 'wb').write(bytes(100 * 2**20))\n")
EATS_MEMORY = "def embedding_backward(dout, cache):\n    return np.ones(2**31)\n"


def test_a_child_that_exits_crashes_or_breaks_a_limit_fails_in_one_line(kit, tmp_path):
    for k, code in ((3, EXITS), (4, CRASHES), (8, FLOODS_THE_DISK), (9, EATS_MEMORY)):
        plant(kit, k, code)
    results, table = graded(kit, tmp_path, "--exercises", "3,4,8,9")
    assert not any(r["passed"] for r in results.values()), table
    assert "stopped without a readable result (exit code 3)" in results[3]["message"]
    assert "stopped without a readable result (killed by SIGSEGV)" in results[4]["message"]
    assert "raised OSError: [Errno 27] File too large" in results[8]["message"]    # the 64 MiB limit
    assert "raised MemoryError" in results[9]["message"]
    assert table.splitlines()[-1].startswith("total: 0/5 points")


# ------------------------------------------------------------------ who decides what is graded


def test_the_instructor_decides_what_is_graded_not_course_json(kit, tmp_path, capsys):
    (kit / "course.json").write_text('{"exercises": [3, 3, 3, 3, 3, 3, 3]}')
    proc = grade(kit)
    assert proc.returncode == 2 and "lists exercise 3 twice" in proc.stderr and proc.stdout == ""
    plant(kit, 2, "def layernorm_forward(x, gamma, beta, eps=1e-5):\n    return x, None\n")
    results, table = graded(kit, tmp_path, "--exercises", "2,3")
    assert sorted(results) == [2, 3] and "total: 2/3 points" in table
    (kit / "course.json").write_text('{"exercises": [3]}')
    kept = tmp_path / "course.json"                  # the manifest the instructor kept
    kept.write_text('{"exercises": [2, 3]}')
    results, table = graded(kit, tmp_path, "--manifest", kept)
    assert sorted(results) == [2, 3] and "total: 2/3 points" in table
    results, table = graded(kit, tmp_path)            # no list given: the kit's, with a note saying so
    assert sorted(results) == [3] and "note: graded the exercises" in table


def test_grading_inside_a_kit_runs_the_installed_grader(kit, tmp_path):
    readme = (kit / "README.md").read_text()
    assert "python -I -m tiny_mmmlp.course grade ." in readme and "The grade that counts" in readme
    shim = kit / "tiny_mmmlp" / "course" / "__main__.py"
    shim.write_text('print("total: 13/13 points, 10 of 10 exercises passed")\n')
    proc = grade(".", "--exercises", "3", cwd=kit)                      # python -I, from inside the kit
    assert proc.returncode == 0, proc.stderr
    assert "13/13" not in proc.stdout and proc.stdout.splitlines()[-1].startswith("total: 2/2 points")
    assert "differs from the reference in tiny_mmmlp/course/__main__.py" in proc.stdout
    # a kit carrying a copy of the grader itself: that copy refuses to grade the kit it lies in
    shutil.rmtree(shim.parent)
    shutil.copytree(COURSE, shim.parent, ignore=shutil.ignore_patterns("__pycache__"))
    proc = grade(".", "--exercises", "3", cwd=kit, isolated=False)
    assert proc.returncode == 2 and "loaded from inside the kit" in proc.stderr and proc.stdout == ""


# ------------------------------------------------------------------ nothing left behind

SPAWN_A_DAEMON = '''
import os, time
if os.fork() == 0:                    # a detached grandchild that keeps stdout and stderr open
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)
    os._exit(0)
'''
HANGS = "def layernorm_forward(x, gamma, beta, eps=1e-5):\n    while True:\n        pass\n"


def alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def started_in(scratch: Path) -> set:
    """The live processes whose command line names a path under ``scratch``: the kit's."""
    found = set()
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if str(scratch).encode() in f.read() and alive(int(name)):
                    found.add(int(name))
        except (OSError, ValueError):
            continue
    return found


def watch(proc, scratch: Path, until=lambda seen: False) -> set:
    """Every kit process seen while ``proc`` runs (or until ``until(seen)``)."""
    seen = set()
    while proc.poll() is None and not until(seen):
        seen |= started_in(scratch)
        time.sleep(0.05)
    return seen


def assert_nothing_left(seen: set, scratch: Path):
    assert len(seen) >= 3                  # two children and a detached grandchild, at least
    deadline = time.monotonic() + 5
    while any(alive(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in seen if alive(p)]
    assert list(scratch.iterdir()) == []


def spawning_kit(kit, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.chmod(scratch, 0o755)
    prepend_to_init(kit, SPAWN_A_DAEMON)
    plant(kit, 2, HANGS)
    return scratch, dict(os.environ, TMPDIR=str(scratch))


@pytest.mark.skipif(not LINUX, reason="the grader adopts escaped processes on Linux only")
def test_nothing_is_left_after_a_grade_or_a_time_out(kit, tmp_path):
    scratch, env = spawning_kit(kit, tmp_path)
    out = tmp_path / "results.json"
    start = time.monotonic()
    proc = subprocess.Popen([*grader(), "grade", str(kit), "--examples", "3", "--exercises", "2,3",
                             "--time-limit", "3", "--json", str(out)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = watch(proc, scratch)
    table, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    results = {r["exercise"]: r for r in json.loads(out.read_text())}
    assert results[3]["passed"], table                  # the open output does not stall a pass
    assert "did not finish within its time limit of 3 s" in results[2]["message"]
    assert time.monotonic() - start < 60
    assert_nothing_left(seen, scratch)


@pytest.mark.skipif(not LINUX, reason="the grader adopts escaped processes on Linux only")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_nothing_is_left_when_the_grader_is_stopped(kit, tmp_path, signum):
    scratch, env = spawning_kit(kit, tmp_path)
    # a parallel test worker (or a shell's background job) starts children with SIGINT ignored:
    # give the grader the default action back, as a terminal's Ctrl-C finds it
    proc = subprocess.Popen([*grader(), "grade", str(kit), "--exercises", "2,3", "--examples", "3", "--jobs", "2"],
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = watch(proc, scratch, until=lambda seen: len(seen) >= 3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert "total:" not in out and err.strip().count("\n") == 0
    assert_nothing_left(seen | started_in(scratch), scratch)


# ------------------------------------------------------------------ flags, not verdicts

LINEAR_THAT_IMPORTS = '''
def linear_backward(dout, cache):
    import importlib
    x2, w, lead, has_bias = cache
    dy = dout.reshape(len(x2), -1)
    return (dy @ w).reshape(*lead, w.shape[1]), dy.T @ x2, (dy.sum(axis=0) if has_bias else None)
'''


def test_flags_for_an_identical_body_a_symlink_and_an_import(kit, tmp_path):
    head = kit / "tiny_mmmlp" / "reference" / "head.py"
    head.unlink()
    head.symlink_to(Path(kits.__file__).resolve().parents[1] / "reference" / "head.py")
    plant(kit, 4, LINEAR_THAT_IMPORTS)
    gradescope = tmp_path / "results.gradescope.json"
    results, table = graded(kit, tmp_path, "--exercises", "3,4,8", "--gradescope", gradescope)
    assert all(r["passed"] for r in results.values()), table                   # flags are not verdicts
    assert results[3]["flags"] == ["its body is identical to the reference's (by AST)"]
    assert results[4]["flags"] == ["its body uses import importlib: check that it does not call the "
                                   "installed reference"]
    assert "tiny_mmmlp/reference/head.py is a symbolic link or lies in a linked folder" in results[8]["flags"]
    assert "note: symbolic links in the kit: tiny_mmmlp/reference/head.py" in table
    report = json.loads(gradescope.read_text())
    assert report["score"] == 4 and [t["max_score"] for t in report["tests"]] == [2, 1, 1]
    assert all(t["status"] == "passed" for t in report["tests"])
    assert "flag: its body is identical" in report["tests"][0]["output"]
