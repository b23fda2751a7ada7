"""Ranking metrics against hand-computed cases (metrics.py's protocol: ties count against the target)."""
import numpy as np
import pytest

from tiny_mmmlp.metrics import METRIC_NAMES, metrics_from_ranks, target_ranks
from tiny_mmmlp.ranking import popularity_metrics


def test_all_equal_scores_score_zero_not_one():
    scores = np.zeros((3, 31))                       # 30 items, all tied
    ranks = target_ranks(scores, np.array([1, 15, 30]))
    assert list(ranks) == [29, 29, 29]
    m = metrics_from_ranks(ranks)
    assert all(m[name] == 0.0 for name in METRIC_NAMES)


def test_padding_column_is_never_ranked():
    scores = np.array([[100.0, 1.0, 2.0, 3.0]])      # column 0 is huge but ignored
    assert list(target_ranks(scores, np.array([3]))) == [0]


def test_hand_computed_case():
    # user 0: target item 2 scores 0.9, one item higher (0.95), one tie (0.9): rank 2
    # user 1: target is the best: rank 0; user 2: rank 12 (outside the top 10, inside the top 20)
    s0 = [0, 0.1, 0.9, 0.95, 0.9] + [0.0] * 20
    s1 = [0, 5.0] + [1.0] * 23
    s2 = [0, 0.0] + list(np.linspace(2, 1, 12)) + [-1.0] * 11
    scores = np.array([s0, s1, s2])
    ranks = target_ranks(scores, np.array([2, 1, 1]))
    assert list(ranks) == [2, 0, 12]
    m = metrics_from_ranks(ranks)
    assert m["HR@10"] == pytest.approx(2 / 3)
    assert m["HR@20"] == pytest.approx(1.0)
    assert m["NDCG@10"] == pytest.approx((1 / np.log2(4) + 1) / 3)
    assert m["NDCG@20"] == pytest.approx((1 / np.log2(4) + 1 + 1 / np.log2(14)) / 3)
    assert m["MRR@10"] == pytest.approx((1 / 3 + 1) / 3)
    assert m["MRR@20"] == pytest.approx((1 / 3 + 1 + 1 / 13) / 3)


def test_popularity_baseline_counts_ties_against_the_target():
    train = [np.array([1, 1, 2]), np.array([1, 3])]  # counts: item1 3, item2 1, item3 1, item4 0
    m = popularity_metrics(train, 4, np.array([1, 2, 4]))
    # ranks: item1 -> 0; item2 ties item3 -> 2; item4 ties nothing above it... 3 items higher -> 3
    assert m["MRR@10"] == pytest.approx((1 + 1 / 3 + 1 / 4) / 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_target_score_ranks_last(bad):
    scores = np.array([[0, 1.0, bad, 0.5, 0.2]])
    assert list(target_ranks(scores, np.array([2]))) == [3]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_elsewhere_ranks_the_target_last_but_minus_inf_is_a_mask(bad):
    scores = np.array([[0, 1.0, 0.5, bad, 0.2]])
    assert list(target_ranks(scores, np.array([1]))) == [3]
    masked = np.array([[0, 0.1, 0.5, -np.inf, 0.2]])
    assert list(target_ranks(masked, np.array([1]))) == [2]
    m = metrics_from_ranks(target_ranks(np.full((4, 31), np.nan), np.array([1, 2, 3, 4])))
    assert all(np.isfinite(v) and v == 0.0 for v in m.values())


def test_torch_ranks_through_the_same_rule():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(16, 9)).astype(np.float32)    # many ties
    scores[3, 4], scores[5, 2], scores[7, 1] = np.nan, np.inf, -np.inf
    targets = rng.integers(1, 9, size=16)
    expect = target_ranks(scores, targets)
    got = target_ranks(torch.from_numpy(scores), torch.from_numpy(targets))
    assert got.dtype == torch.int64 and list(got.numpy()) == list(expect)


# --mask-history: the other protocol (history items leave the ranking, the target stays)
from tiny_mmmlp.metrics import mask_history  # noqa: E402


def test_mask_history_hand_computed():
    # 6 items. user 0: target 2 (score 0.5); items 1, 3 and 4 score higher, but 1 and 4 are in
    # the history: unmasked rank 3, masked rank 1 (only item 3 is above it).
    # user 1: the target 5 is itself in the history (a repeat) and must stay rankable: items
    # 1 and 6 score higher, item 6 is in the history -> unmasked rank 2, masked rank 1.
    # user 2: a history item ties the target: unmasked the tie counts against it (rank 1),
    # masked it is gone (rank 0).
    scores = np.array([[-np.inf, 0.9, 0.5, 0.8, 0.7, 0.1, 0.0],
                       [-np.inf, 0.9, 0.1, 0.2, 0.3, 0.4, 0.8],
                       [-np.inf, 0.1, 0.2, 0.3, 0.4, 0.6, 0.6]])
    history = np.array([[0, 1, 4],      # left-padded with 0
                        [5, 6, 5],
                        [0, 0, 6]])
    targets = np.array([2, 5, 5])
    assert list(target_ranks(scores, targets)) == [3, 2, 1]
    masked = mask_history(scores, history, targets)
    assert list(target_ranks(masked, targets)) == [1, 1, 0]
    assert masked[0, 1] == -np.inf and masked[0, 4] == -np.inf and masked[1, 5] == 0.4
    assert scores[0, 1] == 0.9                                      # the input is not changed
    m = metrics_from_ranks(target_ranks(masked, targets))
    assert m["NDCG@10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(3) + 1) / 3)


def test_mask_history_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, size=(8, 11)).astype(np.float32)
    history = rng.integers(0, 11, size=(8, 5))
    targets = rng.integers(1, 11, size=8)
    expect = target_ranks(mask_history(scores, history, targets), targets)
    got = mask_history(torch.from_numpy(scores), torch.from_numpy(history), torch.from_numpy(targets))
    assert list(target_ranks(got.numpy(), targets)) == list(expect)


def test_popularity_under_mask_history():
    train = [np.array([1, 1, 1, 2, 2, 3])]                          # counts: 1 -> 3, 2 -> 2, 3 -> 1
    m = popularity_metrics(train, 4, np.array([3]), histories=[[1, 2]])
    assert m["MRR@10"] == 1.0                                       # items 1 and 2 masked: rank 0
    assert popularity_metrics(train, 4, np.array([3]))["MRR@10"] == pytest.approx(1 / 3)


def test_torch_backend_ranks_a_batch_in_score_blocks_exactly_as_in_one(monkeypatch):
    """On the CPU the torch backend ranks a batch in row blocks (glibc heap growth, see
    TorchBackend.ranks); blocks of one, three and all rows give the same ranks, masked or not."""
    pytest.importorskip("torch")
    import tiny_mmmlp.backends as backends
    from tiny_mmmlp import MMMLPConfig
    V = 40
    cfg = MMMLPConfig(max_len=6, d_model=8, token_hidden=4, channel_hidden=8, n_layers=1)
    backend = backends.make_backend("torch", cfg, V, {}, 0, 1e-3, 0.0, None, "mmmlp", None)
    rng = np.random.default_rng(0)
    seq = rng.integers(0, V + 1, size=(7, 6))
    targets = rng.integers(1, V + 1, size=7)
    history = np.concatenate([seq, rng.integers(0, V + 1, size=(7, 3))], axis=1)
    got = {}
    for rows in (1, 3, 7):
        monkeypatch.setattr(backends, "CPU_SCORE_BYTES", rows * 4 * (V + 1))
        got[rows] = [backend.ranks(seq, targets), backend.ranks(seq, targets, history)]
    for rows in (1, 3):
        for a, b in zip(got[rows], got[7]):
            assert a.dtype == np.int64 and a.shape == (7,)
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(got[7][0], got[7][1])          # the mask changed some rank


# ---- any k, precision, recall, MAP, coverage (list_metrics) ---------------------------------

def test_metrics_at_any_k_agree_with_the_leave_one_out_figures():
    from tiny_mmmlp.metrics import metrics_at
    ranks = np.array([0, 2, 12, 25, 49, 50, 7])
    old, new = metrics_from_ranks(ranks), metrics_at(ranks, (10, 20))
    assert {k: new[k] for k in old} == old                           # bit for bit, the same keys
    five = metrics_at(ranks, (5, 50))
    assert five["HR@5"] == pytest.approx(2 / 7) and five["HR@50"] == pytest.approx(6 / 7)
    assert five["Precision@5"] == pytest.approx(2 / 7 / 5) and five["Recall@50"] == five["HR@50"]
    assert five["MAP@5"] == pytest.approx((1 + 1 / 3) / 7) == five["MRR@5"]


def test_list_metrics_by_hand_with_several_held_out_items():
    from tiny_mmmlp.metrics import list_metrics
    # user 0: 2 held-out items, hits at positions 1 and 3 of 4; user 1: 1 item, at position 0
    hits = np.array([[False, True, False, True], [True, False, False, False]])
    m = list_metrics(hits, [2, 1], (4,))
    assert m["HR@4"] == 1.0
    assert m["Precision@4"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert m["Recall@4"] == pytest.approx((2 / 2 + 1) / 2)
    dcg0, idcg0 = 1 / np.log2(3) + 1 / np.log2(5), 1 + 1 / np.log2(3)
    assert m["NDCG@4"] == pytest.approx((dcg0 / idcg0 + 1) / 2)
    assert m["MRR@4"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["MAP@4"] == pytest.approx(((1 / 2 + 2 / 4) / 2 + 1) / 2)
    assert list_metrics(hits, [2, 1], (1,))["MAP@1"] == pytest.approx(1 / 2)   # min(n, k) = 1


def test_a_models_list_puts_held_out_items_after_ties():
    from tiny_mmmlp.metrics import held_out_last
    scores = np.array([[0, 1.0, 1.0, 1.0, 0.5]])                     # items 1..3 tied
    lists, hits = held_out_last(scores, [{1}], 3)
    assert lists == [[2, 3, 1]] and hits.tolist() == [[False, False, True]]
    assert int(target_ranks(scores, np.array([1]))[0]) == 2          # the rank rule says the same
    lists, _ = held_out_last(np.array([[0, 2.0, -np.inf, 1.0]]), [{2}], 3)
    assert lists == [[1, 3]]                                         # a masked item is never listed


def test_evaluate_lists_scores_given_lists_and_coverage():
    from tiny_mmmlp.metrics import evaluate_lists
    held = {"a": {"x"}, "b": {"y", "z"}, "c": {"w"}, "d": set()}     # d is not tested
    lists = {"a": ["x", "x", "q"], "b": ["q", "z"], "e": ["w"]}       # c has none: a miss
    m = evaluate_lists(lists, held, (2,), n_items=10)
    assert m["HR@2"] == pytest.approx(2 / 3) and m["Recall@2"] == pytest.approx((1 + 1 / 2) / 3)
    assert m["Precision@2"] == pytest.approx((1 / 2 + 1 / 2) / 3)  # "x" twice counts once
    assert m["Coverage@2"] == pytest.approx(3 / 10)                  # x, q, z


@pytest.mark.parametrize("text, ks", [("5,10,20,50", (5, 10, 20, 50)), ("10", (10,)), ([5, 50], (5, 50)),
                                      (20, (20,)), ("5,5", (5,))])
def test_parse_ks(text, ks):
    from tiny_mmmlp.metrics import parse_ks
    assert parse_ks(text) == ks


@pytest.mark.parametrize("text", ["0", "5,x", "", "1.5", "-3", [0]])
def test_parse_ks_refuses(text):
    from tiny_mmmlp.metrics import parse_ks
    with pytest.raises(ValueError):
        parse_ks(text)
def test_numpy_backend_ranks_a_batch_in_score_blocks_exactly_as_in_one(monkeypatch):
    """The NumPy backend ranks in row blocks of at most SCORE_BYTES of scores (a large
    catalogue's batch would not fit otherwise); blocks of two, four and all rows agree."""
    import tiny_mmmlp.backends as backends
    from tiny_mmmlp import MMMLPConfig
    V = 40
    cfg = MMMLPConfig(max_len=6, d_model=8, token_hidden=4, channel_hidden=8, n_layers=1)
    backend = backends.NumpyBackend(cfg, V, {}, 0, 1e-3, 0.0, shards=2)
    rng = np.random.default_rng(0)
    seq = rng.integers(0, V + 1, size=(9, 6))
    targets = rng.integers(1, V + 1, size=9)
    history = np.concatenate([seq, rng.integers(0, V + 1, size=(9, 3))], axis=1)
    got, shapes = {}, []
    real_scores = backend.model.scores
    monkeypatch.setattr(backend.model, "scores", lambda s, ws: shapes.append(len(s)) or real_scores(s, ws=ws))
    for rows in (2, 4, 9):
        monkeypatch.setattr(backends, "SCORE_BYTES", rows * 4 * (V + 1))
        shapes.clear()
        got[rows] = [backend.ranks(seq, targets), backend.ranks(seq, targets, history)]
        assert max(shapes) <= max(rows // 2, 1) + 1                 # per shard: half a block
    for rows in (2, 4):
        for a, b in zip(got[rows], got[9]):
            assert a.dtype == np.int64 and a.shape == (9,)
            np.testing.assert_array_equal(a, b)
