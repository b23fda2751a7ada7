"""The course kit: the exercise table matches the reference, and new / grade / solve work.

A fresh kit scores 0 and every exercise raises its own message; the kit with every body
restored is the installed package again and scores full marks; planted bugs (LayerNorm
backward without its mean term, the embedding backward without its padding mask, an endless
loop, a wrong shape, an exception, a file that does not parse) each fail exactly their own
exercise, with a sentence that says what is wrong. Grading runs with few Hypothesis examples to stay quick.
"""
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from tiny_mmmlp.course import kit as kits
from tiny_mmmlp.course import stubs
from tiny_mmmlp.course.__main__ import main
from tiny_mmmlp.course.checks import CHECKS
from tiny_mmmlp.course.exercises import DEFAULT, EXERCISES, TRITON, installed_source

HAS_TRITON = all(importlib.util.find_spec(m) is not None for m in ("torch", "triton"))
EXAMPLES = "5"


def course(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "tiny_mmmlp.course", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def grade(kit, tmp_path, *extra):
    out = tmp_path / f"{kit.name}.json"
    proc = course("grade", kit, "--json", out, "--examples", EXAMPLES, *extra)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert proc.stdout.splitlines()[-1].startswith("total: ")
    return {r["exercise"]: r for r in results}, proc.stdout


# ------------------------------------------------------------------ the table


@pytest.mark.parametrize("k", range(1, len(EXERCISES) + 1))
def test_every_exercise_names_a_reference_function_that_stubs_and_restores(k):
    ex = EXERCISES[k - 1]
    path = installed_source(ex)
    source = path.read_text()
    assert stubs.find_def(__import__("ast").parse(source), ex.function), f"{ex.name} is not in {path}"
    stubbed = stubs.stub(source, ex.function, kits.message(k))
    compile(stubbed, str(path), "exec")
    assert stubs.is_stub(stubbed, ex.function) and not stubs.is_stub(source, ex.function)
    assert f"Exercise {k}: {ex.function}" in stubbed
    restored = stubs.replace_function(stubbed, ex.function, stubs.function_source(source, ex.function))
    assert restored == source
    if ex.part == "numpy":
        module = importlib.import_module(f"tiny_mmmlp.{ex.module}")
        for part in ex.function.split("."):
            module = getattr(module, part)
        assert callable(module)
        assert ex.name in CHECKS


def test_table_numbers_parts_and_points():
    assert list(DEFAULT) + list(TRITON) == list(range(1, len(EXERCISES) + 1))
    assert all(ex.points >= 1 and ex.hint and ex.tutorial for ex in EXERCISES)
    if HAS_TRITON:
        from tiny_mmmlp.course.checks_triton import CHECKS as TRITON_CHECKS
        assert {EXERCISES[k - 1].name for k in TRITON} == set(TRITON_CHECKS)


# ------------------------------------------------------------------ NumPy part

LAYERNORM_WITHOUT_MEAN_TERM = '''
def layernorm_backward(dout, cache):
    xhat, rstd, gamma = cache
    D = xhat.shape[-1]
    g = dout * gamma
    dx = rstd * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True))   # forgot "- mean(g)"
    return dx, (dout * xhat).reshape(-1, D).sum(axis=0), dout.reshape(-1, D).sum(axis=0)
'''
EMBEDDING_WITHOUT_PADDING_MASK = '''
def embedding_backward(dout, cache):
    item_seq, shape = cache
    dtable = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dtable, item_seq.reshape(-1), dout.reshape(-1, shape[1]))   # forgot dtable[0] = 0
    return dtable
'''
LAYERNORM_FORWARD_THAT_HANGS = '''
def layernorm_forward(x, gamma, beta, eps=1e-5):
    while True:
        pass
'''
GELU_HALF_WRITTEN = '''
def gelu_backward(dout, cache):
    s = = dout
'''
SOFTMAX_WITHOUT_PADDING_COLUMN = '''
def softmax_cross_entropy_backward(dloss, cache):
    probs, targets = cache
    d = probs * (dloss / len(targets))
    d[np.arange(len(targets)), targets - 1] -= dloss / len(targets)
    return d                                   # (B, V): the padding column is missing
'''
ADAMW_THAT_RAISES = '''
    def step(self, grads):
        raise ValueError("no grads for you")
'''
LINEAR_WRITTEN_ANOTHER_WAY = '''
def linear_backward(dout, cache):
    x2, w, lead, has_bias = cache
    dy = dout.reshape(len(x2), -1)
    dx = np.einsum("mo,oi->mi", dy, w).reshape(*lead, w.shape[1])
    return dx, np.einsum("mo,mi->oi", dy, x2), (dy.sum(axis=0) if has_bias else None)
'''
PLANTED = {1: GELU_HALF_WRITTEN, 2: LAYERNORM_FORWARD_THAT_HANGS, 3: LAYERNORM_WITHOUT_MEAN_TERM,
           8: SOFTMAX_WITHOUT_PADDING_COLUMN, 9: EMBEDDING_WITHOUT_PADDING_MASK, 10: ADAMW_THAT_RAISES}


def plant(kit, k, code):
    """Put ``code`` (a whole def, indented as in its file) in place of exercise k in the kit."""
    ex = EXERCISES[k - 1]
    path = kit / "tiny_mmmlp" / ex.path
    path.write_text(stubs.replace_function(path.read_text(), ex.function, code.lstrip("\n")))


@pytest.fixture(scope="module")
def kits_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    fresh = root / "fresh"
    proc = course("new", fresh)
    assert proc.returncode == 0, proc.stderr
    solved = root / "solved"
    shutil.copytree(fresh, solved)
    proc = course("solve", solved, "--all")
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == len(DEFAULT), proc.stderr
    return root, fresh, solved


def test_fresh_kit_scores_zero_and_raises_each_exercises_message(kits_made, tmp_path):
    _, fresh, _ = kits_made
    assert json.loads((fresh / "course.json").read_text())["exercises"] == list(DEFAULT)
    results, table = grade(fresh, tmp_path)
    assert sorted(results) == list(DEFAULT)
    for k, r in results.items():
        assert r["passed"] is False and r["function"] == EXERCISES[k - 1].name
        assert f"raised NotImplementedError: Exercise {k}: {EXERCISES[k - 1].function}" in r["message"]
    assert f"total: 0/{sum(EXERCISES[k - 1].points for k in DEFAULT)} points" in table
    # the kit is a package: run from its folder, `import tiny_mmmlp` is the student's copy
    probe = ("from tiny_mmmlp.reference.affine import layernorm_backward as f\n"
             "try:\n    f(None, (None, None, None))\n"
             "except NotImplementedError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=fresh, capture_output=True, text=True)
    assert proc.stdout.startswith("Exercise 3: layernorm_backward: "), proc.stderr


def test_solved_kit_is_the_reference_and_scores_full_marks(kits_made, tmp_path):
    _, _, solved = kits_made
    for k in DEFAULT:
        ex = EXERCISES[k - 1]
        assert (solved / "tiny_mmmlp" / ex.path).read_text() == installed_source(ex).read_text()
    results, table = grade(solved, tmp_path)
    assert all(r["passed"] and r["message"] == "passed" for r in results.values()), table
    # solve's output is flagged for the instructor (a flag, not a verdict)
    assert all("its body is identical to the reference's (by AST)" in r["flags"] for r in results.values())
    total = sum(EXERCISES[k - 1].points for k in DEFAULT)
    assert f"total: {total}/{total} points" in table


def test_planted_bugs_fail_exactly_their_exercises(kits_made, tmp_path):
    root, _, solved = kits_made
    buggy = root / "buggy"
    shutil.copytree(solved, buggy)
    for k, code in PLANTED.items():
        plant(buggy, k, code)
    plant(buggy, 4, LINEAR_WRITTEN_ANOTHER_WAY)               # right, but not the reference's code
    results, table = grade(buggy, tmp_path, "--time-limit", "10")
    failed = {k for k, r in results.items() if not r["passed"]}
    assert failed == set(PLANTED), table
    msg = {k: r["message"] for k, r in results.items()}
    assert "tiny_mmmlp/reference/elementwise.py does not import (SyntaxError" in msg[1]
    assert "did not finish within its time limit of 10 s" in msg[2]
    assert "dx differs from the reference" in msg[3]
    assert "dscores has shape" in msg[8] and "expected" in msg[8]
    assert "dtable differs from the reference" in msg[9] and "row 0 is the padding row" in msg[9]
    assert "raised ValueError: no grads for you" in msg[10]
    assert all(m.count("\n") == 0 for m in msg.values())
    assert results[4]["flags"] == [] and results[3]["flags"] == []     # their own code: nothing to flag


def test_solve_one_exercise(kits_made):
    root, fresh, _ = kits_made
    kit = root / "one"
    shutil.copytree(fresh, kit)
    proc = course("solve", kit, "--exercise", 3)
    assert proc.returncode == 0, proc.stderr
    source = (kit / "tiny_mmmlp/reference/affine.py").read_text()
    assert not stubs.is_stub(source, "layernorm_backward") and stubs.is_stub(source, "layernorm_forward")
    # inside the kit, `python -m tiny_mmmlp.course` still reaches the installed course tools
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.course", "list"], cwd=kit,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "reference.affine.layernorm_backward" in proc.stdout, proc.stderr


# ------------------------------------------------------------------ Triton part


@pytest.mark.skipif(not HAS_TRITON, reason="needs torch and triton")
def test_triton_part_fresh_and_solved(tmp_path):
    kit = tmp_path / "triton"
    assert course("new", kit, "--exercises", "triton").returncode == 0
    results, table = grade(kit, tmp_path)
    assert sorted(results) == list(TRITON)
    assert all(f"Exercise {k}:" in r["message"] and not r["passed"] for k, r in results.items()), table
    assert course("solve", kit, "--all").returncode == 0
    results, table = grade(kit, tmp_path)
    assert all(r["passed"] for r in results.values()), table


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("argv, says", [
    (["grade", "{tmp}/nothing"], "does not exist"),
    (["grade", "{tmp}"], "is not a course kit"),
    (["solve", "{tmp}", "--all"], "is not a course kit"),
    (["new", "{tmp}"], "already exists"),
    (["new", "{tmp}/kit", "--exercises", "99"], "unknown exercise 99"),
    (["new", "{tmp}/kit", "--exercises", "layernorm"], "unknown exercise 'layernorm'"),
    (["new", "{tmp}/kit", "--exercises", "5-2"], "empty range '5-2'"),
    (["new", "{tmp}/kit", "--exercises", ",,,"], "--exercises: no exercise given"),
    (["new", "{tmp}/kit", "--exercises", "3,1-4"], "--exercises: exercise 3 is given twice"),
    (["grade", "{tmp}", "--exercises", "2", "2"], "--exercises: exercise 2 is given twice"),
    (["grade", "{tmp}", "--exercises", ","], "--exercises: no exercise given"),
    (["grade", "{tmp}", "--time-limit", "inf"], "--time-limit: must be seconds"),
    (["grade", "{tmp}", "--time-limit", "1e300"], "--time-limit: must be seconds"),
    (["grade", "{tmp}", "--time-limit", "nan"], "--time-limit: must be seconds"),
    (["grade", "{tmp}", "--examples", "0"], "--examples: must be an integer from 1"),
    (["grade", "{tmp}", "--jobs", "100000"], "--jobs: must be an integer from 1"),
    (["solve", "{tmp}"], "one of the arguments --exercise --all is required"),
])
def test_bad_input_is_one_sentence_and_exit_code_2(argv, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([a.format(tmp=tmp_path) for a in argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_solving_an_exercise_the_kit_does_not_hold_is_refused(tmp_path, capsys):
    kits.new(tmp_path / "kit", [2, 3])
    with pytest.raises(SystemExit) as stop:
        main(["solve", str(tmp_path / "kit"), "--exercise", "5"])
    assert stop.value.code == 2 and "this kit holds exercises 2, 3" in capsys.readouterr().err


def test_tutorials_readme_lists_every_exercise_with_its_tutorial():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "tutorials" / "README.md").read_text()
    for k, ex in enumerate(EXERCISES, 1):
        part = " (Triton)" if ex.part == "triton" else ""
        assert f"| {k} | `{ex.name}`{part} | {ex.points} | {ex.tutorial} |" in text, ex.name


def test_exercises_given_twice_add_up(tmp_path, capsys):
    """--exercises 1-3 --exercises 12: both selections, not only the last."""
    main(["new", str(tmp_path / "kit"), "--exercises", "1-3", "--exercises", "12"])
    assert "wrote a kit with exercises 1, 2, 3, 12 to" in capsys.readouterr().out
