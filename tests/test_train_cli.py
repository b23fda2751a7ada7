"""The main job: python -m tiny_mmmlp.train and python -m tiny_mmmlp.recommend."""
import json
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tiny_mmmlp.errors import UserError
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main
from tiny_mmmlp.train import main as train_main

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
    from tiny_mmmlp.recommender import load
    from tiny_mmmlp.torch_model import TorchMMMLP
    run_train(tmp_path, "--epochs", "1")
    rec = load(tmp_path)
    model, ds = rec.scorer(), rec.dataset()
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
    import tiny_mmmlp.training_loop as loop
    sizes = []
    real = train.evaluate
    for module in (train, loop):
        monkeypatch.setattr(module, "evaluate", lambda *a, **k: sizes.append(a[4]) or real(*a, **k))
    run_train(tmp_path, "--epochs", "1", *extra)
    assert sizes == [want, want]                       # validation, then test


def test_the_memory_preflight_counts_the_evaluation_batch(tmp_path, monkeypatch, capsys):
    """The preflight refuses a run whose evaluation batch cannot fit, naming the flag, before
    any folder is made; the same run with the default evaluation batch starts."""
    import tiny_mmmlp.preflight as preflight
    from tiny_mmmlp.model_config import MMMLPConfig
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


@pytest.mark.parametrize("given", [{"model": "sasrec"}, {"model": "sasrec", "dropout": 0.2, "ema": 0.0},
                                   {"negatives": 32}, {"max_len": 20, "data": "toyshop-tiny"}])
def test_a_saved_configuration_resolves_to_the_same_run(tmp_path, given):
    """config.json holds the resolved settings; --config reads them back to the same RunConfig,
    and the resume line of an interrupted run is that file, resumed."""
    from tiny_mmmlp.files import write_text
    from tiny_mmmlp.run_config import RunConfig, save_config
    from tiny_mmmlp.run_flags import parse_settings
    from tiny_mmmlp.train import resume_command
    cfg = RunConfig.resolve({**given, "out": str(tmp_path)})
    save_config(tmp_path, cfg, write_text)
    again = RunConfig.resolve(parse_settings(["--config", str(tmp_path / "config.json")]), flags=True)
    assert again == replace(cfg, out=None)               # the folder is the run's own, never repeated
    assert resume_command(cfg).split()[3:] == ["--config", str(tmp_path / "config.json"), "--out", str(tmp_path),
                                               "--resume"]


def test_flags_beside_a_saved_configuration_override_it_and_what_derives_from_them(tmp_path):
    from tiny_mmmlp.files import write_text
    from tiny_mmmlp.run_config import RunConfig, save_config
    from tiny_mmmlp.run_flags import parse_settings
    save_config(tmp_path, RunConfig.resolve({"lr": 0.01, "seed": 3}), write_text)
    cfg = RunConfig.resolve(parse_settings(["--config", str(tmp_path), "--model", "sasrec"]), flags=True)
    assert (cfg.model, cfg.backend, cfg.max_len, cfg.lr, cfg.seed) == ("sasrec", "torch", 50, 1e-3, 3)
    cfg = RunConfig.resolve(parse_settings(["--config", str(tmp_path), "--seed", "4"]), flags=True)
    assert (cfg.model, cfg.lr, cfg.seed) == ("mmmlp", 0.01, 4)


@pytest.mark.parametrize("flags,words", [
    (["--model", "sasrec", "--fusion-layers", "2"], "--fusion-layers: --model sasrec has no such part"),
    (["--model", "gru4rec", "--modalities", "id", "--token-hidden", "8"], "--token-hidden: --model gru4rec"),
    (["--model", "sasrec", "--backend", "numpy"], "--backend numpy: --model sasrec runs on the torch"),
    (["--config", "/no/such/run"], "/no/such/run: no such run configuration"),
])
def test_settings_that_do_nothing_for_the_model_are_refused(flags, words):
    from tiny_mmmlp.run_config import RunConfig
    from tiny_mmmlp.run_flags import parse_settings
    with pytest.raises(UserError, match=re.escape(words)):
        RunConfig.resolve(parse_settings(flags), flags=True)


def test_a_baseline_alone_chooses_the_torch_backend():
    from tiny_mmmlp.run_config import RunConfig
    assert RunConfig.resolve({"model": "sasrec"}).backend == "torch"
    assert RunConfig.resolve({}).backend == "numpy"
