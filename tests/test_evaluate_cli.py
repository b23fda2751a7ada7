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
