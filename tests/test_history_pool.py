"""The history pool (--history-pool): q = Σ_t a_t C[x_t], a learned weighted sum of the history
items' own candidate vectors added to the query (C = E, or E + Σ_m F_m P_mᵀ with
--pool-features). Hand-computed forward and backward, the features' terms against pooling the
built candidate table, a float64 gradient check in the NumPy model with the full and the
sampled softmax, agreement with torch, and runs through the CLI."""
import json

import numpy as np
import pytest
from model_pairs import assert_reference_equals_torch, reference_and_torch

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error
from tiny_mmmlp.reference.layers import (
    candidates_backward,
    candidates_forward,
    embedding_backward,
    embedding_forward,
    history_pool_backward,
    history_pool_forward,
)


def test_history_pool_hand_computed():
    table = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])   # V = 3, row 0 padding
    seq = np.array([[0, 1, 2], [2, 2, 3]])
    a = np.array([0.5, -1.0, 2.0])
    q, cache = history_pool_forward(table, seq, a)
    np.testing.assert_array_equal(q, [-1.0 * table[1] + 2.0 * table[2],
                                      0.5 * table[2] - 1.0 * table[2] + 2.0 * table[3]])
    dq = np.array([[1.0, 0.0], [0.0, 1.0]])
    dtable, da, dprojs = history_pool_backward(dq, cache)
    assert dprojs == []
    np.testing.assert_array_equal(dtable, [[0, 0], [-1.0, 0], [2.0, -0.5], [0, 2.0]])   # item 2 twice in row 1
    np.testing.assert_array_equal(da, [0.0 + (-1.0), 1.0 + (-1.0), 3.0 + 0.5])


def test_pooling_the_features_equals_pooling_the_candidate_vectors():
    """Σ_t a_t (E + F Pᵀ)[x_t], summed term by term, against gathering rows of the built
    C = E + F Pᵀ; the backward against embedding_backward into C, then C's own backward."""
    rng = np.random.default_rng(1)
    table, feats = rng.standard_normal((6, 3)), [rng.standard_normal((6, 4)), rng.standard_normal((6, 2))]
    table[0], feats[0][0], feats[1][0] = 0.0, 0.0, 0.0             # row 0: padding
    projs = [rng.standard_normal((3, 4)), rng.standard_normal((3, 2))]
    seq, a = np.array([[0, 1, 5, 5], [2, 3, 4, 1]]), rng.standard_normal(4)
    q, cache = history_pool_forward(table, seq, a, feats, projs)
    cand, c_cand = candidates_forward(table, feats, projs)         # (V + 1, D)
    rows, c_rows = embedding_forward(seq, cand)                    # (B, N, D)
    np.testing.assert_allclose(q, a @ rows, rtol=1e-12)
    dq = rng.standard_normal(q.shape)
    dtable, da, dprojs = history_pool_backward(dq, cache)
    want_table, want_projs = candidates_backward(embedding_backward(a[None, :, None] * dq[:, None, :], c_rows),
                                                 c_cand)
    np.testing.assert_allclose(dtable, want_table, rtol=1e-12)
    for got, want in zip(dprojs, want_projs):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(da, np.einsum("bd,bnd->n", dq, rows), rtol=1e-12)


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


@pytest.mark.parametrize("negatives, pool_features", [(0, True), (4, True), (0, False)])
def test_model_gradient_check(negatives, pool_features):
    _, ref, _, seq, targets = _models(negatives=negatives, pool_features=pool_features)
    dropout_seed = 3                                   # the same negatives in every evaluation
    _, grads = ref.loss_and_grads(seq, targets, dropout_seed=dropout_seed)
    loss_fn = lambda: ref.loss_and_grads(seq, targets, dropout_seed=dropout_seed)[0]
    for name in ("head.history_pool", "head.cand.text.W", "head.proj.W", "fusion.proj.W", "id.embedding"):
        num = numeric_gradient(loss_fn, ref.params[name])
        rows = slice(1, None) if name == "id.embedding" else slice(None)
        assert rel_error(grads[name][rows], num[rows], floor=1e-6) < 1e-7, name
    assert np.all(grads["head.history_pool"] != 0) and np.all(grads["id.embedding"][0] == 0)


@pytest.mark.parametrize("pool_features", [True, False])
def test_reference_equals_torch(pool_features):
    assert_reference_equals_torch(*_models(pool_features=pool_features))


def test_the_features_change_the_pool_and_only_with_features():
    _, ref, _, seq, _ = _models()
    off = MMMLP(ref.cfg.__class__(**{**ref.cfg.to_dict(), "pool_features": False}), 9, ref.features, seed=2,
                dtype=np.float64)
    off.params.update({k: v.copy() for k, v in ref.params.items()})
    assert np.abs(ref.scores(seq)[:, 1:] - off.scores(seq)[:, 1:]).max() > 1e-3
    ids = dict(max_len=4, d_model=4, token_hidden=3, channel_hidden=5, n_layers=1)
    with_f, without = (MMMLP(MMMLPConfig(pool_features=f, **ids), 9, seed=0) for f in (True, False))
    without.params.update({k: v.copy() for k, v in with_f.params.items()})
    without.params["head.history_pool"][:] = with_f.params["head.history_pool"][:] = 0.5
    seq = np.array([[0, 3, 1, 2]])
    np.testing.assert_array_equal(with_f.scores(seq), without.scores(seq))   # IDs alone: C = E


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
    assert MMMLPConfig().history_pool is True and MMMLPConfig().pool_features is True
    assert RunConfig.resolve({}).model_config(["id"]).history_pool is True
    assert RunConfig.resolve({}).model_config(["id"]).pool_features is True
    assert RunConfig.resolve({"model": "sasrec"}).history_pool is False
    assert RunConfig.resolve({"model": "sasrec"}).pool_features is False
    assert MMMLPConfig.from_dict({"history_pool": True}).pool_features is False   # saved before it existed
    assert RunConfig.resolve({"model": "gru4rec", "history_pool": False}).history_pool is False
    with pytest.raises(SystemExit) as exit:
        train_main(["--data", "toyshop-tiny", "--model", "sasrec", "--history-pool"])
    assert exit.value.code == 2
    assert "--history-pool: --model sasrec has no such part" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        train_main(["--data", "toyshop-tiny", "--model", "gru4rec", "--pool-features"])
    assert exit.value.code == 2
    assert "--pool-features: --model gru4rec has no such part" in capsys.readouterr().err


def test_the_cli_pools_the_features(tmp_path):
    from tiny_mmmlp.train import main as train_main
    for flag in ("--pool-features", "--no-pool-features"):
        train_main(["--data", "toyshop-tiny", "--max-len", "6", "--d-model", "8", "--epochs", "1",
                    "--batch-size", "64", "--no-progress", "--out", str(tmp_path / flag), flag])
    got = [json.loads((tmp_path / f / "metrics.json").read_text()) for f in ("--pool-features", "--no-pool-features")]
    assert [g["config"]["pool_features"] for g in got] == [True, False]
    assert got[0]["modalities"] != ["id"] and got[0]["valid"] != got[1]["valid"]
