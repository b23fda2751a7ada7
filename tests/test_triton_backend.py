"""--backend triton under the CPU interpreter gives the torch backend's metrics."""
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from faults import good_inter, good_item, write_atomic  # noqa: E402

from tiny_mmmlp.train import main as train_main  # noqa: E402

# The interpreter runs every program of every launch in Python: a few users keep it to seconds.
TINY = ["--max-len", "6", "--d-model", "8", "--token-hidden", "4", "--channel-hidden", "8",
        "--n-layers", "1", "--fusion-layers", "1", "--batch-size", "32", "--modalities", "id,colour",
        "--epochs", "1", "--no-progress", "--dropout", "0"]


@pytest.mark.skipif(torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") != "1",
                    reason="checks the interpreter path; on a GPU the CUDA tests cover the kernels")
@pytest.mark.parametrize("extra", [["--no-history-bias"], []])     # the bias is on by default
def test_triton_backend_matches_torch_backend(tmp_path, extra):
    shop = ["--data", str(write_atomic(tmp_path / "shop", good_inter(users=16, items=12), good_item(items=12)))]
    with pytest.warns(UserWarning, match="interpreter"):
        train_main([*shop, *TINY, *extra, "--backend", "triton", "--out", str(tmp_path / "triton")])
    train_main([*shop, *TINY, *extra, "--backend", "torch", "--out", str(tmp_path / "torch")])
    got = json.loads((tmp_path / "triton" / "metrics.json").read_text())
    want = json.loads((tmp_path / "torch" / "metrics.json").read_text())
    assert got["backend"] == "triton" and got["config"]["history_bias"] == (not extra)
    assert got["history"][0]["loss"] == pytest.approx(want["history"][0]["loss"], rel=1e-4)
    for split in ("valid", "test"):
        for k, v in want[split].items():
            assert got[split][k] == pytest.approx(v, abs=0.02), (split, k)
