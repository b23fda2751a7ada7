"""Fault suite, train command: bad flags, bad data, damaged run folders, signals, two writers.

In-process calls of ``main(argv)`` wherever a fault can be made that way; subprocesses only
for signals (kill -9, Ctrl-C). Each case: exit code, one sentence, nothing changed outside
the run folder, the earlier run still loadable (faults.py).
"""
import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from faults import (
    MODEL_FLAGS,
    SMALL,
    Tree,
    assert_one_sentence,
    assert_run_intact,
    call,
    good_inter,
    good_item,
    json_values,
    mutated,
    run_files,
    write_atomic,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiny_mmmlp import checkpoint as ckpt_module
from tiny_mmmlp.checkpoint import load_checkpoint, save_checkpoint
from tiny_mmmlp.model_config import DEFAULT_LR
from tiny_mmmlp.run_folder import RunLock
from tiny_mmmlp.train import main as train_main


def readonly_folder(tmp_path) -> Path:
    """A folder this process cannot create files in. Root ignores permission bits, so as root
    it is /proc/self (the kernel refuses new files there whoever asks)."""
    if os.geteuid() == 0:
        return Path("/proc/self")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


# ---- flags: refused before anything is written ------------------------------------------

BAD_FLAGS = [
    (["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"),
    (["--weight-decay", "-0.1"], "--weight-decay"), (["--weight-decay", "nan"], "--weight-decay"),
    (["--seed", "-1"], "--seed"), (["--seed", "abc"], "--seed"),
    (["--device", "gpu", "--backend", "torch"], "--device gpu"),
    (["--device", "cuda:0"], "--device cuda:0"),                   # numpy backend: CPU only
    (["--dropout", "nan"], "--dropout"), (["--batch-size", "0"], "--batch-size"),
    (["--d-model", "1000000000"], "memory"), (["--batch-size", "1000000000000"], "memory"),
    (["--resume", "--overwrite"], "--overwrite"),
]


@pytest.mark.parametrize("flags,words", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_flags(flags, words, tmp_path, monkeypatch, capsys):
    if "torch" in flags:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    tree = Tree(tmp_path)
    rc, _, err = call(train_main, [*SMALL, "--out", tmp_path / "new", *flags], capsys)
    assert_one_sentence(rc, err, words)
    tree.assert_unchanged()


def test_cuda_device_without_cuda_is_refused_before_features(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    import tiny_mmmlp.data as data
    monkeypatch.setattr(data, "build_features", lambda *a, **k: pytest.fail("features built first"))
    rc, _, err = call(train_main, [*SMALL, "--backend", "torch", "--device", "cuda",
                                   "--out", tmp_path / "r"], capsys)
    assert_one_sentence(rc, err, "CUDA")


# ---- data: numbers checked, nothing evaluable, hostile names ----------------------------

def _train_on(folder, out, capsys, modalities="id", *extra):
    return call(train_main, ["--data", folder, "--modalities", modalities, *MODEL_FLAGS,
                             "--out", out, *extra], capsys)


@pytest.mark.parametrize("case", ["nan-time", "inf-time", "nan-float-seq", "inf-npy", "object-npy",
                                  "too-few-items", "text-float-seq"])
def test_bad_numbers_in_data(case, tmp_path, capsys):
    data = tmp_path / "data"
    modalities, words = "id", []
    inter, item = good_inter(), good_item()
    if case in ("nan-time", "inf-time"):
        lines = inter.splitlines()
        lines[3] = lines[3].rsplit("\t", 1)[0] + ("\tnan" if case == "nan-time" else "\tinf")
        inter, words = "\n".join(lines) + "\n", ["d.inter line 4", "timestamp"]
    elif case in ("nan-float-seq", "text-float-seq"):
        bad = "nan 1" if case == "nan-float-seq" else "1 abc"
        item = good_item(extra_header="\tvec:float_seq",
                         extra=lambda i: f"\t{bad}" if i == 4 else "\t0.5 1")
        modalities, words = "id,vec", ["d.item line 6", "vec"]
    elif case == "too-few-items":
        inter, words = good_inter(per_user=2), ["3 or more"]
    write_atomic(data, inter, item)
    if case == "inf-npy":
        table = np.ones((10, 4), np.float32)
        table[7, 2] = np.inf
        np.save(data / "emb.npy", table)
        modalities, words = "id,emb", ["emb.npy", "row 7"]
    if case == "object-npy":
        np.save(data / "emb.npy", np.array([{"a": 1}] * 10, dtype=object), allow_pickle=True)
        modalities, words = "id,emb", ["emb.npy"]
    tree = Tree(tmp_path)
    rc, _, err = _train_on(data, tmp_path / "out", capsys, modalities)
    assert_one_sentence(rc, err, *words)
    tree.assert_unchanged()


def test_hostile_field_name_stays_in_the_cache(tmp_path, monkeypatch, capsys):
    """A .item field named x/../../../../evil becomes a hashed cache file name, not a path."""
    cache = tmp_path / "a" / "b" / "cache"
    monkeypatch.setenv("TINY_MMMLP_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    data = write_atomic(tmp_path / "data", good_inter(),
                        good_item(extra_header="\tx/../../../../evil:token", extra=lambda i: f"\te{i % 2}"))
    tree = Tree(tmp_path, ignore=[cache, tmp_path / "out"])
    rc, _, err = _train_on(data, tmp_path / "out", capsys, "all")
    assert rc == 0 and "Traceback" not in err
    tree.assert_unchanged()
    assert all(p.parent == cache / "features" for p in cache.rglob("*.npy"))
    assert not list(tmp_path.parent.glob("*evil*"))


# ---- run folders: never silently replaced ------------------------------------------------

def test_new_run_into_a_run_folder_is_refused(run, capsys):
    before = run_files(run)
    rc, _, err = call(train_main, [*SMALL, "--out", run], capsys)
    assert_one_sentence(rc, err, "--resume", "--overwrite", str(run))
    assert_run_intact(run, before)


def test_resume_names_each_changed_flag(run, capsys):
    before = run_files(run)
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2", "--lr", "0.01",
                                   "--seed", "3", "--batch-size", "32"], capsys)
    assert_one_sentence(rc, err, f"--lr {DEFAULT_LR} -> 0.01", "--seed 0 -> 3", "--batch-size 64 -> 32")
    assert_run_intact(run, before)


def test_resume_accepts_the_data_folder_written_another_way(tmp_path, monkeypatch, capsys):
    """--data shop, then --data /abs/path/shop/: one folder, so the run continues; a folder
    with other contents is still refused (its description differs)."""
    monkeypatch.chdir(tmp_path)
    write_atomic(tmp_path / "shop", good_inter(), good_item())
    flags = [*MODEL_FLAGS, "--modalities", "id", "--out", "r"]
    assert call(train_main, ["--data", "shop", *flags], capsys)[0] == 0
    rc, _, err = call(train_main, ["--data", f"{tmp_path / 'shop'}/", *flags, "--resume", "--epochs", "2"], capsys)
    assert rc == 0, err
    assert load_checkpoint(tmp_path / "r")["run"]["epoch"] == 2
    write_atomic(tmp_path / "other", good_inter(users=9), good_item())
    rc, _, err = call(train_main, ["--data", "other", *flags, "--resume", "--epochs", "3"], capsys)
    assert_one_sentence(rc, err, "--data", "other", "changed since")     # both are named d: the contents tell


def test_resume_continues_a_checkpoint_that_kept_the_datas_path(tmp_path, monkeypatch, capsys):
    """A checkpoint written when run folders still kept the data's absolute path resumes."""
    monkeypatch.chdir(tmp_path)
    write_atomic(tmp_path / "shop", good_inter(), good_item())
    flags = ["--data", "shop", *MODEL_FLAGS, "--modalities", "id", "--out", "r"]
    assert call(train_main, flags, capsys)[0] == 0
    state = load_checkpoint(tmp_path / "r")
    assert state["settings"]["data"] == "d" and state["meta"]["data"] == "d"      # its name, no path
    state["settings"]["data"] = state["meta"]["data"] = str(tmp_path / "shop")
    save_checkpoint(tmp_path / "r", state)
    rc, _, err = call(train_main, [*flags, "--resume", "--epochs", "2"], capsys)
    assert rc == 0, err
    assert load_checkpoint(tmp_path / "r")["run"]["epoch"] == 2


def test_resume_refuses_a_data_folder_whose_contents_changed(tmp_path, monkeypatch, capsys):
    """The same folder and counts, but every user and item renamed (or the interactions
    changed): the run's data is not this data, so --resume refuses instead of mixing them."""
    monkeypatch.chdir(tmp_path)
    write_atomic(tmp_path / "shop", good_inter(), good_item())
    flags = ["--data", "shop", *MODEL_FLAGS, "--modalities", "id", "--out", "r"]
    assert call(train_main, flags, capsys)[0] == 0
    head, *rows = good_inter().splitlines()
    renamed = "\n".join([head] + ["x" + row.replace("\ti", "\tz") for row in rows]) + "\n"
    write_atomic(tmp_path / "shop", renamed, good_item().replace("\ni", "\nz"))
    rc, _, err = call(train_main, [*flags, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "--resume: the data", "changed since")
    assert load_checkpoint(tmp_path / "r")["run"]["epoch"] == 1


def test_a_checkpoint_of_an_older_format_is_refused_saying_what_to_do(tmp_path, capsys):
    out = tmp_path / "old"
    assert call(train_main, [*SMALL, "--out", out, "--epochs", "1"], capsys)[0] == 0
    head = json.loads((out / "checkpoint.json").read_text())
    (out / "checkpoint.json").write_text(json.dumps({**head, "format": "tiny_mmmlp-checkpoint-1"}))
    rc, _, err = call(train_main, [*SMALL, "--out", out, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "older version of tiny_mmmlp", "--overwrite")


def test_a_resumed_run_reports_the_peak_memory_of_its_earlier_processes_too(tmp_path, capsys):
    """metrics.json's peak_memory_mib is the run's: a process that only finishes a run (or
    re-evaluates a finished one) must not report its own, smaller, high-water mark alone."""
    out = tmp_path / "r"
    assert call(train_main, [*SMALL, "--out", out, "--epochs", "1"], capsys)[0] == 0
    first = json.loads((out / "metrics.json").read_text())["peak_memory_mib"]
    assert 0 < load_checkpoint(out)["run"]["peak_memory_mib"][0] <= first[0]   # kept each epoch
    state = load_checkpoint(out)
    state["run"]["peak_memory_mib"] = [first[0] + 10 ** 6]          # an earlier process's peak
    save_checkpoint(out, state)
    assert call(train_main, [*SMALL, "--out", out, "--resume", "--epochs", "2"], capsys)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["peak_memory_mib"] == [first[0] + 10 ** 6]
    assert load_checkpoint(out)["run"]["peak_memory_mib"] == [first[0] + 10 ** 6]
    state = load_checkpoint(out)
    state["run"]["peak_memory_mib"] = ["1 GB"]
    save_checkpoint(out, state)
    rc, _, err = call(train_main, [*SMALL, "--out", out, "--resume", "--epochs", "3"], capsys)
    assert_one_sentence(rc, err, "--resume", "peak_memory_mib")


def test_run_peaks_keeps_each_ranks_larger_figure():
    from tiny_mmmlp.run_record import run_peaks
    assert run_peaks(None, [300.0]) == [300.0]
    assert run_peaks([500.0, None, 200.0], [300.0, 400.0, None]) == [500.0, 400.0, 200.0]
    assert run_peaks([None], [None]) == [None]
    assert run_peaks([900.0], [300.0, 310.0]) == [300.0, 310.0]      # another world size: dropped


def test_overwrite_replaces_the_run(run, capsys):
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--overwrite", "--seed", "1"], capsys)
    assert rc == 0, err
    assert_run_intact(run)
    assert load_checkpoint(run)["settings"]["seed"] == 1 and len(list(run.glob("checkpoint-*.npz"))) == 1


@pytest.mark.parametrize("where", ["file", "parent-file", "read-only", "cannot-make"])
def test_output_folder_in_the_way(where, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("mine")
    out = {"file": tmp_path / "f", "parent-file": tmp_path / "f" / "run",
           "read-only": readonly_folder(tmp_path),
           "cannot-make": readonly_folder(tmp_path) / "run"}[where]
    tree = Tree(tmp_path)
    rc, _, err = call(train_main, [*SMALL, "--out", out], capsys)
    assert_one_sentence(rc, err, str(out) if where != "read-only" else "")
    if where == "cannot-make":                   # says which flag, and what to do
        assert f"--out {out}: cannot make this folder" in err and "choose another --out" in err
    tree.assert_unchanged()


def test_second_writer_is_refused(run, capsys):
    before = run_files(run)
    with RunLock(run):                        # a first training holds the folder
        rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, f"pid {os.getpid()}", "another training")
    assert_run_intact(run, before)


def _flip(path, at=0.5):
    blob = bytearray(path.read_bytes())
    blob[int(len(blob) * at)] ^= 0xFF
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("damage", ["flip-json", "flip-npz", "truncate-npz", "drop-npz", "bad-format"])
def test_damaged_checkpoint_is_one_sentence(damage, run, capsys):
    npz = next(run.glob("checkpoint-*.npz"))
    if damage == "flip-json":
        _flip(run / "checkpoint.json", 0.3)
    elif damage == "flip-npz":
        _flip(npz, 0.6)
    elif damage == "truncate-npz":
        npz.write_bytes(npz.read_bytes()[:1000])
    elif damage == "drop-npz":
        npz.unlink()
    else:
        head = json.loads((run / "checkpoint.json").read_text())
        head["arrays"] = "../../etc/passwd"
        (run / "checkpoint.json").write_text(json.dumps(head))
    tree = Tree(run.parent)
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "--resume", "checkpoint")
    tree.assert_unchanged()
    from tiny_mmmlp.model_file import load_model
    assert load_model(run)[0]                                  # the model file is untouched


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch PICKLE_RAN",))


@pytest.mark.parametrize("edit", ["none", "scalar", "missing"])
def test_a_best_parameter_that_is_not_an_array_of_its_shape_is_refused(edit, run, capsys):
    # the NumPy backend once took a None as NaN and a number as a broadcast, then failed saving
    # the model with a traceback (found by the edited-state test above, seed-dependent)
    head = json.loads((run / "checkpoint.json").read_text())
    best = head["state"]["run"]["best_params"]
    if edit == "missing":
        del best["id.embedding"]
    else:
        best["id.embedding"] = None if edit == "none" else 0.5
    (run / "checkpoint.json").write_text(json.dumps(head))
    tree = Tree(run.parent)
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "--resume", "does not fit this model")
    tree.assert_unchanged()


def test_pickle_checkpoint_is_never_loaded(run, capsys):
    (run / "checkpoint.json").unlink()
    for p in run.glob("checkpoint-*.npz"):
        p.unlink()
    (run / "checkpoint.pkl").write_bytes(pickle.dumps(_Boom()))
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "pickle")
    assert not (run.parent / "PICKLE_RAN").exists() and not Path("PICKLE_RAN").exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.dictionaries(st.sampled_from(["format", "arrays", "sha256", "state"]), json_values)
       | json_values)
def test_any_checkpoint_json_is_refused_not_crashed(head, base_run, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("hyp") / "run"
    shutil.copytree(base_run, run)
    (run / "checkpoint.json").write_text(json.dumps(head))
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, "--resume")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edited_checkpoint_state_resumes_or_is_refused(data, base_run, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("edit") / "run"
    shutil.copytree(base_run, run)
    head = json.loads((run / "checkpoint.json").read_text())
    head["state"] = data.draw(mutated(head["state"]))
    (run / "checkpoint.json").write_text(json.dumps(head))
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:                 # refused, or (an edited optimizer step count) a diverged loss
        assert_one_sentence(rc, err)
    else:
        assert_run_intact(run)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_during_a_checkpoint_keeps_the_last_one(code, run, monkeypatch, capsys):
    before = run_files(run)

    def refuse(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(ckpt_module, "write_bytes", refuse)
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--resume", "--epochs", "2"], capsys)
    assert_one_sentence(rc, err, os.strerror(code))
    assert_run_intact(run, before)


def test_non_finite_loss_stops_with_epoch_and_batch(tmp_path, monkeypatch, capsys):
    import math

    from tiny_mmmlp import data
    from tiny_mmmlp.backends import NumpyBackend
    per_epoch = math.ceil(data.n_train_examples(data.split_leave_one_out(data.load("toyshop-tiny")).train) / 64)
    real, calls = NumpyBackend.step, []

    def step(self, item_seq, targets):                   # NaN at epoch 2, batch 2
        calls.append(1)
        return float("nan") if len(calls) == per_epoch + 2 else real(self, item_seq, targets)

    monkeypatch.setattr(NumpyBackend, "step", step)
    out = tmp_path / "r"
    rc, _, err = call(train_main, [*SMALL, "--out", out, "--epochs", "3"], capsys)
    assert_one_sentence(rc, err, "loss is nan", "epoch 2, batch 2")
    assert load_checkpoint(out)["run"]["epoch"] == 1 and not (out / "metrics.json").exists()


def test_nan_scores_rank_last_and_metrics_json_is_strict(tmp_path, monkeypatch, capsys):
    from tiny_mmmlp.reference.model import MMMLP
    real = MMMLP.scores
    monkeypatch.setattr(MMMLP, "scores", lambda self, seq, *a, **k: real(self, seq, *a, **k) * np.nan)
    out = tmp_path / "r"
    rc, _, err = call(train_main, [*SMALL, "--out", out], capsys)
    assert rc == 0, err
    m = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert all(v == 0.0 for v in m["test"].values()) and all(v == 0.0 for v in m["valid"].values())


# ---- signals, in a subprocess -------------------------------------------------------------

def _spawn(out, *extra):
    # A shell starts background jobs with SIGINT ignored, and children inherit that; give the
    # training the default action back so that Ctrl-C reaches it however pytest was started.
    return subprocess.Popen([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, "--out", str(out),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_epoch(out, epoch, proc, limit=120):
    end = time.time() + limit
    while time.time() < end and proc.poll() is None:
        try:
            if load_checkpoint(out)["run"]["epoch"] >= epoch:
                return
        except Exception:  # noqa: BLE001 - not written yet
            pass
        time.sleep(0.05)
    pytest.fail(f"no checkpoint after epoch {epoch}: {proc.poll()}")


def test_kill_9_during_writes_then_resume(tmp_path):
    out = tmp_path / "r"
    proc = _spawn(out, "--epochs", "500", "--patience", "500")
    _wait_for_epoch(out, 1, proc)
    time.sleep(0.3)                               # somewhere in an epoch or a checkpoint write
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL     # 137 in a shell
    epoch = load_checkpoint(out)["run"]["epoch"]  # whatever was committed loads
    assert epoch >= 1
    done = subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, "--out", str(out),
                           "--epochs", str(epoch + 1), "--patience", "500", "--resume"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr       # the dead run's lock is not in the way
    assert_run_intact(out)
    assert not list(out.glob(".*.tmp")) and len(list(out.glob("checkpoint-*.npz"))) == 1


def test_ctrl_c_before_an_epochs_checkpoint_names_the_one_on_disk(tmp_path, monkeypatch, capsys):
    """Ctrl-C after epoch 1 ended but before its checkpoint was written: the message names
    epoch 0, the checkpoint a resume starts from, not the epoch the loop had counted."""
    import tiny_mmmlp.training_loop as loop_module
    real, saves = loop_module.save_checkpoint, []

    def save(folder, state):
        saves.append(state["run"]["epoch"])
        if len(saves) == 2:                         # epoch 1's save, about to start
            raise KeyboardInterrupt
        real(folder, state)
    monkeypatch.setattr(loop_module, "save_checkpoint", save)
    rc, out, _ = call(train_main, [*SMALL, "--out", tmp_path / "r", "--epochs", "3"], capsys)
    assert rc == 130 and saves == [0, 1]
    assert "checkpoint after epoch 0 is in" in out and load_checkpoint(tmp_path / "r")["run"]["epoch"] == 0


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_kill_exits_naming_the_resume_command(tmp_path, sig, code):
    """Ctrl-C, or `kill` (a benchmark driver ending its runs), stops the run in one line that
    says how to go on; the checkpoint stays."""
    out = tmp_path / "r"
    proc = _spawn(out, "--epochs", "500", "--patience", "500")
    _wait_for_epoch(out, 1, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code and "Traceback" not in stderr
    assert f"continue with: python -m tiny_mmmlp.train --config {out / 'config.json'} --resume --out {out}" in stdout
    assert json.loads((out / "config.json").read_text())["settings"]["epochs"] == 500
    assert load_checkpoint(out)["run"]["epoch"] >= 1


def test_two_writing_processes(tmp_path):
    out = tmp_path / "r"
    first = _spawn(out, "--epochs", "500", "--patience", "500")
    try:
        _wait_for_epoch(out, 1, first)
        second = subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, "--out", str(out),
                                 "--epochs", "500", "--patience", "500", "--resume"],
                                capture_output=True, text=True, timeout=120)
        assert_one_sentence(second.returncode, second.stderr, f"pid {first.pid}")
        assert first.poll() is None                       # the first run carries on untouched
    finally:
        first.send_signal(signal.SIGINT)
        _, first_err = first.communicate(timeout=60)
    assert first.returncode == 130, f"exit {first.returncode}, stderr: {first_err}"
    assert load_checkpoint(out)["run"]["epoch"] >= 1
