"""Fault suite: links, special files and crafted files where a run folder expects its own files.

What the package writes or locks (the run lock, checkpoints, the model file, any atomic
write) is opened without following a link and only as a regular file; what it reads back
(checkpoint.json and its arrays, the model file) is bounded before it is read, and loaded
weights must be finite. Each case: exit 2 and one sentence (or 0 with the right result),
nothing changed outside the run folder, and for crafted files a peak memory under 500 MiB,
measured in a child process.
"""
import errno
import hashlib
import io
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from faults import (
    SMALL,
    Tree,
    assert_one_sentence,
    assert_run_intact,
    call,
    run_files,
    run_measured,
    zeros_bomb,
    zip_bytes,
)

from tiny_mmmlp import files as atomic
from tiny_mmmlp.checkpoint import load_checkpoint, save_checkpoint
from tiny_mmmlp.errors import UserError, exit_on_user_error
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main
from tiny_mmmlp.train import main as train_main

MEMORY_BOUND_MIB = 500
RESUME = [*SMALL, "--resume", "--epochs", "1"]


@pytest.fixture()
def no_hang():
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""
    def stop(signum, frame):
        pytest.fail("the command hung on a FIFO")
    before = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, before)


def _npz(run: Path) -> Path:
    return next(run.glob("checkpoint-*.npz"))


def _rewrite_checkpoint(run: Path, blob: bytes) -> None:
    """Put ``blob`` in place of the run's checkpoint arrays, named and hashed as training does."""
    head = json.loads((run / "checkpoint.json").read_text())
    digest = hashlib.sha256(blob).hexdigest()
    _npz(run).unlink()
    head.update(arrays=f"checkpoint-{digest[:16]}.npz", sha256=digest)
    (run / head["arrays"]).write_bytes(blob)
    (run / "checkpoint.json").write_text(json.dumps(head))


# ---- train: the run lock -------------------------------------------------------------------

@pytest.mark.parametrize("how", ["symlink", "dangling", "fifo", "hard-link", "folder"])
def test_a_planted_lock_file_is_refused_and_nothing_it_points_to_changes(how, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out, victim = tmp_path / "r", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("keep me\n")
    lock = out / ".lock"
    if how == "symlink":
        lock.symlink_to(victim)
    elif how == "dangling":
        lock.symlink_to(tmp_path / "created.txt")
    elif how == "fifo":
        os.mkfifo(lock)
    elif how == "hard-link":
        os.link(victim, lock)
    else:
        lock.mkdir()
    tree = Tree(tmp_path)
    rc, _, err = call(train_main, [*SMALL, "--out", out], capsys)
    words = {"symlink": "symbolic link", "dangling": "symbolic link", "fifo": "a FIFO",
             "hard-link": "hard links", "folder": "a folder"}[how]
    assert_one_sentence(rc, err, str(lock), words)
    tree.assert_unchanged()
    assert victim.read_text() == "keep me\n" and not (tmp_path / "created.txt").exists()


# ---- train: run files that are links ---------------------------------------------------------

def test_a_linked_run_file_is_refused_by_name(tmp_path, monkeypatch, capsys):
    """A dangling link named like a run file: refused before training, nothing created."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r"
    out.mkdir()
    (out / "metrics.json").symlink_to(tmp_path / "elsewhere.json")
    tree = Tree(tmp_path, ignore=[out / ".lock"])           # the (empty) lock file may stay
    rc, _, err = call(train_main, [*SMALL, "--out", out], capsys)
    assert_one_sentence(rc, err, "metrics.json", "symbolic link", "--overwrite")
    tree.assert_unchanged()
    assert not (tmp_path / "elsewhere.json").exists()


def test_overwrite_removes_a_link_never_its_target(run, tmp_path, capsys):
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to(victim)
    rc, _, err = call(train_main, [*SMALL, "--out", run, "--overwrite"], capsys)
    assert rc == 0, err
    assert victim.read_text() == "{}" and not (run / "metrics.json").is_symlink()
    assert_run_intact(run)


# ---- train --resume: linked, special and crafted checkpoints -------------------------------

@pytest.mark.parametrize("how, words", [("dev-zero", "symbolic link"), ("fifo", "a FIFO"),
                                        ("json-link", "symbolic link"), ("json-fifo", "a FIFO"),
                                        ("json-huge", "bytes")])
def test_a_checkpoint_that_is_no_regular_file_is_not_read(how, words, run, no_hang, capsys):
    npz, head = _npz(run), run / "checkpoint.json"
    if how == "dev-zero":
        npz.unlink()
        npz.symlink_to("/dev/zero")
    elif how == "fifo":
        npz.unlink()
        os.mkfifo(npz)
    elif how == "json-link":
        head.rename(run / "saved.json")
        head.symlink_to(run / "saved.json")
    elif how == "json-fifo":
        head.unlink()
        os.mkfifo(head)
    else:
        head.write_text(" " * (9 * 2**20) + head.read_text())
    tree = Tree(run.parent)
    rc, _, err = call(train_main, [*RESUME, "--out", run], capsys)
    assert_one_sentence(rc, err, npz.name if how in ("dev-zero", "fifo") else "checkpoint.json", words)
    tree.assert_unchanged()
    with pytest.raises(UserError, match=words):               # read alone (evaluate, the API)
        load_checkpoint(run)


def test_a_zip_bomb_checkpoint_is_refused_before_it_is_inflated(run):
    """1.6 GB of zeros declared by a 1.6 MB member (hash recomputed): refused on its declared
    sizes, in bounded memory."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                 "shape": (400 * 2**20 // 1,)})
    bomb = zeros_bomb(header.getvalue(), 1600 * 2**20)
    import zipfile
    with zipfile.ZipFile(_npz(run)) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    name = next(n for n, _ in members if "params" in n and "embedding" in n)
    members = [m if m[0] != name else (name, bomb, len(header.getvalue()) + 1600 * 2**20, 0)
               for m in members]
    blob = zip_bytes(members)
    assert len(blob) < 2 * 2**20
    _rewrite_checkpoint(run, blob)
    rc, err, peak = run_measured("tiny_mmmlp.train", [*RESUME, "--out", run], cwd=run.parent)
    assert_one_sentence(rc, err, "--resume", "unpacked")
    assert peak < MEMORY_BOUND_MIB, f"peak memory {peak} MiB"


def test_a_member_declaring_more_than_it_holds_is_refused(run, capsys):
    """A stored member whose .npy header declares a billion floats but holds a few bytes."""
    import zipfile
    with zipfile.ZipFile(_npz(run)) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
    members[0] = (members[0][0], header.getvalue() + bytes(64))
    _rewrite_checkpoint(run, zip_bytes(members))
    rc, _, err = call(train_main, [*RESUME, "--out", run], capsys)
    assert_one_sentence(rc, err, "--resume", "declares shape")


@pytest.mark.parametrize("where", ["best", "current"])
def test_nan_weights_in_a_checkpoint_are_refused_naming_the_file(where, run, capsys, monkeypatch):
    """Before: NaN best weights printed a test table of 0.0000 and exited 0."""
    from tiny_mmmlp import checkpoint
    state = load_checkpoint(run)
    params = state["run"]["best_params"] if where == "best" else state["params"]
    name = next(iter(params))
    params[name] = np.full_like(params[name], np.nan)
    with monkeypatch.context() as m:               # a damaged file: training itself never writes NaN
        m.setattr(checkpoint, "non_finite", lambda arrays: None)
        save_checkpoint(run, state)
    rc, out, err = call(train_main, [*RESUME, "--out", run], capsys)
    assert_one_sentence(rc, err, str(_npz(run)), "NaN")
    assert "0.0000" not in out


# ---- the atomic writer ----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["symlink", "dangling", "fifo", "folder"])
def test_an_atomic_write_never_replaces_or_follows_a_link(how, tmp_path, no_hang):
    path, victim = tmp_path / "metrics.json", tmp_path / "victim.txt"
    victim.write_text("keep me")
    if how == "symlink":
        path.symlink_to(victim)
    elif how == "dangling":
        path.symlink_to(tmp_path / "created.txt")
    elif how == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(UserError, match="symbolic link" if how in ("symlink", "dangling") else "not a regular"):
        atomic.write_text(path, "{}")
    assert victim.read_text() == "keep me" and not (tmp_path / "created.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["metrics.json", "victim.txt"])


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_an_atomic_write_keeps_the_umask_and_leaves_no_temporary(umask, tmp_path):
    before = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "a.txt", "one")
        atomic.write_text(tmp_path / "a.txt", "two")                 # replacing a regular file
    finally:
        os.umask(before)
    assert (tmp_path / "a.txt").read_text() == "two"
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_full_disk_names_the_file_being_written(tmp_path, monkeypatch, capsys):
    real = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, fd):
            self.f = real(fd, "wb")

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fileno(self):
            return self.f.fileno()

        def close(self):
            self.f.close()
            super().close()

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode="r": Full(fd))
    target = tmp_path / "out" / "metrics.json"
    rc, _, err = call(exit_on_user_error(lambda argv: atomic.write_text(target, "{}")), [], capsys)
    monkeypatch.undo()
    assert_one_sentence(rc, err, str(target), os.strerror(errno.ENOSPC))
    assert list((tmp_path / "out").iterdir()) == []


# ---- recommend: crafted model files, links, memory advice ------------------------------------

def _safetensors(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def test_a_crafted_model_file_stays_in_bounded_memory(run):
    """A 1.6 MB model file whose header declares 1.6 GB: refused, peak memory measured."""
    meta = {"__metadata__": {"format_version": "2"},
            "id.embedding": {"dtype": "F32", "shape": [400 * 2**20], "data_offsets": [0, 1600 * 2**20]}}
    (run / MODEL_FILE).write_bytes(_safetensors(meta, bytes(1600 * 2**10)))
    rc, err, peak = run_measured("tiny_mmmlp.recommend", [run, "--items", "x"], cwd=run.parent)
    assert_one_sentence(rc, err, str(run / MODEL_FILE), "claims bytes")
    assert peak < MEMORY_BOUND_MIB, f"peak memory {peak} MiB"


def test_a_shape_whose_size_overflows_64_bits_is_refused(run, capsys):
    """[2**32, 2**32] float32 is 2**66 bytes, 0 in 64-bit arithmetic: the offsets must not pass."""
    meta = {"__metadata__": {"format_version": "2"},
            "id.embedding": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}
    (run / MODEL_FILE).write_bytes(_safetensors(meta, b""))
    rc, _, err = call(recommend_main, [run, "--items", "x"], capsys)
    assert_one_sentence(rc, err, "claims bytes")


def test_a_model_file_larger_than_free_memory_is_not_read(run, capsys):
    free = atomic.available_memory()
    if free is None or free > 2**40:
        pytest.skip("free memory unknown, or more than the sparse file's 1 TiB")
    with open(run / MODEL_FILE, "r+b") as f:
        f.truncate(2**40)                                          # sparse: takes no disk
    rc, _, err = call(recommend_main, [run, "--items", "x"], capsys)
    assert_one_sentence(rc, err, str(run / MODEL_FILE), "after its tensors")      # only the header is read


def test_recommend_output_through_a_link_is_refused(run, tmp_path, capsys):
    from tiny_mmmlp import data
    victim, link = tmp_path / "victim.csv", tmp_path / "recs.csv"
    victim.write_text("keep me")
    link.symlink_to(victim)
    user = data.load("toyshop-tiny").user_ids[0]
    before = run_files(run)
    rc, _, err = call(recommend_main, [run, "--user", user, "--format", "csv", "--output", link], capsys)
    assert_one_sentence(rc, err, str(link), "symbolic link")
    assert victim.read_text() == "keep me" and run_files(run) == before


def test_out_of_memory_advice_fits_the_command(run, monkeypatch, capsys):
    from tiny_mmmlp import recommender

    def exhausted(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(recommender.Recommender, "top_k", exhausted)
    rc, _, err = call(recommend_main, [run, "--users", "all"], capsys)
    line = assert_one_sentence(rc, err, "memory", "--users")
    assert "--d-model" not in line and "--batch-size" not in line
