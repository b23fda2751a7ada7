"""The main job: python -m tiny_mmmlp.train and python -m tiny_mmmlp.recommend."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.train import main as train_main
from tiny_mmmlp.recommend import main as recommend_main

SMALL = ["--data", "toyshop-tiny", "--max-len", "8", "--d-model", "16", "--token-hidden", "8",
         "--channel-hidden", "16", "--n-layers", "1", "--batch-size", "64", "--no-progress",
         "--modalities", "id,text,category"]


def run_train(out, *extra):
    train_main([*SMALL, "--out", str(out), *extra])
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_short_run_writes_metrics_curves_and_model(tmp_path, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    m = run_train(tmp_path, "--backend", backend, "--epochs", "2")
    assert m["backend"] == backend and m["epochs"] == 2
    for key in ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20", "MRR@20"):
        assert 0.0 <= m["test"][key] <= 1.0 and key in m["valid"]
    assert m["test"]["HR@20"] >= m["test"]["HR@10"]
    assert m["seconds"] > 0 and len(m["history"]) == 2
    assert (tmp_path / MODEL_FILE).exists()
    with Image.open(tmp_path / "curves.png") as img:
        assert img.size[0] > 300


def test_same_seed_same_metrics_and_resume_continues_exactly(tmp_path):
    straight = run_train(tmp_path / "a", "--epochs", "3", "--patience", "5")
    again = run_train(tmp_path / "b", "--epochs", "3", "--patience", "5")
    assert straight["test"] == again["test"]
    run_train(tmp_path / "c", "--epochs", "1", "--patience", "5")
    resumed = run_train(tmp_path / "c", "--epochs", "3", "--patience", "5", "--resume")
    strip = lambda hist: [{k: v for k, v in h.items() if k != "examples_per_s"} for h in hist]
    assert strip(resumed["history"]) == strip(straight["history"])
    assert resumed["test"] == straight["test"]


def test_numpy_checkpoint_loads_into_torch_with_equal_scores(tmp_path):
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.recommend import load_trained
    from tiny_mmmlp.torch_model import TorchMMMLP
    run_train(tmp_path, "--epochs", "1")
    model, ds, meta = load_trained(tmp_path)
    tm = TorchMMMLP(model.cfg, ds.n_items, model.features).eval()
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in model.params.items()})
    seq = np.array([np.r_[np.zeros(5, dtype=np.int64), s[:3]] for s in ds.sequences[:4]])
    np.testing.assert_allclose(tm.scores(torch.from_numpy(seq)).numpy(), model.scores(seq),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("flags,words", [
    (["--epochs", "0"], "--epochs"),
    (["--backend", "jax"], "--backend"),
    (["--d-model", "0"], "--d-model"),
    (["--modalities", "id,smell"], "no modality smell"),
    (["--modalities", "id,id"], "id given twice"),
    (["--modalities", ","], "no modality given"),
    (["--model", "gru4rec", "--backend", "torch", "--heads", "2"], "--heads: --model gru4rec has none"),
    (["--encoder-layers", "2"], "--encoder-layers: --model mmmlp has none"),
    (["--epochs", "ten"], "--epochs: must be a positive integer, got 'ten'"),
    (["--dropout", "1.5"], "--dropout: must be in [0, 1)"),
    (["--data", "/no/such/folder"], "/no/such/folder"),
    (["--resume", "--out", "/tmp/tiny_mmmlp_no_run_here"], "--resume"),
])
def test_bad_flags_end_in_one_clear_line_and_exit_2(flags, words):
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, *flags],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_triton_backend_without_gpu_is_a_clear_error(monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("triton")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", *SMALL, "--backend", "triton"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "CUDA" in proc.stderr and "Traceback" not in proc.stderr


def test_recommend_prints_titles_and_draws_a_picture(tmp_path, capsys):
    run_train(tmp_path, "--epochs", "1")
    from tiny_mmmlp import data
    ds = data.load("toyshop-tiny")
    picture = tmp_path / "recs.png"
    recommend_main([str(tmp_path), "--user", ds.user_ids[0], "--k", "5", "--picture", str(picture)])
    out = capsys.readouterr().out
    assert out.count("\n") >= 7 and ds.titles[ds.sequences[0][-1]] in out
    with Image.open(picture) as img:
        img.verify()
    items = ",".join(ds.item_ids[:3])
    recommend_main([str(tmp_path), "--items", items, "--k", "3", "--exclude-history"])
    lines = [l for l in capsys.readouterr().out.splitlines() if l[:4].strip().rstrip(".").isdigit()]
    assert len(lines) == 3 and not any(i in l.split()[1] for l in lines for i in ds.item_ids[:3])
    with pytest.raises(SystemExit) as e:
        recommend_main([str(tmp_path), "--user", "no-such-user"])
    assert e.value.code == 2


def test_mask_history_is_recorded_and_never_lowers_a_rank(tmp_path):
    plain = run_train(tmp_path / "plain", "--epochs", "1")
    masked = run_train(tmp_path / "masked", "--epochs", "1", "--mask-history")
    assert plain["mask_history"] is False and masked["mask_history"] is True
    assert masked["protocol"] != plain["protocol"]
    # same seed, same model after one epoch: masking only removes items above the target
    for key in ("HR@10", "NDCG@10", "MRR@20"):
        assert masked["test"][key] >= plain["test"][key]
        assert masked["popularity"][key] >= plain["popularity"][key]
    assert masked["test"]["HR@10"] > plain["test"]["HR@10"] or masked["test"]["NDCG@10"] > plain["test"]["NDCG@10"]


@pytest.mark.parametrize("extra,want", [([], 64), (["--eval-batch-size", "100"], 100)])
def test_evaluation_ranks_a_training_batch_of_users_at_once_by_default(tmp_path, monkeypatch, extra, want):
    """So that the numpy backend's workspaces, sized by training, are not grown by evaluation
    (on toyshop, 512 users at once raised a run's peak memory from 0.95 to 1.39 GiB)."""
    import tiny_mmmlp.train as train
    sizes = []
    real = train.evaluate
    monkeypatch.setattr(train, "evaluate", lambda *a, **k: sizes.append(a[4]) or real(*a, **k))
    run_train(tmp_path, "--epochs", "1", *extra)
    assert sizes == [want, want]                       # validation, then test


def test_the_memory_preflight_counts_the_evaluation_batch(tmp_path, monkeypatch, capsys):
    """The preflight refuses a run whose evaluation batch cannot fit, naming the flag, before
    any folder is made; the same run with the default evaluation batch starts."""
    import tiny_mmmlp.preflight as preflight
    from tiny_mmmlp.config import MMMLPConfig
    V = 200                                        # any item count: the formula alone
    cfg = MMMLPConfig(max_len=8, d_model=16, token_hidden=8, channel_hidden=16, n_layers=1)
    small, big = (preflight.estimate_bytes(cfg, V, [384, 8], 64, e) for e in (64, 10**6))
    assert big - small == 2 * 4 * (10**6 - 64) * (V + 1)          # the E·V score term alone
    monkeypatch.setattr(preflight, "available_bytes", lambda: 2**30)   # 1 GiB
    with pytest.raises(SystemExit) as err:
        run_train(tmp_path / "big", "--epochs", "1", "--eval-batch-size", str(10**8))  # > 1 GiB
    assert err.value.code == 2 and not (tmp_path / "big").exists()
    assert "--eval-batch-size" in capsys.readouterr().err
    assert run_train(tmp_path / "ok", "--epochs", "1")["epochs"] == 1


@pytest.mark.parametrize("given, shown, hidden", [
    (["--model", "sasrec"], ["--model sasrec"],
     ["--max-len", "--d-model", "--dropout", "--lr", "--ema-warmup", "--label-smoothing"]),
    (["--model", "sasrec", "--dropout", "0.2", "--ema", "0"], ["--dropout 0.2", "--ema 0.0"],
     ["--ema-warmup", "--max-len"]),
    (["--negatives", "32"], ["--negatives 32"], ["--label-smoothing"]),
    (["--max-len", "20"], [], ["--max-len"]),                 # MMMLP's own default, given
])
def test_the_resume_command_names_only_what_differs_from_the_resolved_defaults(given, shown, hidden):
    """The interrupted run's 'continue with' line: flags whose defaults depend on --model,
    --ema or --negatives are left out where they hold those resolved defaults, and the line
    resumes with the same training flags."""
    from tiny_mmmlp.train import build_parser, make_config, resume_command, training_flags
    args = build_parser().parse_args(given)
    make_config(args, ["id"])
    line = resume_command(args, "runs/x")
    assert all(s in line for s in shown) and not any(h in line for h in hidden), line
    again = build_parser().parse_args(line.split()[3:])
    make_config(again, ["id"])
    flags = lambda a: {k: v for k, v in training_flags(a).items() if k not in ("out", "resume")}
    assert flags(again) == flags(args)
