"""Fault suite, settings: one validation for every setting, however it arrives.

A keyword of ``fit``, a value in a config.json given to ``--config``, an argument of the
Python API: ``None`` is a wrong value like any other (never a silent default, never a
traceback), a bool is a bool, and a number too large to be a count is refused in one sentence.
A configuration received from elsewhere never writes into the folder it names.
"""
import json
from dataclasses import fields, replace
from pathlib import Path

import pytest
from faults import SMALL, Tree, assert_one_sentence, call

import tiny_mmmlp
from tiny_mmmlp.data.__main__ import main as data_main
from tiny_mmmlp.errors import UserError
from tiny_mmmlp.run_config import RunConfig, save_config
from tiny_mmmlp.train import main as train_main

NOT_NONE = [f.name for f in fields(RunConfig) if f.default is not None]


@pytest.mark.parametrize("key", NOT_NONE)
def test_none_is_refused_for_every_setting_that_has_a_value(key):
    """``epochs=None`` or ``ema=None`` is not "the default" and not "off": it is refused by name."""
    with pytest.raises(UserError, match=rf"^{key}: must be .*, got None$"):
        RunConfig.resolve({key: None})


def test_none_still_means_the_default_where_the_default_is_none():
    cfg = RunConfig.resolve({"d_model": None, "backend": None, "out": None})
    assert cfg.d_model == RunConfig.resolve({}).d_model and cfg.backend == "numpy"


@pytest.mark.parametrize("given,words", [
    ({"epochs": 10**4000}, "epochs: must be a positive integer below 2**63, got an integer of about 4,000 digits"),
    ({"lr": 10**400}, "lr: must be a finite positive number below 2**63"),
    ({"data": "x" * 5000}, None),                        # a long text is shown cut, never whole
])
def test_wrong_values_are_one_short_sentence(given, words):
    with pytest.raises(UserError) as caught:
        RunConfig.resolve(given)
    text = str(caught.value)
    assert len(text) < 400, text
    if words:
        assert text.startswith(words), text


def _config(tmp_path, **changes) -> Path:
    path = tmp_path / "given" / "config.json"
    path.parent.mkdir()
    save_config(path.parent, RunConfig.resolve({"data": "toyshop-tiny"}), lambda p, t: p.write_text(t))
    saved = json.loads(path.read_text())
    saved["settings"].update(changes)
    path.write_text(json.dumps(saved))
    return path


@pytest.mark.parametrize("key", ["epochs", "data", "seed", "batch_size", "modalities", "model", "ema"])
def test_null_in_a_config_is_one_sentence(key, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, **{key: None})
    tree = Tree(tmp_path)
    rc, _, err = call(train_main, ["--config", path], capsys)
    assert_one_sentence(rc, err, "--" + key.replace("_", "-"), "got None")
    tree.assert_unchanged()


@pytest.mark.parametrize("digits", [4000, 5000])
def test_an_integer_of_thousands_of_digits_in_a_config_is_one_sentence(digits, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path)
    path.write_text(path.read_text().replace('"epochs": 100', '"epochs": ' + "9" * digits))
    rc, _, err = call(train_main, ["--config", path], capsys)
    line = assert_one_sentence(rc, err)
    assert len(line) < 300 and ("--epochs" in line or str(path) in line), line


@pytest.mark.parametrize("flag,value", [("--retry-wait", "1e308"), ("--timeout", "1e300"),
                                        ("--retries", "9" * 5000)])
def test_download_waits_too_long_to_sleep_are_refused(flag, value, tmp_path, capsys):
    rc, _, err = call(data_main, ["download", "--reviews-url", "http://127.0.0.1:9/r.json",
                                  "--meta-url", "http://127.0.0.1:9/m.json", "--out", tmp_path / "d",
                                  "--retries", "2", "--no-images", flag, value], capsys)
    line = assert_one_sentence(rc, err, flag)
    assert len(line) < 300, line
    assert not (tmp_path / "d").exists()


# ---- the Python API: wrong types are one sentence, never iterated -------------------------

@pytest.fixture()
def rec(run):
    return tiny_mmmlp.load(run)


@pytest.mark.parametrize("call_it,words", [
    (lambda r: r.recommend(5), "users: must be an id (text) or a list of ids, got 5"),
    (lambda r: r.recommend(b"U1"), "users: must be an id (text) or a list of ids, got b'U1'"),
    (lambda r: r.recommend([b"U1"]), "users: each id must be a text, got b'U1'"),
    (lambda r: r.recommend(None), "users: must be an id"),
    (lambda r: r.history(5), "user: must be a user id (text), got 5"),
    (lambda r: r.recommend_history(7), "items: must be an id"),
    (lambda r: r.top_k("P1"), "histories: must be a list of histories"),
    (lambda r: r.recommend(r.users[:1], exclude_history="no"), "exclude_history: must be true or false, got 'no'"),
    (lambda r: r.recommend(r.users[:1], k=True), "k: must be a positive integer, got True"),
    (lambda r: r.recommend(r.users[:1], k=10**5000), "k: must be a positive integer below 2**63"),
    (lambda r: r.evaluate(mask_history="yes"), "mask_history: must be true or false"),
])
def test_api_wrong_types_are_one_sentence(call_it, words, rec):
    with pytest.raises(UserError) as caught:
        call_it(rec)
    assert str(caught.value).startswith(words), str(caught.value)


@pytest.mark.parametrize("value", [None, 5, b"runs/a"])
def test_load_of_no_path_is_one_sentence(value):
    with pytest.raises(UserError, match="run: must be a run folder or model file"):
        tiny_mmmlp.load(value)


# ---- --config leaves out the folder it came from --------------------------------------------

def test_the_readme_example_repeats_a_run_into_a_new_folder(tmp_path, monkeypatch, capsys):
    """``--config runs/a/config.json --seed 1`` (the README's line) trains: the saved run's
    folder stays as it was, the repeat gets a folder of its own."""
    monkeypatch.chdir(tmp_path)
    rc, _, err = call(train_main, SMALL, capsys)
    assert rc == 0, err
    first = next((tmp_path / "runs").iterdir())
    before = {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()}
    rc, _, err = call(train_main, ["--config", first / "config.json", "--seed", "1"], capsys)
    assert rc == 0, err
    assert {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()} == before
    second = first.with_name(first.name + "-2")
    saved = json.loads((second / "config.json").read_text())["settings"]
    assert saved["seed"] == 1 and saved["out"] is None and (second / "metrics.json").is_file()


def test_a_received_config_never_writes_into_the_folder_it_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim"
    path = _config(tmp_path, out=str(victim), epochs=1, max_len=8, d_model=16, modalities="id")
    rc, _, err = call(train_main, ["--config", path, "--no-progress"], capsys)
    assert rc == 0, err
    assert not victim.exists()
    assert (tmp_path / "runs").is_dir()


def test_the_resume_line_names_the_folder(tmp_path):
    from tiny_mmmlp.run_flags import parse_settings
    from tiny_mmmlp.train import resume_command
    cfg = RunConfig.resolve({"data": "toyshop-tiny", "out": str(tmp_path / "r")})
    save_config(tmp_path / "r", cfg, lambda p, t: (p.parent.mkdir(exist_ok=True), p.write_text(t)))
    argv = resume_command(cfg).split()[3:]
    assert argv == ["--config", str(tmp_path / "r" / "config.json"), "--resume", "--out", str(tmp_path / "r")]
    assert RunConfig.resolve(parse_settings(argv), flags=True) == replace(cfg, resume=True)
