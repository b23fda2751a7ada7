"""Checkpoints without pickle: the generic state flattener and bit-exact --resume on torch."""
import json

import numpy as np
import pytest
from faults import SMALL

from tiny_mmmlp.checkpoint import flatten, load_checkpoint, save_checkpoint, unflatten


def test_flatten_round_trips_every_kind_of_state(tmp_path):
    rng = np.random.default_rng(3)
    state = {"optimizer": {"t": np.array(7), "m.w": rng.normal(size=(3, 2)).astype(np.float32)},
             "rng": rng.bit_generator.state,                       # 128-bit integers
             "by_index": {0: {"step": np.float32(2.5)}, 1: None},  # int keys, a NumPy scalar
             "betas": (0.9, 0.999), "history": [{"loss": 1.5, "best": float("-inf")}],
             "__odd": "a key that looks like a tag", "nan": float("nan")}
    save_checkpoint(tmp_path, state)
    text = (tmp_path / "checkpoint.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in checkpoint.json"))
    back = load_checkpoint(tmp_path)
    assert back["rng"] == state["rng"] and back["betas"] == (0.9, 0.999)
    assert back["by_index"][0]["step"] == np.float32(2.5) and isinstance(back["by_index"][0]["step"], np.float32)
    assert back["history"][0]["best"] == float("-inf") and np.isnan(back["nan"]) and back["__odd"] == state["__odd"]
    np.testing.assert_array_equal(back["optimizer"]["m.w"], state["optimizer"]["m.w"])
    save_checkpoint(tmp_path, {"a": 1})                                # the old array file goes
    assert len(list(tmp_path.glob("checkpoint-*.npz"))) == 1 and load_checkpoint(tmp_path) == {"a": 1}


def test_torch_tensors_and_optimizer_state_round_trip():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.randn(4, 3))
    opt = torch.optim.AdamW([w], lr=0.1)
    w.sum().backward()
    opt.step()
    arrays = {}
    tree = json.loads(json.dumps(flatten({"opt": opt.state_dict(), "rng": torch.get_rng_state()}, arrays)))
    back = unflatten(tree, arrays)
    assert torch.equal(back["rng"], torch.get_rng_state())
    opt2 = torch.optim.AdamW([torch.nn.Parameter(w.detach().clone())], lr=0.1)
    opt2.load_state_dict(back["opt"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_torch_resume_is_bit_exact(tmp_path):
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.train import main
    flags = [*SMALL, "--backend", "torch", "--patience", "5"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # tiny model: threads only contend on a busy CI box
    try:
        main([*flags, "--out", str(tmp_path / "a"), "--epochs", "2"])
        main([*flags, "--out", str(tmp_path / "b"), "--epochs", "1"])
        main([*flags, "--out", str(tmp_path / "b"), "--epochs", "2", "--resume"])
    finally:
        torch.set_num_threads(threads)
    a, b = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in "ab")
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test"] == b["test"]


def test_a_state_holding_nan_is_never_written_so_the_last_good_checkpoint_stays(tmp_path):
    """What load_checkpoint would refuse is not saved: a diverged state leaves the last good pair."""
    from tiny_mmmlp.checkpoint import NotFinite
    save_checkpoint(tmp_path, {"params": {"w": np.ones(3, dtype=np.float32)}, "epoch": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(NotFinite, match="params/w"):
        save_checkpoint(tmp_path, {"params": {"w": np.array([1.0, np.nan, 2.0], dtype=np.float32)}, "epoch": 2})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert load_checkpoint(tmp_path)["epoch"] == 1
