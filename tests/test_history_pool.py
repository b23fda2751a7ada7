"""The history pool (--history-pool): q = Σ_t a_t E[x_t], a learned weighted sum of the history
items' own embeddings added to the query. Hand-computed forward and backward, a float64
gradient check in the NumPy model with the full and the sampled softmax, agreement with torch,
and a run through the CLI."""
import json

import numpy as np
import pytest
from model_pairs import assert_reference_equals_torch, reference_and_torch

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error
from tiny_mmmlp.reference.layers import history_pool_backward, history_pool_forward


def test_history_pool_hand_computed():
    table = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])   # V = 3, row 0 padding
    seq = np.array([[0, 1, 2], [2, 2, 3]])
    a = np.array([0.5, -1.0, 2.0])
    q, cache = history_pool_forward(table, seq, a)
    np.testing.assert_array_equal(q, [-1.0 * table[1] + 2.0 * table[2],
                                      0.5 * table[2] - 1.0 * table[2] + 2.0 * table[3]])
    dq = np.array([[1.0, 0.0], [0.0, 1.0]])
    dtable, da = history_pool_backward(dq, cache)
    np.testing.assert_array_equal(dtable, [[0, 0], [-1.0, 0], [2.0, -0.5], [0, 2.0]])   # item 2 twice in row 1
    np.testing.assert_array_equal(da, [0.0 + (-1.0), 1.0 + (-1.0), 3.0 + 0.5])


def _models(**kw):
    torch, ref, tm, seq, targets = reference_and_torch(history_pool=True, **kw)
    seq[0, :2] = 0                                     # padding at the front of one row
    ref.params["head.history_pool"][:] = np.linspace(-0.6, 0.4, 5)
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ref.params.items()})
    return torch, ref, tm, seq, targets


def test_the_pool_is_a_zero_initialized_parameter():
    assert MMMLP(MMMLPConfig(max_len=4, d_model=4), 9).params["head.history_pool"].tolist() == [0.0] * 4
    assert "head.history_pool" not in MMMLP(MMMLPConfig(max_len=4, d_model=4, history_pool=False), 9).params
    with pytest.raises(ValueError, match="history_pool"):
        MMMLPConfig(history_pool=1)


@pytest.mark.parametrize("negatives", [0, 4])
def test_model_gradient_check(negatives):
    _, ref, _, seq, targets = _models(negatives=negatives)
    dropout_seed = 3                                   # the same negatives in every evaluation
    _, grads = ref.loss_and_grads(seq, targets, dropout_seed=dropout_seed)
    loss_fn = lambda: ref.loss_and_grads(seq, targets, dropout_seed=dropout_seed)[0]
    for name in ("head.history_pool", "head.proj.W", "fusion.proj.W", "id.embedding"):
        num = numeric_gradient(loss_fn, ref.params[name])
        rows = slice(1, None) if name == "id.embedding" else slice(None)
        assert rel_error(grads[name][rows], num[rows], floor=1e-6) < 1e-7, name
    assert np.all(grads["head.history_pool"] != 0) and np.all(grads["id.embedding"][0] == 0)


def test_reference_equals_torch():
    assert_reference_equals_torch(*_models())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_cli_trains_the_pool(tmp_path, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    from tiny_mmmlp.model_file import load_model
    from tiny_mmmlp.train import main as train_main
    out = tmp_path / backend
    train_main(["--data", "toyshop-tiny", "--backend", backend, "--history-pool", "--max-len", "6",
                "--d-model", "8", "--epochs", "2", "--batch-size", "64", "--no-progress",
                "--modalities", "id", "--out", str(out)])
    assert json.loads((out / "metrics.json").read_text())["config"]["history_pool"] is True
    pool = load_model(out)[0]["head.history_pool"]
    assert pool.shape == (6,) and np.any(pool != 0.0)              # it was trained


def test_on_for_mmmlp_by_default_and_a_part_the_baselines_do_not_have(capsys):
    from tiny_mmmlp.run_config import RunConfig
    from tiny_mmmlp.train import main as train_main
    assert MMMLPConfig().history_pool is True
    assert RunConfig.resolve({}).model_config(["id"]).history_pool is True
    assert RunConfig.resolve({"model": "sasrec"}).history_pool is False
    assert RunConfig.resolve({"model": "gru4rec", "history_pool": False}).history_pool is False
    with pytest.raises(SystemExit) as exit:
        train_main(["--data", "toyshop-tiny", "--model", "sasrec", "--history-pool"])
    assert exit.value.code == 2
    assert "--history-pool: --model sasrec has no such part" in capsys.readouterr().err
