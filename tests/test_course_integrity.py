"""The grader's integrity by design: commands without Hypothesis, the grader's files sealed
before any child runs, results written only by a grade that reached its end, and children
that cannot signal the grader, write outside their scratch folder, fork without bound or
fill the disk; flags for the ways around the reference check.

Tests that switch users need root (they run as root in CI) and skip otherwise; "as a normal
user" is tested, where root, by starting the grader itself as ``nobody`` (which keeps only
the capability to read every file, so that it can reach a Python installed under /root).
"""
import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_course_cheats import LINUX, PACKAGE_ROOT, grade, grader, plant, started_in

from tiny_mmmlp.course import checks, confine, flags
from tiny_mmmlp.course import kit as kits
from tiny_mmmlp.course.exercises import EXERCISES
from tiny_mmmlp.course.staging import Snapshot

ROOT = LINUX and os.geteuid() == 0
HAS_TRITON = all(__import__("importlib").util.find_spec(m) is not None for m in ("torch", "triton"))
ABI = confine.landlock_abi()
NOBODY = 65534

BLOCK_HYPOTHESIS = '''
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ImportError("hypothesis is blocked in this test")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv.pop(1))
runpy.run_module("tiny_mmmlp.course", run_name="__main__", alter_sys=True)
'''


def test_course_commands_work_without_hypothesis(tmp_path):
    def course(*args):
        return subprocess.run([sys.executable, "-I", "-c", BLOCK_HYPOTHESIS, PACKAGE_ROOT, *map(str, args)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    for args in (["--help"], ["list"], ["new", tmp_path / "kit", "--exercises", "2,3"],
                 ["solve", tmp_path / "kit", "--exercise", "3"], ["gradescope-zip", tmp_path / "ag.zip"]):
        proc = course(*args)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stderr)
    proc = course("grade", tmp_path / "kit", "--exercises", "3")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: grading needs Hypothesis: pip install 'tiny_mmmlp[course]'\n"
    pyproject = (Path(PACKAGE_ROOT) / "pyproject.toml").read_text()
    all_extras = next(line for line in pyproject.splitlines() if line.startswith("all = "))
    assert "course" in all_extras.split("[", 2)[2].split("]")[0].split(",")


def test_the_checks_do_not_import_the_grader_back():
    """check_for is the grader's; checks.py imports neither the grader nor the Triton checks."""
    from tiny_mmmlp.course.grade import CHECKS, check_for

    assert not hasattr(checks, "check_for")
    imported = {n.module for n in ast.walk(ast.parse(Path(checks.__file__).read_text()))
                if isinstance(n, ast.ImportFrom)}
    assert not imported & {"checks_triton", "grade"}
    assert all(check_for(ex.name) is CHECKS[ex.name] for ex in EXERCISES)


def installed_copy(tmp_path) -> Path:
    """A copy of the package that anyone may write, standing in for an installed grader."""
    site = tmp_path / "site"
    shutil.copytree(Path(PACKAGE_ROOT) / "tiny_mmmlp", site / "tiny_mmmlp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for folder, dirs, files in os.walk(site):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chmod(name, 0o777 if os.path.isdir(name) else 0o666)
    os.chmod(tmp_path, 0o755)
    return site


@pytest.fixture
def kit(tmp_path):
    folder = tmp_path / "kit"
    kits.new(folder, [1, 2, 3, 4, 8, 11])
    kits.solve(folder, [1, 2, 3, 4, 8])
    return folder


REWRITE_THE_TRITON_CHECKS = '''
def gelu_backward(dout, cache):
    path = {checks!r}
    with open(path, "a") as f:
        f.write("\\nGeluGradCheck.judge = lambda self, case, got: None\\n")
    raise RuntimeError("rewrote " + path)
'''
KERNEL_OF_42 = '''
@triton.jit
def gelu_grad(h):
    return h * 0 + 42.0
'''


@pytest.mark.skipif(not (HAS_TRITON and LINUX), reason="needs torch and triton, and Linux")
def test_a_late_rewrite_of_the_triton_checks_does_not_pass_a_wrong_kernel(kit, tmp_path):
    site = installed_copy(tmp_path)
    target = site / "tiny_mmmlp" / "course" / "checks_triton.py"
    before = target.read_bytes()
    plant(kit, 1, REWRITE_THE_TRITON_CHECKS.replace("{checks!r}", repr(str(target))))
    plant(kit, 11, KERNEL_OF_42)
    out = tmp_path / "results.json"
    proc = grade(kit, "--exercises", "1,11", "--jobs", "1", "--json", out, root=site, timeout=600)
    if proc.returncode == 3:                 # the rewrite went through: the grader refuses to report
        assert "changed while the kits' code ran" in proc.stderr and not out.exists()
        return
    assert proc.returncode == 0, proc.stderr
    results = {r["exercise"]: r for r in json.loads(out.read_text())}
    assert not results[11]["passed"] and results[11]["score"] == 0, proc.stdout
    assert "PermissionError" in results[1]["message"] and target.read_bytes() == before


SLEEPS = "def layernorm_forward(x, gamma, beta, eps=1e-5):\n    import time\n    time.sleep(6)\n"


@pytest.mark.skipif(not LINUX, reason="watches the child through /proc")
def test_a_grader_file_changed_during_the_run_means_no_report(kit, tmp_path):
    site = installed_copy(tmp_path)
    plant(kit, 2, SLEEPS)
    out, gradescope, scratch = tmp_path / "results.json", tmp_path / "gradescope.json", tmp_path / "scratch"
    scratch.mkdir(mode=0o755)
    out.write_text('[{"exercise": 2, "passed": true}]')          # an earlier grade's, removed at the start
    proc = subprocess.Popen([*grader(site), "grade", str(kit), "--exercises", "2", "--examples", "1",
                             "--json", str(out), "--gradescope", str(gradescope)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, TMPDIR=str(scratch)))
    while proc.poll() is None and not started_in(scratch):
        time.sleep(0.05)
    with open(site / "tiny_mmmlp" / "course" / "checks.py", "a") as f:
        f.write("\ncompare = lambda *a, **k: None\n")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3 and stdout == "" and stderr.count("\n") == 1, stderr
    assert "course/checks.py" in stderr and "nothing is reported" in stderr
    assert not out.exists() and not gradescope.exists()


def as_nobody():
    """Start a process as nobody that keeps the capability to read every file (Python lies under /root)."""
    confine.switch_user(confine.ChildUser("nobody", NOBODY, NOBODY, read_all=True))


USERS = [pytest.param(None, id="grader-as-is"),
         pytest.param("nobody", id="grader-as-a-normal-user", marks=[
             pytest.mark.skipif(not ROOT, reason="needs root to start the grader as another user"),
             pytest.mark.skipif(ABI < 6, reason="as a normal user, signals are scoped by Landlock ABI 6+")])]


def run_as(user, tmp_path):
    """(keyword arguments for grade, output folder) with the grader as ``user``."""
    outputs, scratch = tmp_path / "outputs", tmp_path / "scratch"
    for folder in (outputs, scratch):
        folder.mkdir(mode=0o755)
        if user:
            os.chown(folder, NOBODY, NOBODY)
    env = dict(os.environ, TMPDIR=str(scratch))
    return dict(env=env, preexec_fn=as_nobody if user else None), outputs


FORGE_AND_KILL = '''
def layernorm_backward(dout, cache):
    import json, os, signal
    args = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\\0")
    target = args[args.index(b"--gradescope") + 1].decode()
    done = []
    try:
        with open(target, "w") as f:
            f.write(json.dumps({"score": 99, "tests": [{"score": 99, "max_score": 2, "status": "passed"}]}))
        done.append("wrote")
    except OSError as err:
        done.append(type(err).__name__)
    try:
        os.kill(os.getppid(), signal.SIGKILL)
        done.append("killed")
    except OSError as err:
        done.append(type(err).__name__)
    raise RuntimeError(" ".join(done))
'''


@pytest.mark.skipif(not LINUX, reason="reads the grader's command line from /proc")
@pytest.mark.parametrize("user", USERS)
def test_forged_results_and_a_sigkill_of_the_grader_fail(kit, tmp_path, user):
    if user is None and not ROOT and ABI < 6:
        pytest.skip("a same-user child can only be kept from the grader by Landlock ABI 6+")
    plant(kit, 3, FORGE_AND_KILL)
    popen, outputs = run_as(user, tmp_path)
    results = outputs / "results.json"
    proc = grade(kit, "--exercises", "3", "--gradescope", results, **popen)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(results.read_text())
    assert report["score"] == 0 and report["tests"][0]["status"] == "failed", proc.stdout
    assert "raised RuntimeError: PermissionError PermissionError" in report["tests"][0]["output"]


FORK_STORM = '''
def layernorm_backward(dout, cache):
    import os, time
    n = 0
    try:
        for _ in range(400):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            n += 1
    except OSError as err:
        raise RuntimeError(f"forked {n} times, then {err}")
    raise RuntimeError(f"forked {n} times")
'''


@pytest.mark.skipif(not LINUX, reason="RLIMIT_NPROC counts a user's processes")
@pytest.mark.parametrize("user", USERS)
def test_a_fork_storm_stops_at_the_process_limit(kit, tmp_path, user):
    if user is None and not ROOT:
        pytest.skip("as the grader's own user the limit also counts the user's other processes")
    plant(kit, 3, FORK_STORM)
    popen, outputs = run_as(user, tmp_path)
    proc = grade(kit, "--exercises", "3", "--jobs", "1", "--json", outputs / "r.json", **popen)
    assert proc.returncode == 0, proc.stderr
    message = json.loads((outputs / "r.json").read_text())[0]["message"]
    assert "Resource temporarily unavailable" in message, message
    assert int(message.split("forked ")[1].split(" ")[0]) <= confine.NPROC_PER_CHILD
    assert not started_in(Path(popen["env"]["TMPDIR"]))


FILLS_THE_DISK = '''
def layernorm_backward(dout, cache):
    import time
    for i in range(40):
        with open(f"fill_{i}", "wb") as f:
            f.truncate(60 * 2**20)
    time.sleep(30)
'''
MAKES_MANY_FILES = '''
def linear_backward(dout, cache):
    for i in range(3000):
        open(f"empty_{i}", "w").close()
'''
WRITES_OUTSIDE = '''
def softmax_cross_entropy_backward(dloss, cache):
    open({outside!r}, "w").write("x")
    return dloss
'''


@pytest.mark.skipif(not LINUX, reason="the scratch quota and Landlock are Linux's")
@pytest.mark.parametrize("user", USERS)
def test_a_disk_filler_fails_its_exercise(kit, tmp_path, user):
    outside = tmp_path / "open"
    outside.mkdir()
    os.chmod(outside, 0o777)
    plant(kit, 3, FILLS_THE_DISK)
    plant(kit, 4, MAKES_MANY_FILES)
    plant(kit, 8, WRITES_OUTSIDE.replace("{outside!r}", repr(str(outside / "big"))))
    popen, outputs = run_as(user, tmp_path)
    proc = grade(kit, "--exercises", "3,4,8", "--json", outputs / "r.json", **popen)
    assert proc.returncode == 0, proc.stderr
    results = {r["exercise"]: r for r in json.loads((outputs / "r.json").read_text())}
    assert results[3]["message"] == "wrote more than 256 MiB to its scratch folder", proc.stdout
    assert results[4]["message"] == "made more than 1000 files or folders in its scratch folder"
    if ABI:
        assert "PermissionError" in results[8]["message"] and not (outside / "big").exists()
    assert list(Path(popen["env"]["TMPDIR"]).iterdir()) == []


@pytest.mark.parametrize("flag", ["--gradescope", "--json"])
def test_a_linked_output_path_is_refused_before_grading(kit, tmp_path, flag):
    target = tmp_path / "elsewhere.json"
    target.write_text("kept")
    link = tmp_path / "results.json"
    link.symlink_to(target)
    proc = grade(kit, "--exercises", "3", flag, link)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert f"{flag} {link}: that is a symbolic link" in proc.stderr
    assert target.read_text() == "kept" and link.is_symlink()


# ------------------------------------------------------------------ flags for the ways around

BUILTINS_BY_PIECES = '''
def linear_backward(dout, cache):
    imp = getattr(np, "__buil" + "tins__")["__imp" + "ort__"]
    return imp("tiny_mmmlp.reference.affine").linear_backward(dout, cache)
'''
RENAMED_COPY = '''
def linear_backward(grad_out, saved, ws=FRESH, input_grad=True):
    inputs, weight, lead, has_bias = saved
    g = grad_out.reshape(-1, weight.shape[0])
    dx = None
    if input_grad:
        dx = ws("dx", (g.shape[0], weight.shape[1]), g.dtype)
        np.matmul(g, weight, out=dx)
        dx = dx.reshape(*lead, weight.shape[1])
    dw = np.matmul(g.T, inputs, out=ws("dw", weight.shape, g.dtype))
    db = g.sum(axis=0) if has_bias else None
    return dx, dw, db
'''


def exercise_flags_of(tmp_path, code):
    folder = tmp_path / "flags"
    kits.new(folder, [4])
    plant(folder, 4, code)
    path = "reference/affine.py"
    return flags.exercise_flags(Snapshot({path: (folder / "tiny_mmmlp" / path).read_bytes()}), 4)


def test_evasions_of_the_reference_check_are_flagged(tmp_path):
    found = exercise_flags_of(tmp_path, BUILTINS_BY_PIECES)
    assert len(found) == 1 and "getattr on the module np" in found[0]
    assert "a dunder name built from pieces ('__builtins__')" in found[0]
    assert "a dunder name built from pieces ('__import__')" in found[0]
    assert exercise_flags_of(tmp_path / "b", RENAMED_COPY) == [
        "its body is the reference's with names changed (identical by AST after renaming local names)"]
