"""Fault suite, recommend command: damaged and hostile model files, bad flags, output faults."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from faults import Tree, assert_one_sentence, call, mutated, run_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiny_mmmlp import data
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main


@pytest.fixture(scope="module")
def user():
    return data.load("toyshop-tiny").user_ids[0]


def _parts(model):
    """(tensors, metadata) of a model file, read with safetensors itself."""
    from safetensors import safe_open
    from safetensors.numpy import load_file
    with safe_open(str(model), framework="np") as f:
        return load_file(str(model)), dict(f.metadata())


def _write(model, arrays, metadata):
    from safetensors.numpy import save_file
    save_file(arrays, str(model), metadata=metadata)


def _damage(run, how):
    model = run / MODEL_FILE
    blob = model.read_bytes()
    arrays, metadata = _parts(model)
    run_meta, config = json.loads(metadata["run"]), json.loads(metadata["config"])
    head = int.from_bytes(blob[:8], "little")
    if how == "truncated":
        model.write_bytes(blob[: len(blob) // 3])
    elif how == "not-safetensors":
        model.write_text("hello, I am not a model\n")
    elif how == "flipped":
        b = bytearray(blob)
        b[8 + head // 2] ^= 0xFF                           # inside the JSON header
        model.write_bytes(bytes(b))
    elif how == "huge-header":
        model.write_bytes((2**62).to_bytes(8, "little") + blob[8:])
    elif how == "huge-shape":
        text = blob[8:8 + head].decode().replace('"shape":[', '"shape":[4000000000,', 1)
        model.write_bytes(len(text).to_bytes(8, "little") + text.encode() + blob[8 + head:])
    elif how == "old-version":
        _write(model, arrays, {**metadata, "format_version": "1"})
    elif how == "no-metadata":
        _write(model, arrays, {})
    elif how == "meta-list":
        _write(model, arrays, {**metadata, "run": json.dumps([1, 2])})
    elif how == "meta-wrong-types":
        _write(model, arrays, {**metadata, "run": json.dumps({**run_meta, "modalities": 5})})
    elif how == "item-ids-short":
        _write(model, arrays, {**metadata, "item_ids": json.dumps(json.loads(metadata["item_ids"])[1:])})
    elif how == "config-bad-value":
        _write(model, arrays, {**metadata, "config": json.dumps({**config, "d_model": -3})})
    elif how == "wrong-shape":
        _write(model, {**arrays, "id.embedding": np.zeros((3, 3), np.float32)}, metadata)
    elif how == "int-tensor":
        _write(model, {**arrays, "id.embedding": arrays["id.embedding"].astype(np.int32)}, metadata)
    elif how == "nan-params":
        _write(model, {k: v * np.nan for k, v in arrays.items()}, metadata)
    elif how == "missing":
        model.unlink()
    elif how == "only-old-npz":
        model.unlink()
        (run / "model.npz").write_bytes(b"PK\x03\x04")
    elif how == "symlink":
        model.rename(run / "elsewhere")
        model.symlink_to(run / "elsewhere")
    elif how == "fifo":
        model.unlink()
        os.mkfifo(model)
    elif how == "data-moved":
        _write(model, arrays, {**metadata, "run": json.dumps({**run_meta, "data": "/no/such/data"})})


DAMAGE = ["truncated", "not-safetensors", "flipped", "huge-header", "huge-shape", "old-version",
          "no-metadata", "meta-list", "meta-wrong-types", "item-ids-short", "config-bad-value",
          "wrong-shape", "int-tensor", "nan-params", "missing", "only-old-npz", "symlink", "fifo",
          "data-moved"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_model_file_is_one_sentence(how, run, user, capsys):
    _damage(run, how)
    tree = Tree(run.parent)
    rc, _, err = call(recommend_main, [run, "--user", user], capsys)
    assert_one_sentence(rc, err, *(["format"] if how in ("old-version", "only-old-npz") else []))
    tree.assert_unchanged()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_any_byte_flips_in_model_file_end_in_exit_0_or_2(flips, base_run, user, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("flip") / "run"
    shutil.copytree(base_run, run)
    blob = bytearray((run / MODEL_FILE).read_bytes())
    head = 8 + int.from_bytes(blob[:8], "little")
    for at, bits in flips:                          # half of them in the length and JSON header
        blob[int(at * head) if bits % 2 else int(at * len(blob))] ^= bits
    (run / MODEL_FILE).write_bytes(bytes(blob))
    rc, _, err = call(recommend_main, [run, "--user", user, "--k", "3"], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert_one_sentence(rc, err)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edited_model_metadata_recommends_or_is_refused(data, base_run, user, tmp_path_factory,
                                                             monkeypatch, capsys):
    run = tmp_path_factory.mktemp("meta") / "run"
    shutil.copytree(base_run, run)
    monkeypatch.chdir(run.parent)
    arrays, metadata = _parts(run / MODEL_FILE)
    key = data.draw(st.sampled_from(["run", "config", "item_ids", "fingerprints"]))
    edited = data.draw(mutated(json.loads(metadata[key])))
    _write(run / MODEL_FILE, arrays, {**metadata, key: json.dumps(edited)})
    rc, _, err = call(recommend_main, [run, "--user", user, "--k", "3"], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert_one_sentence(rc, err)


BAD = [(["--k", "0"], "--k"), (["--k", "x"], "--k"), (["--user", "nobody"], "nobody"),
       (["--items", ",,"], "--items"), (["--items", "../../etc/passwd"], "--items"),
       (["--data", "/no/such/folder"], "/no/such/folder")]


@pytest.mark.parametrize("flags,word", BAD, ids=[" ".join(f) for f, _ in BAD])
def test_bad_flags(flags, word, run, capsys):
    argv = [run, *flags] if any(f in flags for f in ("--user", "--items")) else [run, "--user", "U00000", *flags]
    before = run_files(run)
    rc, _, err = call(recommend_main, argv, capsys)
    assert_one_sentence(rc, err, word)
    assert run_files(run) == before


def test_k_beyond_the_catalogue_never_lists_padding(run, user, capsys):
    ds = data.load("toyshop-tiny")
    seen = {ds.item_ids[i - 1] for i in ds.sequences[0]}
    rc, out, err = call(recommend_main, [run, "--user", user, "--k", str(10 * ds.n_items),
                                         "--exclude-history"], capsys)
    assert rc == 0, err
    ranked = [line.split()[1] for line in out.splitlines() if line[:4].strip().rstrip(".").isdigit()]
    # every unseen item once; the padding item (which would print as the last id again) never
    assert sorted(ranked) == sorted(set(ds.item_ids) - seen)


@pytest.mark.parametrize("where", ["folder-is-file", "read-only"])
def test_picture_output_faults(where, run, user, tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    if where == "folder-is-file":
        picture = tmp_path / "f" / "recs.png"
    else:
        folder = Path("/proc/self") if os.geteuid() == 0 else tmp_path / "ro"
        if os.geteuid() != 0:
            folder.mkdir()
            folder.chmod(0o555)
        picture = folder / "recs.png"
    tree = Tree(tmp_path)
    rc, _, err = call(recommend_main, [run, "--user", user, "--picture", picture], capsys)
    assert_one_sentence(rc, err)
    tree.assert_unchanged()
