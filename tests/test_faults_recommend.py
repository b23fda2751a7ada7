"""Fault suite, recommend command: damaged and hostile model files, bad flags, output faults."""
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults import base_run, run  # noqa: F401 (pytest fixtures)
from faults import Tree, assert_one_sentence, call, mutated, run_files
from tiny_mmmlp import data
from tiny_mmmlp.recommend import main as recommend_main


@pytest.fixture(scope="module")
def user():
    return data.load("toyshop-tiny").user_ids[0]


def _model_npz(path, arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _damage(run, how):
    model = run / "model.npz"
    blob = model.read_bytes()
    with np.load(model) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    if how == "truncated":
        model.write_bytes(blob[: len(blob) // 3])
    elif how == "not-a-zip":
        model.write_text("hello, I am not a model\n")
    elif how == "flipped":
        b = bytearray(blob)
        b[len(b) // 2] ^= 0xFF
        model.write_bytes(bytes(b))
    elif how == "pickled-array":
        with open(model, "wb") as f:
            np.savez(f, __meta__=arrays["__meta__"], evil=np.array([{"x": 1}], dtype=object))
    elif how == "meta-list":
        _model_npz(model, {**arrays, "__meta__": np.array(json.dumps([1, 2]))})
    elif how == "meta-wrong-types":
        meta["modalities"] = 5
        _model_npz(model, {**arrays, "__meta__": np.array(json.dumps(meta))})
    elif how == "config-bad-value":
        meta["config"]["d_model"] = -3
        _model_npz(model, {**arrays, "__meta__": np.array(json.dumps(meta))})
    elif how == "wrong-shape":
        key = next(k for k in arrays if k != "__meta__")
        _model_npz(model, {**arrays, key: np.zeros((3, 3), np.float32)})
    elif how == "nan-params":
        _model_npz(model, {k: (v * np.nan if k != "__meta__" else v) for k, v in arrays.items()})
    elif how == "missing":
        model.unlink()
    elif how == "data-moved":
        meta["data"] = "/no/such/data"
        _model_npz(model, {**arrays, "__meta__": np.array(json.dumps(meta))})


DAMAGE = ["truncated", "not-a-zip", "flipped", "pickled-array", "meta-list", "meta-wrong-types",
          "config-bad-value", "wrong-shape", "nan-params", "missing", "data-moved"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_model_file_is_one_sentence(how, run, user, capsys):
    _damage(run, how)
    tree = Tree(run.parent)
    rc, _, err = call(recommend_main, [run, "--user", user], capsys)
    assert_one_sentence(rc, err)
    assert "allow_pickle" not in err and "pickle.load" not in err      # NumPy's unsafe advice
    tree.assert_unchanged()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_any_byte_flips_in_model_file_end_in_exit_0_or_2(flips, base_run, user, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("flip") / "run"
    shutil.copytree(base_run, run)
    blob = bytearray((run / "model.npz").read_bytes())
    for at, bits in flips:
        blob[int(at * len(blob))] ^= bits
    (run / "model.npz").write_bytes(bytes(blob))
    rc, _, err = call(recommend_main, [run, "--user", user, "--k", "3"], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert_one_sentence(rc, err)


def test_a_model_file_with_an_unknown_zip_version_is_refused(base_run, user, tmp_path, capsys):
    """A flipped byte in a zip header's "version needed" makes zipfile raise
    NotImplementedError (found by the test above): one sentence and exit 2, like other damage."""
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    blob = bytearray((run / "model.npz").read_bytes())
    central = blob.index(b"PK\x01\x02")                 # the first central-directory entry
    blob[central + 6] = 109                              # version needed to extract: 10.9
    (run / "model.npz").write_bytes(bytes(blob))
    rc, _, err = call(recommend_main, [run, "--user", user, "--k", "3"], capsys)
    assert_one_sentence(rc, err, "model.npz")


@pytest.mark.parametrize("header", [b"(, }", b"[, }"])
def test_a_model_file_with_an_unparsable_array_header_is_refused(base_run, user, tmp_path, capsys, header):
    """A flipped byte in an array's .npy header (a shape's ")" made "(", found by the test
    above) sends NumPy to its Python 2 header filter, which raises tokenize's TokenError, not
    ValueError: one sentence and exit 2, like other damage."""
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    blob = bytearray((run / "model.npz").read_bytes())
    at = blob.index(b"), }")                             # the end of the first array's shape
    blob[at:at + 4] = header
    (run / "model.npz").write_bytes(bytes(blob))
    rc, _, err = call(recommend_main, [run, "--user", user, "--k", "3"], capsys)
    assert_one_sentence(rc, err, "model.npz")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edited_model_metadata_recommends_or_is_refused(data, base_run, user, tmp_path_factory,
                                                             monkeypatch, capsys):
    run = tmp_path_factory.mktemp("meta") / "run"
    shutil.copytree(base_run, run)
    monkeypatch.chdir(run.parent)
    with np.load(run / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = data.draw(mutated(json.loads(str(arrays["__meta__"]))))
    _model_npz(run / "model.npz", {**arrays, "__meta__": np.array(json.dumps(meta))})
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
