"""SASRec and GRU4Rec in the same harness: train, resume, recommend, and the reuse of
MMMLP's feature mixer branches (the compatibility study)."""
import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from small_model import small  # noqa: E402

from tiny_mmmlp.baselines import build_model  # noqa: E402
from tiny_mmmlp.baselines.gru4rec import GRU4Rec  # noqa: E402
from tiny_mmmlp.baselines.sasrec import SASRec, attention_mask  # noqa: E402
from tiny_mmmlp.model_config import MMMLPConfig  # noqa: E402
from tiny_mmmlp.recommend import main as recommend_main  # noqa: E402
from tiny_mmmlp.recommender import load  # noqa: E402
from tiny_mmmlp.torch_model import Branch, TorchMMMLP  # noqa: E402
from tiny_mmmlp.train import main as train_main  # noqa: E402

SMALL = small("--backend", "torch", "--batch-size", "64", "--modalities", "id,category,brand", "--patience", "5")
CFG = MMMLPConfig(max_len=6, d_model=8, token_hidden=4, channel_hidden=8, n_layers=1, dropout=0.0)
V = 20


def features(seed=0):
    rng = np.random.default_rng(seed)
    return {"text": rng.normal(size=(V + 1, 5)).astype(np.float32),
            "codes": rng.normal(size=(V + 1, 3)).astype(np.float32)}


def run_train(out, model, *extra):
    train_main([*SMALL, "--model", model, "--out", str(out), *extra])
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("model,extra", [("sasrec", ["--heads", "2"]), ("gru4rec", [])])
def test_baseline_trains_resumes_exactly_and_recommends(tmp_path, capsys, model, extra):
    straight = run_train(tmp_path / "a", model, "--epochs", "2", *extra)
    assert straight["model"] == model and straight["epochs"] == 2
    assert straight["config"]["d_model"] == 16 and straight["encoder"]["layers"] >= 1
    assert 0.0 <= straight["test"]["NDCG@10"] <= straight["test"]["HR@10"] <= 1.0
    assert (tmp_path / "a" / "curves.png").exists()
    run_train(tmp_path / "b", model, "--epochs", "1", *extra)
    resumed = run_train(tmp_path / "b", model, "--epochs", "2", "--resume", *extra)
    strip = lambda hist: [{k: v for k, v in h.items() if k != "examples_per_s"} for h in hist]
    assert strip(resumed["history"]) == strip(straight["history"])
    assert resumed["test"] == straight["test"]

    rec = load(tmp_path / "a")                                    # rebuilt from the model file
    scorer, ds, meta = rec.scorer(), rec.dataset(), rec.meta
    assert meta["model"] == model and type(scorer.model).__name__ == {"sasrec": "SASRec",
                                                                      "gru4rec": "GRU4Rec"}[model]
    items = ",".join(ds.item_ids[i - 1] for i in ds.sequences[0][:3])
    capsys.readouterr()
    recommend_main([str(tmp_path / "a"), "--items", items, "--k", "4"])
    out = capsys.readouterr().out
    assert f"({model}, torch run" in out and out.count("\n") >= 4 + 2


@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_baselines_run_the_very_feature_mixer_branches_of_mmmlp(name):
    feats = features()
    base = build_model(name, CFG, V, feats, seed=0, encoder={"layers": 1, "heads": 2}).eval()
    mmmlp = TorchMMMLP(CFG, V, feats, seed=3).eval()
    for m in feats:                                   # same class, same parameter names
        assert type(base.inputs.branches[m]) is Branch
        ours = {k: v for k, v in mmmlp.state_dict().items() if k.startswith(f"{m}.")}
        theirs = {k[len("inputs.branches."):] for k in base.state_dict() if k.startswith(f"inputs.branches.{m}.")}
        assert theirs == set(ours)
        base.inputs.branches[m].load_state_dict({k[len(m) + 1:]: v for k, v in ours.items()})
    seq = torch.tensor([[0, 0, 3, 4, 5, 6], [0, 0, 0, 0, 0, 9]])
    mask = (seq != 0).unsqueeze(-1)
    for m in feats:                                   # equal outputs once the weights are equal
        raw = getattr(base.inputs, f"feat_{m}")[seq]
        np.testing.assert_allclose(base.inputs.branches[m].encode(raw, mask, 0.0).detach(),
                                   mmmlp.feature_branches[m].encode(raw, mask, 0.0).detach(), atol=1e-6)
    x = base.inputs(seq, 0.0)                                       # fused input, padding zero
    assert x.shape == (2, 6, CFG.d_model) and torch.all(x[1, :5] == 0)


def test_id_only_baseline_has_no_feature_parameters():
    for name in ("sasrec", "gru4rec"):
        model = build_model(name, CFG, V, {}, seed=0)
        assert not [k for k in model.state_dict() if "branches" in k or "fuse" in k or "cand" in k]


def test_sasrec_mask_hides_padding_keys_and_the_future_and_never_empties_a_row():
    seq = torch.tensor([[0, 0, 7, 8], [0, 0, 0, 5]])
    allowed = attention_mask(seq)[:, 0]                            # (B, N, N)
    assert allowed.any(-1).all()                                    # every query sees something
    assert not allowed[0, 3, :2].any() and allowed[0, 3, 2:].all()  # padding keys hidden
    assert not torch.triu(allowed[0], 1).any()                      # no key after its query


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_left_padding_does_not_reach_the_scores(cls):
    torch.manual_seed(0)
    model = cls(CFG, V, {}, seed=1, layers=2, heads=2).eval()
    seq = torch.tensor([[0, 0, 0, 4, 2, 9]])
    before = model.scores(seq)
    with torch.no_grad():
        if cls is SASRec:                                 # positions of padding slots are unused
            model.pos[:3] = torch.randn(3, CFG.d_model) * 10
        model.inputs.embedding[0] = torch.randn(CFG.d_model)     # even a nonzero padding row
    torch.testing.assert_close(model.scores(seq), before)


def test_gru4rec_last_state_is_the_state_after_the_most_recent_item():
    model = GRU4Rec(CFG, V, {}, seed=2, layers=1).eval()
    items = torch.tensor([4, 2, 9])
    with torch.no_grad():
        _, h = model.gru(model.inputs.embedding[items][None])      # the unpadded sequence
        want = h[-1] @ model.inputs.candidates().T
        got = model(torch.tensor([[0, 0, 0, 4, 2, 9]]))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_baselines_train_with_mmmlps_loss_levers(cls):
    # label smoothing ε: (1 − ε)·CE + ε·mean over items of −log p, written out by hand here;
    # a sampled softmax over every item is the full softmax
    seq, targets = torch.tensor([[0, 0, 3, 4, 2, 9], [0, 1, 5, 5, 7, 8]]), torch.tensor([6, 11])
    plain = cls(CFG, V, {}, seed=3).eval()
    logp = torch.log_softmax(plain(seq)[:, 1:], dim=1)              # (B, V)
    ce = -logp[torch.arange(2), targets - 1].mean()
    for kw, want in (({"label_smoothing": 0.3}, 0.7 * ce - 0.3 * logp.mean(1).mean()),
                     ({"negatives": 5 * V, "label_smoothing": 0.0}, ce)):
        model = cls(MMMLPConfig(**{**CFG.to_dict(), **kw}), V, {}, seed=3).eval()
        torch.testing.assert_close(model.loss(seq, targets), want)


@pytest.mark.parametrize("flags,words", [
    (["--model", "sasrec", "--backend", "numpy"], "--model sasrec"),
    (["--model", "gru4rec", "--modalities", "text"], "--modalities"),
    (["--model", "sasrec", "--heads", "3"], "--heads"),
    (["--model", "gru4rec", "--negatives", "8", "--label-smoothing", "0.1"], "--label-smoothing"),
])
def test_bad_baseline_flags_end_in_one_line_and_exit_2(flags, words):
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, *flags],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("model, want", [("mmmlp", 2e-3), ("sasrec", 1e-3), ("gru4rec", 1e-3)])
def test_each_model_trains_at_its_own_learning_rate_unless_one_is_given(model, want):
    """--lr is per model like the sizes: MMMLP's is 2e-3 (docs/results.md), the baselines keep
    1e-3; the resolved value is what the run's flags save and the optimizer gets."""
    from tiny_mmmlp.backends import make_backend
    from tiny_mmmlp.run_flags import resolve_flags
    args = resolve_flags(["--model", model, "--backend", "torch"])
    assert args.lr == want
    backend = make_backend("torch", args.model_config(["id"]), 10, {}, 0, args.lr, 0.0, "cpu", model)
    assert {g["lr"] for g in backend.opt.param_groups} == {want}
    assert resolve_flags(["--model", model, "--lr", "0.005"]).lr == 0.005
