"""Training settings beyond the paper's: label smoothing, sampled softmax, learning-rate schedule.

Each new loss has a float64 gradient check of its hand-written backward, and agrees with
the torch backend of the same name; the schedule is checked against hand-computed values.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_pairs import assert_reference_equals_torch
from model_pairs import reference_and_torch as _pair

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.model_config import DEFAULT_LABEL_SMOOTHING
from tiny_mmmlp.reference import losses
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error
from tiny_mmmlp.reference.layers import softmax_cross_entropy_forward


def _scores(seed, B, V):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((B, V + 1))
    return scores, rng.integers(1, V + 1, size=B), rng


@settings(max_examples=10, deadline=None)
@given(B=st.integers(1, 4), V=st.integers(1, 7), eps=st.sampled_from([0.0, 0.1, 0.5]),
       seed=st.integers(0, 1000))
def test_smoothed_cross_entropy_gradient_check(B, V, eps, seed):
    scores, targets, _ = _scores(seed, B, V)
    _, cache = losses.smoothed_cross_entropy_forward(scores, targets, eps)
    d = losses.smoothed_cross_entropy_backward(1.0, cache)
    num = numeric_gradient(lambda: losses.smoothed_cross_entropy_forward(scores, targets, eps)[0], scores)
    assert np.all(d[:, 0] == 0) and rel_error(d, num) < 1e-7
    if eps == 0.0:                                   # no smoothing: the default loss exactly
        assert losses.smoothed_cross_entropy_forward(scores, targets, 0.0)[0] == pytest.approx(
            softmax_cross_entropy_forward(scores, targets)[0], rel=1e-12)


def test_smoothed_cross_entropy_hand_computed():
    # V = 2, equal scores: p = (1/2, 1/2); q = (1 - eps + eps/2, eps/2): L = log 2 for any eps
    scores = np.array([[0.0, 3.0, 3.0]])
    assert losses.smoothed_cross_entropy_forward(scores, np.array([1]), 0.3)[0] == pytest.approx(np.log(2))
    # scores (0, log 3): p = (1/4, 3/4), target 1, eps 0.2: L = -(0.9 log 1/4 + 0.1 log 3/4)
    scores = np.array([[0.0, 0.0, np.log(3.0)]])
    want = -(0.9 * np.log(0.25) + 0.1 * np.log(0.75))
    assert losses.smoothed_cross_entropy_forward(scores, np.array([1]), 0.2)[0] == pytest.approx(want)


@settings(max_examples=10, deadline=None)
@given(B=st.integers(1, 4), V=st.integers(2, 9), K=st.integers(1, 9), seed=st.integers(0, 1000))
def test_sampled_softmax_gradient_check(B, V, K, seed):
    scores, targets, rng = _scores(seed, B, V)
    neg = losses.sample_negatives(rng, V, K)
    assert len(set(neg)) == len(neg) == min(K, V) and neg.min() >= 1 and neg.max() <= V
    _, cache = losses.sampled_softmax_forward(scores, targets, neg)
    d = losses.sampled_softmax_backward(1.0, cache)
    num = numeric_gradient(lambda: losses.sampled_softmax_forward(scores, targets, neg)[0], scores)
    assert rel_error(d, num) < 1e-7
    untouched = np.ones(V + 1, bool)
    untouched[neg] = False
    for b, t in enumerate(targets):                 # only the target and negatives get a gradient
        cols = untouched.copy()
        cols[t] = False
        assert np.all(d[b, cols] == 0)


def test_sampled_softmax_over_every_item_is_the_full_softmax():
    scores, targets, _ = _scores(3, 5, 8)
    every = np.arange(1, 9)                          # the target among them is left out of its row
    assert losses.sampled_softmax_forward(scores, targets, every)[0] == pytest.approx(
        softmax_cross_entropy_forward(scores, targets)[0], rel=1e-12)


def test_label_smoothing_reference_equals_torch():
    assert_reference_equals_torch(*_pair(label_smoothing=0.2))


def test_sampled_softmax_with_every_item_equals_full_softmax_in_both_backends():
    torch, ref, tm, seq, targets = _pair(negatives=50)              # K >= V: every item sampled
    _, ref_full, tm_full, _, _ = _pair(label_smoothing=0.0)         # the plain full softmax
    assert ref.loss_and_grads(seq, targets)[0] == pytest.approx(ref_full.loss_and_grads(seq, targets)[0])
    t = lambda m: m.loss(torch.from_numpy(seq), torch.from_numpy(targets)).item()
    assert t(tm) == pytest.approx(t(tm_full)) == pytest.approx(ref_full.loss_and_grads(seq, targets)[0])


def test_sampled_softmax_model_gradient_check():
    _, ref, _, seq, targets = _pair(negatives=4)
    loss_fn = lambda: ref.loss_and_grads(seq, targets, dropout_seed=7)[0]   # same negatives
    _, grads = ref.loss_and_grads(seq, targets, dropout_seed=7)
    for name in ("head.proj.W", "id.embedding", "head.cand.text.W"):
        num = numeric_gradient(loss_fn, ref.params[name])
        rows = slice(1, None) if name == "id.embedding" else slice(None)   # padding row: by design 0
        assert rel_error(grads[name][rows], num[rows], floor=1e-3) < 1e-6, name


@pytest.mark.parametrize("negatives", [3, 4, 9, 50])
def test_sampled_head_equals_the_full_scores_path(negatives):
    # training with negatives scores only the sampled columns; the full (B, V + 1) scores and
    # the dense sampled loss give the same loss and gradients (history bias and text included)
    from tiny_mmmlp.reference.workspace import FRESH, Workspace
    _, ref, _, seq, targets = _pair(negatives=negatives)
    loss, grads = ref.loss_and_grads(seq, targets, dropout_seed=7)
    rng = np.random.default_rng(7)
    scores, cache = ref._forward(seq, rng, FRESH)
    want_loss, dscores = ref._loss(scores, targets, rng, FRESH)
    want = ref._backward(dscores, cache, FRESH)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    assert grads.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-9, atol=1e-13, err_msg=name)
    assert grads["head.history_bias"][0] != 0         # some sampled column is in some history
    ws = Workspace()
    ref.loss_and_grads(seq, targets, dropout_seed=7, ws=ws)
    assert not [k for k in ws.buffers if k.endswith(("scores", "hist"))]    # no (B, V + 1) array


@pytest.mark.parametrize("negatives", [3, 9, 50])
def test_torch_sampled_loss_equals_the_full_scores_path(negatives, monkeypatch):
    # the torch model also scores only the sampled columns; same negatives (same generator
    # state), same loss and gradients as gathering them from the full (B, V + 1) scores
    from tiny_mmmlp.torch_model import next_item_loss
    torch, _, tm, seq, targets = _pair(negatives=negatives)
    seq, targets = torch.from_numpy(seq), torch.from_numpy(targets)
    got = {}
    for name, loss_fn in (("sampled", lambda: tm.loss(seq, targets)),
                          ("full", lambda: next_item_loss(tm(seq), targets, tm.cfg))):
        torch.manual_seed(5)
        tm.zero_grad()
        loss = loss_fn()
        loss.backward()
        got[name] = (loss.item(), {k: p.grad.clone() for k, p in tm.named_parameters() if p.grad is not None})
    assert got["sampled"][0] == pytest.approx(got["full"][0], rel=1e-12)
    assert got["sampled"][1].keys() == got["full"][1].keys()
    for k, g in got["full"][1].items():
        torch.testing.assert_close(got["sampled"][1][k], g, rtol=1e-9, atol=1e-13)
    assert got["full"][1]["head.history_bias"].abs().item() > 0
    monkeypatch.setattr(tm, "forward", lambda *a: pytest.fail("the sampled loss built the full scores"))
    tm.loss(seq, targets)


@pytest.mark.parametrize("kw", [{"label_smoothing": 1.0}, {"label_smoothing": -0.1},
                                {"negatives": -1}, {"negatives": 8, "label_smoothing": 0.1}])
def test_bad_loss_settings_are_rejected(kw):
    with pytest.raises(ValueError, match="MMMLPConfig"):
        MMMLPConfig(**kw)


def test_schedule_hand_computed():
    from tiny_mmmlp.schedule import lr_at
    # 10 steps, 2 of warm-up: 0.5, 1.0, then cosine over the 8 remaining steps
    lrs = [lr_at(s, 10, 1.0, 2, "cosine") for s in range(10)]
    assert lrs[:3] == [0.5, 1.0, 1.0]
    assert lrs[6] == pytest.approx(0.5)                       # halfway: (6 − 2) / 8 = 1/2
    assert lrs[9] == pytest.approx(0.5 * (1 + np.cos(np.pi * 7 / 8)))
    assert [lr_at(s, 10, 2.0, 4) for s in (0, 3, 4, 9)] == [0.5, 2.0, 2.0, 2.0]
    assert lr_at(50, 10, 1.0, 0, "cosine") == pytest.approx(0.0)   # past the end: stays at 0
    with pytest.raises(ValueError, match="schedule"):
        lr_at(0, 10, 1.0, 0, "linear")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_backends_step_with_the_scheduled_learning_rate(backend):
    # lr 0 on the first step (warm-up of a 1-step schedule is lr·1/W): a zero learning rate
    # leaves the parameters unchanged, the same lr the next step moves them
    if backend == "torch":
        pytest.importorskip("torch")
    from tiny_mmmlp.backends import make_backend
    cfg = MMMLPConfig(max_len=4, d_model=4, token_hidden=3, channel_hidden=4, n_layers=1, dropout=0.0)
    b = make_backend(backend, cfg, 9, {}, 0, 1e-2, 0.0)
    seq, targets = np.array([[0, 1, 2, 3], [0, 0, 4, 5]]), np.array([6, 7])
    before = b.params()
    b.set_lr(0.0)
    b.step(seq, targets)
    assert all(np.array_equal(before[k], v) for k, v in b.params().items())
    b.set_lr(1e-2)
    b.step(seq, targets)
    assert not np.array_equal(before["head.proj.W"], b.params()["head.proj.W"])


def test_train_cli_takes_the_new_levers(tmp_path):
    import json

    from tiny_mmmlp.train import main as train_main
    flags = ["--data", "toyshop-tiny", "--max-len", "6", "--d-model", "8", "--token-hidden", "4",
             "--channel-hidden", "8", "--n-layers", "1", "--batch-size", "64", "--no-progress",
             "--modalities", "id", "--epochs", "2", "--backend", "torch"]
    pytest.importorskip("torch")
    train_main([*flags, "--out", str(tmp_path / "a"), "--label-smoothing", "0.1",
                "--schedule", "cosine", "--warmup-epochs", "0.5"])
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["config"]["label_smoothing"] == 0.1 and m["settings"]["schedule"] == "cosine"
    train_main([*flags, "--out", str(tmp_path / "b"), "--negatives", "16"])   # unsmoothed by default
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert (m["config"]["negatives"], m["config"]["label_smoothing"], m["settings"]["label_smoothing"]) == (16, 0.0, 0.0)
    train_main([*flags, "--out", str(tmp_path / "d")])          # the default: smoothed, saved as such
    m = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert m["config"]["label_smoothing"] == m["settings"]["label_smoothing"] == DEFAULT_LABEL_SMOOTHING
    with pytest.raises(SystemExit) as err:
        train_main([*flags, "--out", str(tmp_path / "c"), "--negatives", "8", "--label-smoothing", "0.1"])
    assert err.value.code == 2


def test_the_loss_follows_the_catalogue():
    # negatives not given: the full softmax (smoothed) up to SAMPLED_ABOVE items, sampled above;
    # --negatives 0 forces the full softmax, a given smoothing keeps it, a given K stays
    from tiny_mmmlp.run_config import SAMPLED_ABOVE, SAMPLED_NEGATIVES, RunConfig
    loss = lambda given, items: (lambda c: (c.negatives, c.label_smoothing))(RunConfig.resolve(given).for_data(items, 1000))
    assert loss({}, SAMPLED_ABOVE) == (0, DEFAULT_LABEL_SMOOTHING)
    assert loss({}, SAMPLED_ABOVE + 1) == (SAMPLED_NEGATIVES, 0.0)
    assert loss({"negatives": 0}, 10**6) == (0, DEFAULT_LABEL_SMOOTHING)
    assert loss({"label_smoothing": 0.1}, 10**6) == (0, 0.1)
    assert loss({"negatives": 32}, 50) == (32, 0.0)


def test_mmmlps_dropout_follows_the_training_sets_size_where_not_given():
    # the rule chosen on validation: 0.6 on small sets, 0.4 on large ones, a line in log10 of
    # the size between its two ends, in steps of 0.05, never rising with the size
    from tiny_mmmlp.model_config import DROPOUT_LINE, dropout_for
    from tiny_mmmlp.run_config import RunConfig
    (small, high), (large, low) = DROPOUT_LINE
    assert [dropout_for(n) for n in (small, large)] == [high, low] == [0.6, 0.4]
    assert dropout_for(34_058) == 0.6 and dropout_for(84_890) == dropout_for(131_413) == 0.4   # the sets
    assert dropout_for(round((small * large) ** 0.5)) == 0.5                # halfway in log10
    sizes = [0, 1, 100, 20_000, 40_000, 50_000, 60_000, 70_000, 100_000, 10**6, 10**9]
    rates = [dropout_for(n) for n in sizes]
    assert rates == sorted(rates, reverse=True) and rates[0] == high and rates[-1] == low
    assert all(round(r * 20, 9) == round(r * 20) for r in rates)            # steps of 0.05
    dropout = lambda given, n: RunConfig.resolve(given).for_data(100, n).dropout   # noqa: E731
    assert dropout({}, 34_058) == 0.6 and dropout({}, 131_413) == 0.4
    assert dropout({"dropout": 0.1}, 34_058) == 0.1 and dropout({"dropout": 0.0}, 131_413) == 0.0
    assert dropout({"model": "sasrec"}, 34_058) == 0.5 and dropout({"model": "gru4rec"}, 10) == 0.3


def test_a_default_dropout_is_said_first_saved_and_resumed(tmp_path, capsys):
    import json

    from tiny_mmmlp.train import main as train_main
    flags = ["--data", "toyshop-tiny", "--max-len", "6", "--d-model", "8", "--token-hidden", "4",
             "--channel-hidden", "8", "--n-layers", "1", "--batch-size", "64", "--no-progress",
             "--modalities", "id", "--epochs", "1"]
    train_main([*flags, "--out", str(tmp_path / "a")])
    first = capsys.readouterr().out.splitlines()[0]
    assert "672 training examples; dropout 0.6, by the training set's size" in first
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["settings"]["dropout"] == m["config"]["dropout"] == 0.6
    train_main([*flags[:-1], "2", "--out", str(tmp_path / "a"), "--resume"])     # the saved rate is today's
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["epochs"] == 2
    capsys.readouterr()
    train_main([*flags, "--out", str(tmp_path / "b"), "--dropout", "0.2"])
    assert capsys.readouterr().out.splitlines()[0].endswith("672 training examples")   # given: nothing to say
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]["dropout"] == 0.2


def test_a_large_catalogue_trains_sampled_and_says_so_first(tmp_path, monkeypatch, capsys):
    import json

    import tiny_mmmlp.run_config as run_config
    import tiny_mmmlp.train as train
    monkeypatch.setattr(run_config, "SAMPLED_ABOVE", 10)             # toyshop-tiny counts as large
    monkeypatch.setattr(train, "SAMPLED_ABOVE", 10)
    monkeypatch.setattr(run_config, "SAMPLED_NEGATIVES", 8)
    flags = ["--data", "toyshop-tiny", "--max-len", "6", "--d-model", "8", "--token-hidden", "4",
             "--channel-hidden", "8", "--n-layers", "1", "--batch-size", "64", "--no-progress",
             "--modalities", "id", "--epochs", "1"]
    train.main([*flags, "--out", str(tmp_path / "a")])
    first = capsys.readouterr().out.splitlines()[0]
    assert "sampled softmax over 8 negatives" in first and "--negatives 0" in first
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert (m["config"]["negatives"], m["settings"]["negatives"], m["settings"]["label_smoothing"]) == (8, 8, 0.0)
    train.main([*flags, "--out", str(tmp_path / "b"), "--negatives", "0"])
    assert "sampled" not in capsys.readouterr().out.splitlines()[0]
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]["negatives"] == 0
