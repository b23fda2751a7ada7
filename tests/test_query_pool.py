"""The pooled query (--query-pool): h = z_N + Σ_t a_t z_t over the Fusion Mixer Layer's output,
a linear token mixing into the query. Hand-computed forward and backward, a float64 gradient
check in the NumPy model, agreement with torch, and a run through the CLI."""
import json

import numpy as np
import pytest
from model_pairs import assert_reference_equals_torch, reference_and_torch

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error
from tiny_mmmlp.reference.layers import query_pool_backward, query_pool_forward


def test_query_pool_hand_computed():
    z = np.arange(12.0).reshape(1, 3, 4)                  # B = 1, N = 3, D_f = 4
    a = np.array([0.5, 0.0, -1.0])
    h, cache = query_pool_forward(z, a)
    np.testing.assert_array_equal(h, [0.5 * z[0, 0] + 0.0 * z[0, 1] - 1.0 * z[0, 2] + z[0, 2]])
    dh = np.array([[1.0, 2.0, 3.0, 4.0]])
    dz, da = query_pool_backward(dh, cache)
    np.testing.assert_array_equal(dz[0], [0.5 * dh[0], 0.0 * dh[0], 0.0 * dh[0]])   # a_N + 1 = 0
    np.testing.assert_array_equal(da, [z[0, t] @ dh[0] for t in range(3)])


def test_zero_weights_read_the_last_position_only():
    z = np.random.default_rng(0).standard_normal((2, 5, 3))
    h, _ = query_pool_forward(z, np.zeros(5))
    np.testing.assert_array_equal(h, z[:, -1])


def _models():
    torch, ref, tm, seq, targets = reference_and_torch(query_pool=True)
    ref.params["head.pool"][:] = np.linspace(-0.6, 0.4, 5)
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ref.params.items()})
    return torch, ref, tm, seq, targets


def test_the_pool_is_a_zero_initialized_parameter_and_off_by_default():
    cfg = MMMLPConfig(max_len=4, d_model=4, query_pool=True)
    assert MMMLP(cfg, 9).params["head.pool"].tolist() == [0.0] * 4
    assert "head.pool" not in MMMLP(MMMLPConfig(max_len=4, d_model=4), 9).params
    with pytest.raises(ValueError, match="query_pool"):
        MMMLPConfig(query_pool=1)


def test_model_gradient_check():
    _, ref, _, seq, targets = _models()
    _, grads = ref.loss_and_grads(seq, targets)
    loss_fn = lambda: ref.loss_and_grads(seq, targets)[0]
    for name in ("head.pool", "fusion.blocks.0.token.W1", "fusion.proj.W", "id.embedding"):
        num = numeric_gradient(loss_fn, ref.params[name])
        rows = slice(1, None) if name == "id.embedding" else slice(None)
        assert rel_error(grads[name][rows], num[rows], floor=1e-6) < 1e-7, name
    assert np.all(grads["head.pool"] != 0)


def test_reference_equals_torch():
    assert_reference_equals_torch(*_models())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_cli_trains_the_pool(tmp_path, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    from tiny_mmmlp.model_file import load_model
    from tiny_mmmlp.train import main as train_main
    out = tmp_path / backend
    train_main(["--data", "toyshop-tiny", "--backend", backend, "--query-pool", "--max-len", "6",
                "--d-model", "8", "--epochs", "2", "--batch-size", "64", "--no-progress",
                "--modalities", "id", "--out", str(out)])
    assert json.loads((out / "metrics.json").read_text())["config"]["query_pool"] is True
    pool = load_model(out)[0]["head.pool"]
    assert pool.shape == (6,) and np.any(pool != 0.0)              # it was trained
