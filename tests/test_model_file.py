"""model.safetensors: a standard weights file with the config and raw item ids in its metadata,
loadable by every backend; and every file the package writes respects the umask."""
import json
import os
import stat

import numpy as np
import pytest

import tiny_mmmlp
from tiny_mmmlp.files import building_folder, write_text
from tiny_mmmlp.model_file import FORMAT_VERSION, MODEL_FILE, fingerprints, read_model


def test_the_weights_file_is_plain_safetensors_with_json_metadata(trained):
    from safetensors import safe_open
    from safetensors.numpy import load_file
    path = trained.folder / MODEL_FILE
    arrays = load_file(str(path))
    with safe_open(str(path), framework="np") as f:
        metadata = f.metadata()
    assert metadata["format_version"] == FORMAT_VERSION
    config, run = json.loads(metadata["config"]), json.loads(metadata["run"])
    assert config == trained.metrics["config"] and run["modalities"] == ["id", "text", "category"]
    item_ids = json.loads(metadata["item_ids"])
    assert len(item_ids) == run["n_items"] == arrays["id.embedding"].shape[0] - 1
    assert {"features/text", "features/category"} <= set(arrays)
    assert arrays["features/text"].shape[0] == len(item_ids) + 1
    assert not (trained.folder / "model.npz").exists()


def test_the_fingerprints_match_the_data_it_was_trained_on(trained):
    from tiny_mmmlp import data
    saved = read_model(trained.folder)
    ds = data.load("toyshop-tiny")
    assert saved.fingerprints == fingerprints(ds, saved.features)


def test_every_backend_loads_the_weights(trained):
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.backends import make_backend
    saved, rec = read_model(trained.folder), tiny_mmmlp.load(trained.folder)
    seq = np.array([[0, 0, 0, 0, 0, 1, 2, 3]])
    want = rec.scorer().scores(seq)
    for name in ("numpy", "torch"):
        backend = make_backend(name, saved.config, len(saved.item_ids), saved.features, 0, 1e-3, 0.0)
        backend.load_params(saved.params)
        if name == "numpy":
            got = backend.model.scores(seq)
        else:
            got = backend.model.eval().scores(torch.from_numpy(seq)).numpy()   # dropout off
        np.testing.assert_allclose(got[:, 1:], want[:, 1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_and_folders_respect_the_umask(tmp_path, umask):
    before = os.umask(umask)
    try:
        write_text(tmp_path / "sub" / "file.txt", "x")
        with building_folder(tmp_path / "built") as tmp:
            write_text(tmp / "inside.txt", "y")
    finally:
        os.umask(before)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert mode(tmp_path / "sub" / "file.txt") == 0o666 & ~umask
    assert mode(tmp_path / "built") == 0o777 & ~umask
    assert mode(tmp_path / "built" / "inside.txt") == 0o666 & ~umask


def test_a_run_folders_files_respect_the_umask(trained):
    umask = os.umask(0o022)
    os.umask(umask)
    for name in (MODEL_FILE, "metrics.json", "checkpoint.json"):
        assert stat.S_IMODE((trained.folder / name).stat().st_mode) == 0o666 & ~umask, name
