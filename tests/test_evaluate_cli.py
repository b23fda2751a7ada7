"""python -m tiny_mmmlp.evaluate RUN [--data D] [--mask-history] [--json FILE], and the
tiny-mmmlp command (python -m tiny_mmmlp) that dispatches to every command."""
import json
import subprocess
import sys

import pytest
from faults import assert_one_sentence, call
from trained_run import shuffled_items

import tiny_mmmlp
from tiny_mmmlp.__main__ import COMMANDS
from tiny_mmmlp.__main__ import main as tiny_mmmlp_main
from tiny_mmmlp.evaluate import main as evaluate_main
from tiny_mmmlp.recommend import main as recommend_main


def test_evaluate_writes_the_runs_test_metrics(trained, tmp_path, capsys):
    rc, out, err = call(evaluate_main, [trained.folder, "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["test"] == trained.metrics["test"] and record["mask_history"] is False
    assert f"{trained.metrics['test']['NDCG@10']:.4f}" in out


def test_evaluate_on_shuffled_items_and_under_the_other_protocol(trained, tmp_path, capsys):
    shuffled = shuffled_items(tmp_path / "shuffled")
    rc, _, err = call(evaluate_main, [trained.folder, "--data", shuffled, "--mask-history",
                                      "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    masked = json.loads((tmp_path / "m.json").read_text())["test"]
    assert masked == tiny_mmmlp.load(trained.folder).evaluate(mask_history=True)
    assert masked["HR@10"] >= trained.metrics["test"]["HR@10"]       # masking never hurts a hit


@pytest.mark.parametrize("flags,word", [(["--json", "."], "--json"), (["--data", "/no/such/data"], "/no/such/data")])
def test_evaluate_refuses_in_one_sentence(trained, capsys, flags, word):
    rc, _, err = call(evaluate_main, [trained.folder, *flags], capsys)
    assert_one_sentence(rc, err, word)


def test_python_m_evaluate_and_the_tiny_mmmlp_command(trained):
    helps = subprocess.run([sys.executable, "-m", "tiny_mmmlp.evaluate", "--help"],
                           capture_output=True, text=True)
    assert helps.returncode == 0 and "--mask-history" in helps.stdout
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp", "evaluate", str(trained.folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"{trained.metrics['test']['HR@10']:.4f}" in proc.stdout


def test_the_tiny_mmmlp_command_lists_and_dispatches(capsys):
    assert set(COMMANDS) == {"train", "evaluate", "recommend", "tune", "data", "course"}
    rc, out, _ = call(tiny_mmmlp_main, ["--help"], capsys)
    assert rc == 0 and all(name in out for name in COMMANDS)
    rc, _, err = call(tiny_mmmlp_main, ["trian"], capsys)
    assert_one_sentence(rc, err, "trian")
    for name in COMMANDS:                                  # each subcommand's own --help
        rc, out, err = call(tiny_mmmlp_main, [name, "--help"], capsys)
        assert rc == 0 and "usage" in out, (name, err)


def test_evaluate_at_any_k_prints_every_metric_and_coverage(trained, tmp_path, capsys):
    rc, out, err = call(evaluate_main, [trained.folder, "--k", "5,50", "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    head, rule, five, fifty = out.splitlines()[1:5]
    assert head.split() == ["k", "HR", "NDCG", "MRR", "Precision", "Recall", "MAP", "Coverage"]
    test = json.loads((tmp_path / "m.json").read_text())["test"]
    assert five.split()[0] == "5" and fifty.split()[0] == "50"
    assert fifty.split()[1:] == [f"{test[f'{m}@50']:.4f}" for m in head.split()[1:]]
    assert test == tiny_mmmlp.load(trained.folder).evaluate(k=[5, 50])
    rc, _, err = call(evaluate_main, [trained.folder, "--k", "10,20", "--json", tmp_path / "n.json"], capsys)
    at = json.loads((tmp_path / "n.json").read_text())["test"]
    assert {k: at[k] for k in trained.metrics["test"]} == trained.metrics["test"]   # the same figures


def test_evaluate_scores_a_csv_of_recommendations(trained, tmp_path, capsys):
    pytest.importorskip("pandas")
    rec = tiny_mmmlp.load(trained.folder)
    recs = rec.recommend_frame(k=20, split="leave-one-out")
    recs.sample(frac=1.0, random_state=0).to_csv(tmp_path / "recs.csv", index=False)   # rank orders them
    rc, out, err = call(evaluate_main, [trained.folder, "--recs", tmp_path / "recs.csv", "--json",
                                        tmp_path / "m.json"], capsys)
    assert rc == 0, err
    test = json.loads((tmp_path / "m.json").read_text())["test"]
    assert test == rec.evaluate_frame(recs, k=[10, 20])
    assert test["HR@10"] == pytest.approx(trained.metrics["test"]["HR@10"])
    (tmp_path / "bad.csv").write_text("user,item\nU1,P1\n")
    rc, _, err = call(evaluate_main, [trained.folder, "--recs", tmp_path / "bad.csv"], capsys)
    assert_one_sentence(rc, err, "--recs", "user_id")


def test_the_recommend_commands_held_out_lists_score_as_the_model_does(trained, tmp_path, capsys):
    rc, _, err = call(recommend_main, [trained.folder, "--users", "all", "--split", "leave-one-out", "--k", "20",
                                       "--format", "csv", "--output", tmp_path / "held.csv"], capsys)
    assert rc == 0, err
    rc, _, err = call(evaluate_main, [trained.folder, "--recs", tmp_path / "held.csv", "--json", tmp_path / "m.json"],
                      capsys)
    test = json.loads((tmp_path / "m.json").read_text())["test"]
    for name, value in trained.metrics["test"].items():
        assert test[name] == pytest.approx(value, abs=1e-12), name
    rc, _, err = call(recommend_main, [trained.folder, "--user", "U00000", "--split", "leave-one-out"], capsys)
    assert_one_sentence(rc, err, "--split", "--users")


def test_evaluate_under_the_time_split(trained, tmp_path, capsys):
    rc, out, err = call(evaluate_main, [trained.folder, "--split", "time", "--cutoff", "0.8", "--k", "5,50",
                                        "--json", tmp_path / "m.json"], capsys)
    assert rc == 0 and "time split at 0.8" in out, err
    assert "optimistic" in err                       # its own training data: it saw the later items
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["test"] == tiny_mmmlp.load(trained.folder).evaluate(k=[5, 50], split="time", cutoff=0.8)
    assert record["users"] == len(tiny_mmmlp.load(trained.folder).held_out(split="time", cutoff=0.8))


@pytest.mark.parametrize("flags, words", [
    (["--split", "time"], ["--cutoff"]), (["--cutoff", "0.5"], ["--cutoff", "--split time"]),
    (["--split", "time", "--cutoff", "2999-01-01"], ["--cutoff 2999-01-01", "no user"]),
    (["--split", "time", "--cutoff", "soon"], ["--cutoff soon", "a date"]),
    (["--split", "time", "--cutoff", "1.5"], ["--cutoff 1.5", "between 0 and 1"]),
    (["--k", "5,ten"], ["--k", "5,ten"]), (["--k", "0"], ["--k"]),
])
def test_evaluation_choices_refused_in_one_sentence(trained, capsys, flags, words):
    rc, _, err = call(evaluate_main, [trained.folder, *flags], capsys)
    assert_one_sentence(rc, err, *words)


def test_version(capsys):
    rc, out, _ = call(tiny_mmmlp_main, ["--version"], capsys)
    assert rc == 0 and out.strip() == f"tiny_mmmlp {tiny_mmmlp.__version__}"
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tiny_mmmlp {tiny_mmmlp.__version__}"


def test_the_license_is_in_the_repository_and_declared_for_the_wheel():
    from pathlib import Path

    import tomllib
    root = Path(__file__).resolve().parents[1]
    text = (root / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the tiny_mmmlp authors" in text
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]


def test_the_console_script_is_declared():
    from pathlib import Path

    import tomllib
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["tiny-mmmlp"] == "tiny_mmmlp.__main__:main"
    assert any(d.startswith("safetensors") for d in project["dependencies"])


def test_the_installed_console_script_runs_where_it_is_installed():
    import shutil
    script = shutil.which("tiny-mmmlp")
    if script is None:
        pytest.skip("tiny-mmmlp is not installed in this environment (pip install -e .)")
    proc = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "recommend" in proc.stdout
