"""The learned history bias (--history-bias): one scalar β added to the score of every item
already in the input sequence. Hand-computed forward and backward, a float64 gradient
check in the NumPy model, agreement with torch, and every model through the CLI."""
import json

import numpy as np
import pytest
from model_pairs import assert_reference_equals_torch, reference_and_torch

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error
from tiny_mmmlp.reference.layers import history_bias_backward, history_bias_forward


def test_history_bias_hand_computed():
    # V = 5; row 0 read items 2, 2, 4 (2 twice: β once), row 1 only padding
    scores = np.zeros((2, 6))
    seq = np.array([[0, 2, 2, 4], [0, 0, 0, 0]])
    out, hist = history_bias_forward(scores, seq, np.array([-1.5]))
    np.testing.assert_array_equal(out, [[0, 0, -1.5, 0, -1.5, 0], [0, 0, 0, 0, 0, 0]])
    dscores = np.arange(12.0).reshape(2, 6)
    assert history_bias_backward(dscores, hist).tolist() == [2.0 + 4.0]   # dβ = d[0, 2] + d[0, 4]


def _models(beta=-0.7, **kw):
    torch, ref, tm, seq, targets = reference_and_torch(history_bias=True, **kw)
    targets[0] = seq[0, -1]                    # one target inside its history: both signs of dβ
    ref.params["head.history_bias"][:] = beta
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ref.params.items()})
    return torch, ref, tm, seq, targets


def test_history_bias_is_a_zero_initialized_parameter_under_the_shared_name():
    ref = MMMLP(MMMLPConfig(max_len=4, d_model=4), 9)                # on by default
    assert ref.params["head.history_bias"].tolist() == [0.0]
    assert "head.history_bias" not in MMMLP(MMMLPConfig(max_len=4, d_model=4, history_bias=False), 9).params
    with pytest.raises(ValueError, match="history_bias"):
        MMMLPConfig(history_bias="yes")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_model_gradient_check(label_smoothing):
    _, ref, _, seq, targets = _models(label_smoothing=label_smoothing)
    _, grads = ref.loss_and_grads(seq, targets)
    loss_fn = lambda: ref.loss_and_grads(seq, targets)[0]
    for name in ("head.history_bias", "head.proj.W", "id.embedding"):
        num = numeric_gradient(loss_fn, ref.params[name])
        rows = slice(1, None) if name == "id.embedding" else slice(None)
        assert rel_error(grads[name][rows], num[rows], floor=1e-6) < 1e-7, name
    assert grads["head.history_bias"][0] != 0


def test_scores_shift_exactly_the_history_items():
    _, ref, _, seq, _ = _models(beta=0.0)
    base = ref.scores(seq)
    ref.params["head.history_bias"][:] = -2.0
    shifted = ref.scores(seq)
    hist = np.zeros_like(base, bool)
    for b, row in enumerate(seq):
        hist[b, row[row > 0]] = True
    np.testing.assert_allclose(shifted[hist], base[hist] - 2.0)
    np.testing.assert_array_equal(shifted[~hist], base[~hist])


def test_reference_equals_torch():
    assert_reference_equals_torch(*_models())


@pytest.mark.parametrize("model,backend", [("mmmlp", "numpy"), ("mmmlp", "torch"),
                                           ("sasrec", "torch"), ("gru4rec", "torch")])
def test_every_model_learns_it_through_the_cli(tmp_path, model, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    from tiny_mmmlp.model_file import load_model
    from tiny_mmmlp.train import main as train_main
    out = tmp_path / model
    train_main(["--data", "toyshop-tiny", "--model", model, "--backend", backend,
                "--max-len", "6", "--d-model", "8", "--epochs", "2", "--batch-size", "64",
                "--no-progress", "--modalities", "id", "--out", str(out)])   # the bias by default
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["history_bias"] is True
    params = load_model(out)[0]
    beta = [v for k, v in params.items() if k.endswith("history_bias")]
    assert len(beta) == 1 and beta[0].shape == (1,) and beta[0][0] != 0.0   # it was trained
