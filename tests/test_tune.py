"""python -m tiny_mmmlp.tune: a search by validation NDCG@10 on the user's data, resumable."""

import pytest

from tiny_mmmlp import train
from tiny_mmmlp.run_config import RunConfig, load_config
from tiny_mmmlp.tune import main as tune_main

pytest.importorskip("optuna")

TINY = ["--data", "toyshop-tiny", "--epochs", "1", "--max-len", "6", "--d-model", "8", "--token-hidden", "4",
        "--channel-hidden", "8", "--batch-size", "64", "--modalities", "id,text"]


def journal_trials(out):
    """{trial number: state name} as the journal records them (Optuna reread from the file)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend
    study = optuna.load_study(study_name="tune", storage=optuna.storages.JournalStorage(
        JournalFileBackend(str(out / "tune.journal"))))
    return {t.number: t.state.name for t in study.trials}


def test_tune_writes_the_best_config_never_tests_and_continues(tmp_path, capsys, monkeypatch):
    def no_test(*args, **kwargs):
        raise AssertionError("a tuning trial ranked the test split")
    monkeypatch.setattr(train, "finish", no_test)            # finish is where the test split is ranked
    out = tmp_path / "search"
    tune_main([*TINY, "--trials", "2", "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("trial")] == [["trial", "1/2"], ["trial", "2/2"]]
    assert lines[-2].startswith("best: trial ") and lines[-1] == (
        f"train it with: python -m tiny_mmmlp.train --config {out / 'config.json'}")
    assert journal_trials(out) == {0: "COMPLETE", 1: "COMPLETE"}
    assert not (out / "trials").exists()                     # each trial's run folder is removed

    settings = load_config(out / "config.json")
    cfg = RunConfig.resolve(settings)                         # what train --config resolves
    assert cfg.out is None and (cfg.d_model, cfg.max_len, cfg.epochs, cfg.patience) == (8, 6, 1, 3)
    best = max(range(2), key=lambda n: float(lines[n + 1].split("NDCG@10 ")[1].split()[0]))
    assert f"n_layers={cfg.n_layers}" in lines[best + 1]     # the best trial's drawn settings

    tune_main([*TINY, "--trials", "3", "--out", str(out)])   # the same command, more trials: one more
    again = capsys.readouterr().out.splitlines()
    assert again[0].startswith(f"tune: 2 of 3 trials done in {out}")
    assert [line.split()[1] for line in again if line.startswith("trial")] == ["3/3"]
    assert journal_trials(out) == {0: "COMPLETE", 1: "COMPLETE", 2: "COMPLETE"}


def test_a_search_with_other_fixed_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "search"
    tune_main([*TINY, "--trials", "1", "--out", str(out)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        tune_main([*TINY, "--epochs", "2", "--trials", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "other fixed settings (epochs)" in err and str(out) in err


@pytest.mark.parametrize("flags, named", [(["--resume"], "error: --resume:"), (["--overwrite"], "error: --overwrite:"),
                                          (["--config", "x.json"], "error: --config:"),
                                          (["--d-model", "0"], "error: --d-model:")])
def test_flags_tune_owns_or_refuses_are_one_sentence(tmp_path, capsys, flags, named):
    with pytest.raises(SystemExit) as stop:
        tune_main([*TINY, "--trials", "1", "--out", str(tmp_path / "s"), *flags])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(named) and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_data_and_trials_are_required(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        tune_main([*TINY[2:], "--trials", "1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--data" in err and err.count("\n") == 1


def test_without_optuna_one_sentence_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)     # import optuna raises ImportError
    with pytest.raises(SystemExit) as stop:
        tune_main([*TINY, "--trials", "1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "needs Optuna" in err and "pip install 'tiny_mmmlp[tune]'" in err
    assert not (tmp_path / "s").exists()


def test_tune_is_a_command_of_tiny_mmmlp(capsys):
    from tiny_mmmlp.__main__ import main
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "--trials" in capsys.readouterr().out


def test_an_interrupted_search_exits_130_and_the_same_command_continues(tmp_path, capsys, monkeypatch):
    real_fit, calls = train.fit, []

    def stopped_in_the_second_trial(cfg, test=True):
        calls.append(cfg.out)
        if len(calls) == 2:
            (tmp_path / "search" / "trials" / "1").mkdir(parents=True, exist_ok=True)   # its folder is left
            raise KeyboardInterrupt
        return real_fit(cfg, test=test)
    monkeypatch.setattr(train, "fit", stopped_in_the_second_trial)
    out = tmp_path / "search"
    with pytest.raises(SystemExit) as stop:
        tune_main([*TINY, "--trials", "2", "--out", str(out)])
    assert stop.value.code == 130
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"interrupted: 1 of 2 trials are done in {out}; run the same command again to continue")
    assert journal_trials(out) == {0: "COMPLETE", 1: "FAIL"}
    tune_main([*TINY, "--trials", "2", "--out", str(out)])
    assert journal_trials(out) == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE"}
    assert not (out / "trials").exists() and (out / "config.json").exists()
