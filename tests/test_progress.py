"""Messages through the ``tiny_mmmlp`` logger, and progress by one rule: a bar where someone
watches, no bar where the output is a file (one line per epoch, a line now and then for a long pass)."""
import importlib.util
import json
import logging
import subprocess
import sys
import types

import pytest

from tiny_mmmlp import progress
from tiny_mmmlp.evaluate import main as evaluate_main
from tiny_mmmlp.progress import LOGGER, PROGRESS, bar, progress_mode, show_messages
from tiny_mmmlp.recommend import main as recommend_main
from tiny_mmmlp.train import main as train_main

SMALL = ["--data", "toyshop-tiny", "--modalities", "id,text", "--max-len", "6", "--d-model", "8",
         "--token-hidden", "4", "--channel-hidden", "8", "--n-layers", "1", "--batch-size", "64"]


@pytest.fixture
def fresh_logger():
    """The tiny_mmmlp loggers as a new process has them (no handler, no level), restored after."""
    saved = (LOGGER.handlers[:], LOGGER.level, PROGRESS.handlers[:], PROGRESS.propagate)
    LOGGER.handlers.clear()
    PROGRESS.handlers.clear()
    LOGGER.setLevel(logging.NOTSET)
    PROGRESS.propagate = True
    yield
    LOGGER.handlers[:], PROGRESS.handlers[:] = saved[0], saved[2]
    LOGGER.setLevel(saved[1])
    PROGRESS.propagate = saved[3]


class Stderr:
    """A standard error that is a terminal or not."""

    def __init__(self, tty):
        self.tty, self.parts = tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass


def test_one_rule_for_bars_widgets_lines_and_nothing(monkeypatch, fresh_logger):
    monkeypatch.setattr(sys, "stderr", Stderr(tty=True))
    assert progress_mode() == "bar" and progress_mode(enabled=False) == "off"
    monkeypatch.setattr(sys, "stderr", Stderr(tty=False))
    assert progress_mode() == "lines"
    show_messages(0)                                         # --quiet: no progress of any kind
    assert progress_mode() == "off"
    show_messages(1)
    kernel = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    assert progress_mode() == "widget"
    if importlib.util.find_spec("ipywidgets") is None:      # a notebook without widgets: lines, no text bars
        assert isinstance(bar(range(3), desc="x"), progress._Lines)


def test_where_stderr_is_a_file_a_long_pass_logs_lines_and_an_epoch_none(monkeypatch, fresh_logger):
    err = Stderr(tty=False)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)       # a line at every step
    show_messages()
    assert list(bar(range(4), desc="ranking", unit="user", total=4)) == [0, 1, 2, 3]
    assert [p.split(", ")[0] for p in err.parts] == [f"ranking: {n}/4 user ({25 * n}%)\n".rstrip()
                                                     for n in range(1, 5)]
    err.parts.clear()
    list(bar(range(4), desc="epoch 1/1", lines=False))     # the epoch's own line reports it
    assert err.parts == []


def test_feature_extraction_shows_progress(monkeypatch, capsys, fresh_logger):
    from tiny_mmmlp.data.images import image_matrix
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    show_messages()
    _, failed = image_matrix([None, None, None], progress=True)
    err = capsys.readouterr().err.splitlines()
    assert failed == 2 and [e.split(",")[0] for e in err] == ["image features: 1/2 img (50%)",
                                                              "image features: 2/2 img (100%)"]


def test_a_redirected_run_writes_its_lines_and_no_bars(tmp_path):
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, "--epochs", "2",
                        "--out", str(tmp_path / "run")], stdout=f, stderr=subprocess.STDOUT, check=True)
    text = log.read_text()
    assert "\r" not in text and "batch" not in text
    lines = text.splitlines()
    assert lines[0].startswith("toyshop-tiny: ") and [line[:9] for line in lines[1:3]] == ["epoch   1",
                                                                                            "epoch   2"]
    assert lines[4].startswith("test metrics") and lines[-1].startswith("wrote ")


def test_quiet_prints_nothing_and_verbose_adds_each_epochs_times(tmp_path, capsys):
    train_main([*SMALL, "--epochs", "1", "--out", str(tmp_path / "q"), "--quiet"])
    assert capsys.readouterr().out == ""
    assert (tmp_path / "q" / "metrics.json").exists()
    train_main([*SMALL, "--epochs", "2", "--out", str(tmp_path / "v"), "--verbose"])
    lines = capsys.readouterr().out.splitlines()
    details = [line for line in lines if "training " in line and " s, validation " in line]
    assert len(details) == 2 and lines[2] == details[0]      # each right after its epoch's line


def test_messages_go_through_the_logger_and_fit_adds_no_handler_to_a_program_that_has_one(
        tmp_path, capsys, caplog, monkeypatch, fresh_logger):
    import tiny_mmmlp
    settings = dict(data="toyshop-tiny", modalities="id", max_len=6, d_model=8, token_hidden=4,
                    channel_hidden=8, n_layers=1, batch_size=64, epochs=1, no_progress=True)
    with caplog.at_level(logging.INFO, logger="tiny_mmmlp"):     # the program handles logging
        tiny_mmmlp.fit(**settings, out=str(tmp_path / "a"))
    assert any(r.name == "tiny_mmmlp" and r.getMessage().startswith("epoch   1") for r in caplog.records)
    assert "epoch   1" not in capsys.readouterr().out and LOGGER.handlers == []
    monkeypatch.setattr(logging.root, "handlers", [])               # nothing handles it: fit prints
    tiny_mmmlp.fit(**settings, out=str(tmp_path / "b"))
    assert "epoch   1" in capsys.readouterr().out


def test_evaluate_and_recommend_for_all_users_show_progress_on_stderr_only(trained, monkeypatch, capsys):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    evaluate_main([str(trained.folder)])
    out, err = capsys.readouterr()
    users = int(out.splitlines()[0].split(" users)")[0].split()[-1])       # "..., 150 users):"
    assert out.splitlines()[0].startswith("test metrics of ") and "evaluating: " not in out
    assert err.splitlines()[-1].startswith(f"evaluating: {users}/{users} user (100%)")
    recommend_main([str(trained.folder), "--users", "all", "--format", "csv", "--k", "2"])
    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[0] == "user_id,rank,item_id,score" and len(rows) == 1 + 2 * users
    assert all(r.count(",") == 3 for r in rows) and err.startswith("recommending: ")
    recommend_main([str(trained.folder), "--users", "all", "--format", "csv", "--no-progress"])
    assert capsys.readouterr().err == ""


def test_a_run_saved_without_the_verbose_setting_resumes(tmp_path, capsys, monkeypatch):
    from tiny_mmmlp import train
    train_main([*SMALL, "--epochs", "1", "--out", str(tmp_path), "--no-progress"])
    load = train.load_checkpoint

    def older(out):                          # the checkpoint of a version without the setting
        ckpt = load(out)
        del ckpt["settings"]["verbose"]
        return ckpt
    monkeypatch.setattr(train, "load_checkpoint", older)
    train_main([*SMALL, "--epochs", "2", "--out", str(tmp_path), "--no-progress", "--resume"])
    assert "resuming " in capsys.readouterr().out
    assert len(json.loads((tmp_path / "metrics.json").read_text())["history"]) == 2


@pytest.mark.parametrize("value, resumes", [(None, True), (0.2, False)])
def test_a_run_saved_before_a_training_setting_existed_resumes_only_at_its_default(
        tmp_path, capsys, monkeypatch, value, resumes):
    from tiny_mmmlp import train
    train_main([*SMALL, "--epochs", "1", "--out", str(tmp_path), "--no-progress"])
    load = train.load_checkpoint

    def older(out):                          # the checkpoint of a version without --item-dropout
        ckpt = load(out)
        del ckpt["settings"]["item_dropout"]
        return ckpt
    monkeypatch.setattr(train, "load_checkpoint", older)
    more = [] if value is None else ["--item-dropout", str(value)]
    args = [*SMALL, "--epochs", "2", "--out", str(tmp_path), "--no-progress", "--resume", *more]
    if resumes:
        train_main(args)
        assert "resuming " in capsys.readouterr().out
        assert len(json.loads((tmp_path / "metrics.json").read_text())["history"]) == 2
    else:
        with pytest.raises(SystemExit) as exit:
            train_main(args)
        assert exit.value.code == 2
        assert "--item-dropout 0.0 -> 0.2" in capsys.readouterr().err


def _resume_as_older(tmp_path, capsys, monkeypatch, small, first, key, flags, resumes, refusal):
    """Train one epoch with ``first``, then resume with ``flags`` a checkpoint of a version
    without the model setting ``key``: resumed, or refused in one line naming ``refusal``."""
    from tiny_mmmlp import train
    train_main([*small, "--epochs", "1", "--out", str(tmp_path), "--no-progress", *first])
    load = train.load_checkpoint

    def older(out):                          # the checkpoint of a version without the setting
        ckpt = load(out)
        del ckpt["settings"][key], ckpt["meta"]["config"][key]
        return ckpt
    monkeypatch.setattr(train, "load_checkpoint", older)
    args = [*small, "--epochs", "2", "--out", str(tmp_path), "--no-progress", "--resume", *flags]
    if resumes:
        train_main(args)
        assert "resuming " in capsys.readouterr().out
    else:
        with pytest.raises(SystemExit) as exit:
            train_main(args)
        assert exit.value.code == 2
        assert refusal in capsys.readouterr().err


@pytest.mark.parametrize("flag, resumes", [("--no-history-pool", True), ("--history-pool", False)])
def test_a_run_saved_before_the_history_pool_existed_trained_without_it(tmp_path, capsys, monkeypatch,
                                                                         flag, resumes):
    _resume_as_older(tmp_path, capsys, monkeypatch, SMALL, ["--no-history-pool"], "history_pool", [flag],
                     resumes, "--history-pool False -> True")


@pytest.mark.parametrize("modalities, flags, resumes", [("id,text", [], False), ("id,text", ["--no-pool-features"], True),
                                                        ("id", [], True)])
def test_a_run_saved_before_the_pool_read_features_resumes_as_it_was_made(tmp_path, capsys, monkeypatch,
                                                                          modalities, flags, resumes):
    """Saved without pool_features, a run pooled its items' ID embeddings alone; with IDs alone
    the setting changes nothing, so that run resumes at today's defaults."""
    small = [*SMALL[:2], "--modalities", modalities, *SMALL[4:]]
    _resume_as_older(tmp_path, capsys, monkeypatch, small, ["--no-pool-features"], "pool_features", flags,
                     resumes, "--pool-features False -> True")
