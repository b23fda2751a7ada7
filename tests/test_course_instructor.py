"""The instructor's workflow: a class folder graded into a CSV gradebook and a report per
student, partial credit, ``course.toml`` (points, a seed, hidden cases, visibility), and a
Gradescope archive whose ``run_autograder`` grades a submission in a folder of its own.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from test_course_cheats import grader, plant

from tiny_mmmlp.course import kit as kits
from tiny_mmmlp.course.__main__ import main
from tiny_mmmlp.course.grade import plan
from tiny_mmmlp.course.settings import Course, score

LINEAR_WITH_A_BIAS_ALWAYS = '''
def linear_backward(dout, cache, ws=None, input_grad=True):
    x2, w, lead, has_bias = cache
    dy = dout.reshape(-1, w.shape[0])
    return (dy @ w).reshape(*lead, w.shape[1]), dy.T @ x2, dy.sum(axis=0)     # db even without a bias
'''
COURSE_TOML = '''
exercises = [2, 3, 4]
examples = 6
partial_credit = true
visibility = "after_published"
seed = 20261207

[points]
4 = 3

[[hidden]]
exercise = 4
B = 3
N = 2
D_in = 7
D_out = 5
bias = false
'''


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    kits.new(subs / "bob", [2, 3, 4])                          # handed in untouched
    shutil.copytree(subs / "bob", subs / "alice")
    kits.solve(subs / "alice", [2, 3, 4])                       # everything right
    shutil.copytree(subs / "alice", subs / "carol" / "hw1")     # the kit inside a folder of its own
    plant(subs / "carol" / "hw1", 4, LINEAR_WITH_A_BIAS_ALWAYS)
    (subs / "dave").mkdir()                                     # no kit at all
    (subs / "dave" / "notes.txt").write_text("sorry")
    (root / "course.toml").write_text(COURSE_TOML)
    return root


def test_a_folder_of_submissions_grades_into_a_gradebook(classroom):
    book, feedback = classroom / "grades.csv", classroom / "feedback"
    proc = subprocess.run([*grader(), "grade", str(classroom / "submissions"), "--gradebook", str(book),
                           "--config", str(classroom / "course.toml"), "--jobs", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(book.read_text().splitlines())}
    assert sorted(rows) == ["alice", "bob", "carol", "dave"]
    assert list(rows["alice"])[1:] == ["2 layernorm_forward (1)", "3 layernorm_backward (2)",
                                       "4 linear_backward (3)", "total", "max", "flags"]
    assert rows["alice"]["total"] == rows["alice"]["max"] == "6"
    assert rows["bob"]["total"] == "0" and rows["dave"]["total"] == "0"
    partial = float(rows["carol"]["4 linear_backward (3)"])
    assert 0 < partial < 3 and float(rows["carol"]["total"]) == 3 + partial      # cases with a bias pass
    assert sorted(p.name for p in feedback.iterdir()) == ["alice.txt", "bob.txt", "carol.txt", "dave.txt"]
    carol = (feedback / "carol.txt").read_text()
    assert "db should be None here" in carol and "cases passed)" in carol
    assert "no course kit in it" in (feedback / "dave.txt").read_text()
    assert f"wrote {book} (4 students)" in proc.stdout


def test_partial_credit_is_the_fraction_of_cases_passed():
    assert score(3, 4, 4, partial=False) == 3 and score(3, 3, 4, partial=False) == 0
    assert score(3, 3, 4, partial=True) == 2.25 and score(2, 1, 3, partial=True) == 0.67
    assert score(2, 0, 0, partial=True) == 0


def test_a_seed_and_hidden_cases_are_cases_a_student_never_met(tmp_path):
    hidden = {"B": 3, "N": 2, "D_in": 7, "D_out": 5, "bias": False}
    local, graded = plan(4, Course(), 6, 60), plan(4, Course(seed=5, hidden=[(4, hidden)]), 6, 60)
    assert tuple(hidden.items()) in [c.dims for c in graded.cases]
    assert {c.dims for c in graded.cases} - {c.dims for c in local.cases}
    assert len(graded.inputs["cases"]) == len(graded.cases)


@pytest.mark.parametrize("text, says", [
    ("exercises = [3, 3]", "exercises lists exercise 3 twice"),
    ("colour = 1", "unknown key 'colour'"),
    ('visibility = "sometimes"', "visibility should be one of visible"),
    ("[points]\n99 = 2", "points names exercise '99'"),
    ("examples = 0", "examples should be an integer from 1"),
    ("[[hidden]]\nexercise = 4\nB = 1000", "hidden case 1: B should be"),
    ("exercises = [", "is not valid TOML"),
])
def test_a_bad_course_toml_is_one_sentence(tmp_path, capsys, text, says):
    config = tmp_path / "course.toml"
    config.write_text(text)
    kits.new(tmp_path / "kit", [3])
    with pytest.raises(SystemExit) as stop:
        main(["grade", str(tmp_path / "kit"), "--config", str(config)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and str(config) in err and err.count("\n") == 1


def test_the_gradescope_archive_grades_a_submission_in_a_folder_of_its_own(classroom, tmp_path):
    archive = tmp_path / "autograder.zip"
    main(["gradescope-zip", str(archive), "--config", str(classroom / "course.toml")])
    ag = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        zf.extractall(ag / "source")
    assert {"setup.sh", "run_autograder", "course.toml", "tiny_mmmlp/course/grade.py"} <= set(names)
    shutil.copytree(classroom / "submissions" / "carol", ag / "submission")
    run = ag / "source" / "run_autograder"
    os.chmod(run, 0o755)
    proc = subprocess.run([str(run)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], "AUTOGRADER": str(ag), "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    report = json.loads((ag / "results" / "results.json").read_text())
    assert report["visibility"] == "after_published" and report["execution_time"] > 0
    assert [t["max_score"] for t in report["tests"]] == [1, 2, 3]
    assert 3 < report["score"] < 6 and report["tests"][2]["status"] == "failed"
    assert all(t["visibility"] == "after_published" for t in report["tests"])


def test_the_numeric_check_passes_the_reference_where_its_gradient_is_nearly_zero():
    """GELU'(-6) is about -8e-10: central differences get it to 1e-10, a relative error of 1e-2."""
    import numpy as np

    from tiny_mmmlp.course.checks import numeric_check
    from tiny_mmmlp.course.problems import Case
    from tiny_mmmlp.reference import elementwise

    x = np.array([[[-6.0]]])
    dx = elementwise.gelu_backward(np.ones_like(x), elementwise.gelu_forward(x)[1])
    numeric_check(Case((("B", 1), ("N", 1), ("D", 1)), 0), "dx", dx,
                  lambda: float(np.sum(elementwise.gelu_forward(x)[0])), x)


def test_a_linked_feedback_folder_is_refused_before_grading(classroom, tmp_path, capsys):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "feedback").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SystemExit) as stop:
        main(["grade", str(classroom / "submissions"), "--gradebook", str(tmp_path / "grades.csv"),
              "--exercises", "3"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--feedback" in err and "a symbolic link" in err
    assert not (tmp_path / "grades.csv").exists() and list((tmp_path / "elsewhere").iterdir()) == []
