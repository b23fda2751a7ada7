"""Leave-one-out split and batch iterators: exact examples, padding side, seeded shuffles."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tiny_mmmlp import data

sequences_st = st.lists(st.lists(st.integers(1, 30), min_size=1, max_size=12), min_size=1, max_size=15)


def test_split_leave_one_out():
    seqs = [np.array([1, 2, 3, 4, 5]), np.array([7, 8]), np.array([9, 10, 11])]
    sp = data.split_leave_one_out(seqs)
    assert [s.tolist() for s in sp.train] == [[1, 2, 3], [7, 8], [9]]
    assert [h.tolist() for h in sp.valid_history] == [[1, 2, 3], [9]]
    assert sp.valid_target.tolist() == [4, 10] and sp.test_target.tolist() == [5, 11]
    assert [h.tolist() for h in sp.test_history] == [[1, 2, 3, 4], [9, 10]]
    assert sp.eval_users.tolist() == [0, 2] and sp.test_target.dtype == np.int64
    assert data.n_train_examples(sp.train) == 2 + 1 + 0


def test_pad_histories_left_pads_and_keeps_last():
    out = data.pad_histories([np.array([7, 3, 9]), np.array([1, 2, 3, 4, 5, 6]), np.array([], dtype=np.int64)], 5)
    assert out.tolist() == [[0, 0, 7, 3, 9], [2, 3, 4, 5, 6], [0, 0, 0, 0, 0]]
    assert out.dtype == np.int64


@settings(deadline=None, max_examples=60)
@given(sequences_st, st.integers(1, 6), st.integers(1, 7), st.integers(0, 3))
def test_train_batches_yield_every_prefix_once(seqs, max_len, batch_size, seed):
    train = [np.array(s, dtype=np.int64) for s in seqs]
    expected = sorted((tuple(data.pad_histories([s[:t]], max_len)[0]), int(s[t]))
                      for s in train for t in range(1, len(s)))
    got = []
    for item_seq, targets in data.train_batches(train, max_len, batch_size, seed=seed, epoch=1):
        assert item_seq.shape == (len(targets), max_len) and item_seq.dtype == np.int64
        assert targets.dtype == np.int64 and 1 <= len(targets) <= batch_size
        assert (item_seq[:, -1] > 0).all()           # most recent item at position N - 1
        got += [(tuple(row), int(t)) for row, t in zip(item_seq, targets)]
    assert sorted(got) == expected and len(got) == data.n_train_examples(train)


def test_shuffle_depends_on_seed_and_epoch_only():
    train = [np.arange(1, 30), np.arange(5, 50)]
    def targets(seed, epoch):
        return np.concatenate([t for _, t in data.train_batches(train, 8, 16, seed=seed, epoch=epoch)])
    assert (targets(0, 0) == targets(0, 0)).all()
    assert not (targets(0, 0) == targets(0, 1)).all()
    assert not (targets(0, 0) == targets(1, 0)).all()


def test_eval_batches_in_order():
    hist = [np.array([1, 2]), np.array([3]), np.array([4, 5, 6])]
    batches = list(data.eval_batches(hist, np.array([7, 8, 9]), max_len=2, batch_size=2))
    assert [b[0].tolist() for b in batches] == [[[1, 2], [0, 3]], [[5, 6]]]
    assert [b[1].tolist() for b in batches] == [[7, 8], [9]]


def test_drop_items_deletes_closes_up_and_keeps_the_last_item():
    rows = np.array([[0, 0, 7, 3, 9], [1, 2, 3, 4, 5], [0, 0, 0, 0, 6]])
    rng = np.random.default_rng(0)
    assert data.batches.drop_items(rows, 0.0, rng) is rows                       # off: the rows themselves
    for _ in range(50):
        out = data.batches.drop_items(rows, 0.5, rng)
        for before, after in zip(rows, out):
            kept = after[after != 0]
            assert kept[-1] == before[-1]                                      # the most recent item stays
            it = iter(before[before != 0])
            assert all(any(k == b for b in it) for k in kept)                  # a subsequence, in order
            assert (after[:len(after) - len(kept)] == 0).all()                 # left-padded again
    everything = np.tile(np.arange(1, 21), (2000, 1))                          # 19 deletable items a row
    share = 1 - (data.batches.drop_items(everything, 0.3, rng) != 0).sum() / everything.size
    assert abs(share - 0.3 * 19 / 20) < 0.01


def test_item_dropout_changes_the_histories_not_the_order_or_the_targets():
    train = [list(range(1 + u, 12 + u)) for u in range(30)]
    plain = list(data.train_batches(train, 8, 16, seed=3, epoch=2))
    dropped = list(data.train_batches(train, 8, 16, seed=3, epoch=2, item_dropout=0.4))
    assert all((t1 == t2).all() for (_, t1), (_, t2) in zip(plain, dropped))
    assert all((s1[:, -1] == s2[:, -1]).all() for (s1, _), (s2, _) in zip(plain, dropped))
    assert (np.concatenate([s for s, _ in dropped]) != 0).sum() < (np.concatenate([s for s, _ in plain]) != 0).sum()
    again = list(data.train_batches(train, 8, 16, seed=3, epoch=2, item_dropout=0.4))
    assert all((a == b).all() for (a, _), (b, _) in zip(dropped, again))          # (seed, epoch) decide
