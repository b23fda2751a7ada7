"""The whole NumPy model: float64 gradient check, agreement with PyTorch autograd, learning."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.metrics import metrics_from_ranks, target_ranks
from tiny_mmmlp.reference import MMMLP, AdamW
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error

MODALITY_SETS = [(), ("text",), ("image", "text")]


def small_problem(seed, V, N, B, modalities, all_padding_but_last=False):
    rng = np.random.default_rng(seed)
    feats = {m: rng.standard_normal((V + 1, 3 + i)) for i, m in enumerate(modalities)}
    for f in feats.values():
        f[0] = 0.0
    lengths = np.ones(B, dtype=int) if all_padding_but_last else rng.integers(1, N + 1, size=B)
    seq = np.zeros((B, N), dtype=np.int64)
    for b, n in enumerate(lengths):
        seq[b, N - n:] = rng.integers(1, V + 1, size=n)
    targets = rng.integers(1, V + 1, size=B)
    return feats, seq, targets


@settings(max_examples=6, deadline=None)
@given(B=st.integers(1, 3), N=st.integers(1, 4), V=st.integers(2, 6),
       modalities=st.sampled_from(MODALITY_SETS), padded=st.booleans(),
       dropout=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 1000))
def test_whole_model_gradient_check(B, N, V, modalities, padded, dropout, seed):
    # ln_eps 1e-2: when dropout zeroes a whole row, LayerNorm sits at its singular point
    # (variance 0, rstd = 1/sqrt(eps)) and with eps = 1e-5 central differences would need a
    # step far below 1e-6 to resolve the curvature; the analytic gradient is right either way.
    cfg = MMMLPConfig(max_len=N, d_model=3, token_hidden=3, channel_hidden=5, n_layers=1,
                      fusion_layers=1, dropout=dropout, ln_eps=1e-2)
    feats, seq, targets = small_problem(seed, V, N, B, modalities, padded)
    model = MMMLP(cfg, V, feats, seed=seed, dtype=np.float64)
    loss_fn = lambda: model.loss_and_grads(seq, targets, dropout_seed=seed)[0]
    _, grads = model.loss_and_grads(seq, targets, dropout_seed=seed)
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        num = numeric_gradient(loss_fn, p)
        g = grads[name]
        if name == "id.embedding":           # the padding row gets no gradient, by design
            assert np.all(g[0] == 0)
            g, num = g[1:], num[1:]
        # floor 1e-3: an absolute error below 1e-9 passes (the structurally zero gradient of a
        # bias that a later LayerNorm removes is rounding noise near 1e-10 numerically).
        assert rel_error(g, num, floor=1e-3) < 1e-6, name


@pytest.mark.parametrize("modalities", MODALITY_SETS)
@pytest.mark.parametrize("candidate_features", [True, False])
def test_loss_and_grads_equal_torch_autograd_float64(modalities, candidate_features):
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.torch_model import TorchMMMLP
    cfg = MMMLPConfig(max_len=7, d_model=5, token_hidden=4, channel_hidden=6, n_layers=2,
                      fusion_layers=1, dropout=0.0, candidate_features=candidate_features)
    feats, seq, targets = small_problem(3, 11, 7, 4, modalities)
    ref = MMMLP(cfg, 11, feats, seed=5, dtype=np.float64)
    tm = TorchMMMLP(cfg, 11, feats, seed=5, dtype=torch.float64)
    assert set(tm.state_dict()) == set(ref.params)
    for k, v in tm.state_dict().items():        # same seed, same initial weights
        np.testing.assert_array_equal(v.numpy(), ref.params[k])
    loss, grads = ref.loss_and_grads(seq, targets)
    t_loss = tm.loss(torch.from_numpy(seq), torch.from_numpy(targets))
    t_loss.backward()
    assert abs(loss - t_loss.item()) <= 1e-8 * abs(loss)
    for name, p in tm.named_parameters_flat():
        assert rel_error(grads[name], p.grad.numpy(), floor=1e-6) < 1e-8, name   # |error| < 1e-14 passes
    np.testing.assert_allclose(ref.scores(seq), tm.eval().scores(torch.from_numpy(seq)).numpy(),
                               rtol=1e-10)


def test_float32_is_the_default_and_stays_float32():
    feats, seq, targets = small_problem(0, 20, 6, 3, ("text",))
    model = MMMLP(MMMLPConfig(max_len=6, d_model=8), 20, feats)
    loss, grads = model.loss_and_grads(seq, targets)
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model.scores(seq).dtype == np.float32


@pytest.mark.parametrize("field,value", [("d_model", 0), ("max_len", 0), ("token_hidden", -3),
                                         ("channel_hidden", 0), ("dropout", 1.0)])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        MMMLPConfig(**{field: value})


def test_bad_feature_matrix_and_batch_are_clear_errors():
    with pytest.raises(ValueError, match="'text'"):
        MMMLP(MMMLPConfig(max_len=4), 10, {"text": np.zeros((10, 3))})
    model = MMMLP(MMMLPConfig(max_len=4), 10)
    with pytest.raises(ValueError, match="shape"):
        model.scores(np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match="ids"):
        model.scores(np.full((2, 4), 11))


def test_reference_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import tiny_mmmlp.reference, tiny_mmmlp.metrics\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], check=True)


def markov_task(rng, succ, n_users, length):
    """Next item = succ[current − 1] 90% of the time, else a random item."""
    V = len(succ)
    seqs = []
    for _ in range(n_users):
        s = [rng.integers(1, V + 1)]
        for _ in range(length - 1):
            s.append(succ[s[-1] - 1] if rng.random() < 0.9 else rng.integers(1, V + 1))
        seqs.append(np.array(s))
    return seqs


def prefixes(seqs, N):
    xs, ys = [], []
    for s in seqs:
        for t in range(1, len(s)):
            h = s[max(0, t - N):t]
            xs.append(np.r_[np.zeros(N - len(h), dtype=np.int64), h])
            ys.append(s[t])
    return np.array(xs), np.array(ys)


def test_model_learns_a_next_item_task():
    rng = np.random.default_rng(0)
    V, N = 80, 8
    succ = rng.permutation(V) + 1                          # the successor of item v is succ[v - 1]
    train_x, train_y = prefixes(markov_task(rng, succ, 200, 10), N)
    test_x, test_y = prefixes(markov_task(rng, succ, 100, 10), N)   # new users, same rule
    cfg = MMMLPConfig(max_len=N, d_model=16, token_hidden=8, channel_hidden=32, n_layers=1,
                      fusion_layers=0, dropout=0.0, candidate_features=False)
    model = MMMLP(cfg, V, {}, seed=0)
    opt = AdamW(model.params, lr=3e-3)
    hr_before = metrics_from_ranks(target_ranks(model.scores(test_x), test_y))["HR@10"]
    losses = []
    for epoch in range(5):
        order = rng.permutation(len(train_x))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss, grads = model.loss_and_grads(train_x[idx], train_y[idx])
            opt.step(grads)
            losses.append(loss)
    hr_after = metrics_from_ranks(target_ranks(model.scores(test_x), test_y))["HR@10"]
    random_hr = 10 / V
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 1.0
    assert hr_before < 2 * random_hr
    assert hr_after > 0.7 > 5 * random_hr, (hr_before, hr_after)   # the rule allows ~0.9


@pytest.mark.parametrize("rows", [2, 40])        # B·N of 2·4 < V + 1 = 12: gathered first; 40·4: table first
def test_feature_branch_projects_table_or_rows_with_the_same_result(rows):
    """Branch.encode_items picks the cheaper of projecting the feature table and projecting the
    gathered rows; either gives encode's outputs and gradients on the gathered rows."""
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.torch_model import Branch
    cfg = MMMLPConfig(max_len=4, d_model=5, token_hidden=3, channel_hidden=6, n_layers=1, dropout=0.0)
    torch.manual_seed(0)
    branch = Branch(cfg, 5, 1, fused=False, d_in=7).double()
    for p in branch.parameters():
        torch.nn.init.normal_(p)
    table = torch.randn(12, 7, dtype=torch.float64)
    table[0] = 0
    seq = torch.randint(0, 12, (rows, 4))
    mask = (seq != 0).unsqueeze(-1)
    grads = []
    for run in (lambda: branch.encode_items(table, seq, mask, 0.0), lambda: branch.encode(table[seq], mask, 0.0)):
        branch.zero_grad()
        out = run()
        (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).reshape(out.shape)).sum().backward()
        grads.append((out.detach(), {k: p.grad.clone() for k, p in branch.named_parameters()}))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-12)
    for k in grads[0][1]:
        torch.testing.assert_close(grads[0][1][k], grads[1][1][k], rtol=1e-10, atol=1e-12, msg=k)


def test_importing_the_package_makes_openmp_threads_sleep_unless_told_otherwise():
    """torch's OpenMP threads spin while they wait unless OMP_WAIT_POLICY says otherwise; the
    package sets PASSIVE before torch loads, and keeps a value the user gave."""
    import os
    import subprocess
    import sys
    code = "import os, tiny_mmmlp; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "PASSIVE"
    got = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "ACTIVE"
