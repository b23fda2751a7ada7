"""--ema: the exponential moving average of the weights (tiny_mmmlp.averaging)."""
import json

import numpy as np
import pytest
from small_model import small

from tiny_mmmlp import MMMLPConfig, averaging, data
from tiny_mmmlp.averaging import WeightAverage, with_average
from tiny_mmmlp.backends import make_backend
from tiny_mmmlp.ranking import ranks_of
from tiny_mmmlp.train import main as train_main

CFG = MMMLPConfig(max_len=4, d_model=4, token_hidden=3, channel_hidden=4, n_layers=1, dropout=0.0)
SEQ, TARGETS = np.array([[0, 1, 2, 3], [0, 0, 4, 5], [1, 2, 3, 4]]), np.array([6, 7, 8])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_average_follows_its_recurrence_and_ranking_uses_it(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    inner = make_backend(backend, CFG, 9, {}, 0, 5e-2, 0.0)
    b, d = with_average(inner, 0.6), 0.6
    expect = inner.params()                                  # θ̄ starts at the initial θ
    for _ in range(3):
        b.step(SEQ, TARGETS)
        theta = inner.params()
        expect = {k: d * expect[k] + (1 - d) * theta[k] for k in expect}   # by hand, float64
    got = b.params()
    for k in expect:
        np.testing.assert_allclose(got[k], expect[k], rtol=1e-5, atol=1e-7, err_msg=k)
    assert not np.allclose(got["head.proj.W"], theta["head.proj.W"])      # θ̄ lags θ
    ranks = b.ranks(SEQ, TARGETS)
    assert all(np.array_equal(v, theta[k]) for k, v in inner.params().items())   # θ put back
    reference = make_backend(backend, CFG, 9, {}, 0, 5e-2, 0.0)
    reference.load_params(got)
    np.testing.assert_array_equal(ranks, reference.ranks(SEQ, TARGETS))    # ranked with θ̄


def test_an_evaluation_pass_swaps_the_average_in_once_and_ranks_as_per_batch(monkeypatch):
    """ranks_of puts θ̄ in once for all its batches (not once per batch), ranks exactly as
    batch-by-batch calls of ``ranks`` do, and leaves θ in place afterwards."""
    inner = make_backend("numpy", CFG, 9, {}, 0, 5e-2, 0.0)
    b = with_average(inner, 0.6)
    for _ in range(3):
        b.step(SEQ, TARGETS)
    theta = inner.params()
    histories = [[1, 2, 3], [4, 5], [1, 2, 3, 4], [2], [3, 1], [5, 4, 3]]
    targets = np.array([6, 7, 8, 1, 2, 6])
    per_batch = np.concatenate([b.ranks(seq, tgt) for seq, tgt in
                                data.eval_batches(histories, targets, CFG.max_len, 2)])
    swaps = []
    real = averaging._assign
    monkeypatch.setattr(averaging, "_assign", lambda dst, src: (swaps.append(1), real(dst, src)))
    ranks = ranks_of(b, histories, targets, CFG.max_len, batch_size=2)
    assert len(swaps) == 2                          # θ̄ in and θ back, for three batches
    np.testing.assert_array_equal(ranks, per_batch)
    assert all(np.array_equal(v, theta[k]) for k, v in inner.params().items())
    assert not b.swapped


@pytest.mark.parametrize("warmup, decays", [(10, [0.1, 0.15, 0.15]),     # 1/10, then 2/11 > 0.15
                                      (3, [1 / 3, 0.5, 0.6]),         # 1/3, 2/4, 3/5 < 0.7
                                      (2, [0.5, 2 / 3, 0.7])])        # the plain mean, then d
def test_the_warm_up_decays_by_its_rule_and_resumes_its_step_count(warmup, decays):
    """d_t = min(d, (1 + t) / (K + t)), then d once the rule passes it; the step count travels
    in the state, so a resumed average goes on with the same d_t."""
    inner = make_backend("numpy", CFG, 9, {}, 0, 5e-2, 0.0)
    d = 0.15 if warmup == 10 else 0.7
    b = with_average(inner, d, warmup)
    expect = inner.params()
    for t in range(3):
        d_t = decays[t]
        assert b.decay_now() == pytest.approx(d_t, rel=1e-15)
        b.step(SEQ, TARGETS)
        theta = inner.params()
        expect = {k: d_t * expect[k] + (1 - d_t) * theta[k] for k in expect}
    for k, v in b.params().items():
        np.testing.assert_allclose(v, expect[k], rtol=1e-5, atol=1e-7, err_msg=k)
    fresh = with_average(make_backend("numpy", CFG, 9, {}, 0, 5e-2, 0.0), d, warmup)
    fresh.load_params(b.params())
    fresh.load_state(b.state())
    assert fresh.steps == 3 and fresh.decay_now() == b.decay_now()
    assert with_average(inner, d).decay_now() == d                          # no warm-up: d


def test_decay_zero_is_no_wrapper_and_out_of_range_is_refused():
    inner = make_backend("numpy", CFG, 9, {}, 0, 1e-2, 0.0)
    assert with_average(inner, 0.0) is inner
    for bad in (1.0, -0.5):
        with pytest.raises(ValueError):
            WeightAverage(inner, bad)


SMALL = small("--batch-size", "32", "--modalities", "id,text", "--ema", "0.9", "--patience", "5")


@pytest.mark.parametrize("backend, warmup", [("numpy", []), ("torch", []), ("numpy", ["--ema-warmup", "3"])])
def test_an_averaged_run_resumes_exactly_and_saves_the_average(tmp_path, backend, warmup):
    if backend == "torch":
        pytest.importorskip("torch")
    run = lambda out, *extra: train_main([*SMALL, *warmup, "--backend", backend, "--out", str(out),
                                          *extra])
    read = lambda out: json.loads((out / "metrics.json").read_text())
    run(tmp_path / "a", "--epochs", "3")
    run(tmp_path / "b", "--epochs", "1")
    run(tmp_path / "b", "--epochs", "3", "--resume")
    straight, resumed = read(tmp_path / "a"), read(tmp_path / "b")
    strip = lambda hist: [{k: v for k, v in h.items() if k != "examples_per_s"} for h in hist]
    assert strip(resumed["history"]) == strip(straight["history"])
    assert resumed["test"] == straight["test"] and straight["settings"]["ema"] == 0.9
    train_main([*SMALL, "--backend", backend, "--out", str(tmp_path / "plain"), "--epochs", "3",
                "--ema", "0"])
    assert read(tmp_path / "plain")["history"][-1]["valid"] != straight["history"][-1]["valid"]
    # model.npz holds the weights that were tested: ranking with it gives the test figures
    from tiny_mmmlp import data
    from tiny_mmmlp.ranking import evaluate
    from tiny_mmmlp.recommender import load
    rec = load(tmp_path / "a")
    model, ds = rec.scorer(), rec.dataset()
    split = data.split_leave_one_out(ds)
    numpy_backend = make_backend("numpy", model.cfg, ds.n_items, model.features, 0, 1e-3, 0.0)
    numpy_backend.load_params(model.params)
    test = evaluate(numpy_backend, split.test_history, split.test_target, model.cfg.max_len, 32)
    for k, v in straight["test"].items():
        assert abs(test[k] - v) < 1e-6, k


def test_the_memory_preflight_counts_the_average_and_its_swap():
    """--ema keeps θ̄ and, while ranking, a copy of θ: two more parameter-sized arrays."""
    from tiny_mmmlp import preflight
    V, F = 200, 8
    plain, averaged = (preflight.estimate_bytes(CFG, V, [F], 64, 64, averaged=a) for a in (False, True))
    layers = 2 * CFG.n_layers + CFG.fusion_layers               # id and one feature branch
    params = (V + 1) * CFG.d_model + F * CFG.d_model + layers * (
        2 * CFG.max_len * CFG.token_hidden + 2 * CFG.d_model * CFG.channel_hidden)
    assert averaged - plain == 2 * 4 * params


@pytest.mark.parametrize("flags", [["--ema", "0", "--ema-warmup", "10"], ["--ema", "0.99", "--ema-warmup", "1"],
                                   ["--ema", "0.99", "--ema-warmup"]])
def test_a_bad_warm_up_is_refused_in_one_line(tmp_path, capsys, flags):
    """With --ema 0 (nothing to warm up), K = 1 (d_t = 1: θ̄ would never move) or no K."""
    with pytest.raises(SystemExit) as err:
        train_main(["--data", "toyshop-tiny", *flags, "--out", str(tmp_path / "r")])
    err_text = capsys.readouterr().err
    assert err.value.code == 2 and not (tmp_path / "r").exists()
    assert "--ema-warmup" in err_text and "Traceback" not in err_text and err_text.count("\n") <= 2


def test_the_default_run_averages_with_the_warm_up_and_ema_0_turns_both_off(tmp_path):
    from tiny_mmmlp.model_config import DEFAULT_EMA, DEFAULT_EMA_WARMUP
    small = [f for f in SMALL if f not in ("--ema", "0.9")]
    read = lambda out: json.loads((out / "metrics.json").read_text())["settings"]
    train_main([*small, "--epochs", "1", "--out", str(tmp_path / "default")])
    train_main([*small, "--epochs", "1", "--ema", "0", "--out", str(tmp_path / "off")])
    train_main([*small, "--epochs", "1", "--ema-warmup", "0", "--out", str(tmp_path / "plain")])
    got = {name: (read(tmp_path / name)["ema"], read(tmp_path / name)["ema_warmup"])
           for name in ("default", "off", "plain")}
    assert got == {"default": (DEFAULT_EMA, DEFAULT_EMA_WARMUP), "off": (0.0, 0),
                   "plain": (DEFAULT_EMA, 0)}
    assert DEFAULT_EMA > 0 and DEFAULT_EMA_WARMUP >= 2
