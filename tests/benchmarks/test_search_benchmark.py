"""benchmarks/search.py: the replay of train.py's early stopping, the flags of a search
point, and the title-only copy of a data folder (no training here)."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "search.py"
spec = importlib.util.spec_from_file_location("search", SCRIPT)
search = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search)


def test_replayed_early_stopping_matches_the_training_loop():
    curve = [0.1, 0.2, 0.15, 0.14, 0.13, 0.3, 0.31]
    assert search.stopped_at(curve, 20, 3) == (0.2, 2, 5)      # 3 bad epochs after epoch 2
    assert search.stopped_at(curve, 40, 6) == (0.31, 7, 7)     # the curve ran out first
    assert search.stopped_at(curve, 2, 3) == (0.2, 2, 2)       # the epoch budget ran out


def test_flags_of_the_base_are_the_old_defaults_and_levers_change_one_flag():
    base = search.flags_of(search.base_of("mmmlp"))
    assert base[:6] == ["--model", "mmmlp", "--epochs", "40", "--patience", "6"]
    assert "--schedule" not in base
    lever = search.flags_of({**search.base_of("mmmlp"), "schedule": "warmup1+cosine"})
    assert lever[-4:] == ["--schedule", "cosine", "--warmup-epochs", "1"]


def test_each_model_is_searched_from_its_own_defaults_with_its_own_layer_flag():
    from tiny_mmmlp.baselines import MODEL_DEFAULTS
    from tiny_mmmlp.run_flags import resolve_flags
    for model in ("mmmlp", "sasrec", "gru4rec"):
        base = search.base_of(model)
        for key in ("max_len", "d_model", "dropout", "lr"):
            assert base[key] == MODEL_DEFAULTS[model][key], (model, key)
        flags = search.flags_of(base, model)
        args = resolve_flags(["--data", "toyshop-tiny", *flags])   # train.py takes them
        assert args.model == model
        layers = args.n_layers if model == "mmmlp" else args.encoder_layers
        assert layers == base["n_layers"] and args.lr == base["lr"]
        # each ablation variant changes one lever of the base; sampled negatives also turn
        # label smoothing off, which train.py refuses beside them
        for lever, changes in search.ablation(model):
            assert lever != "budget" and base[lever] != changes[lever]
            assert set(changes) == ({lever, "label_smoothing"} if lever == "negatives" else {lever})
            args = resolve_flags(["--data", "toyshop-tiny", *search.flags_of({**base, **changes}, model)])
            assert (args.negatives, args.label_smoothing) != (0, 0.0) or lever == "label_smoothing"


def test_title_only_copy_keeps_the_text_up_to_the_first_full_stop(tmp_path):
    src = tmp_path / "src" / "shop"
    src.mkdir(parents=True)
    (src / "shop.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu\ta\t0\n")
    (src / "shop.item").write_text("item_id:token\ttext:token_seq\n"
                                   "a\tRed Lamp 2.5 W. Home Lighting Lamps. ACME. \n")
    out = search.title_only_copy(src, tmp_path / "work")
    assert (out / "shop.item").read_text().splitlines()[1] == "a\tRed Lamp 2.5 W"
    assert (out / "shop.inter").read_text() == (src / "shop.inter").read_text()


def test_a_study_whose_trials_lack_a_lever_is_refused():
    """A study made by an older version of the search lacks a lever now searched: refused in one
    sentence, not read as if the lever had today's value."""
    import pytest
    optuna = pytest.importorskip("optuna")
    base = {**search.base_of("mmmlp"), "budget": "8/8"}
    old_params = {k: v for k, v in base.items() if k != "history_bias"}
    space = {k: optuna.distributions.CategoricalDistribution(search.SPACES["mmmlp"][k]) for k in old_params}
    attrs = {"valid": {"HR@10": 0.11}, "epochs": 8, "valid_curve": [0.05, 0.06], "best_epoch": 2,
             "seconds_per_epoch": 1.0, "peak_rss_gb": 0.5}
    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(params=old_params, distributions=space, value=0.06,
                                              user_attrs=attrs))
    with pytest.raises(search.UserError, match="trial 0 of the study has no history_bias"):
        search.report(study)


def test_the_base_of_a_study_is_its_trial_at_the_defaults():
    import pytest
    optuna = pytest.importorskip("optuna")
    base = {**search.base_of("sasrec"), "budget": "40/6"}
    space = {k: optuna.distributions.CategoricalDistribution(search.SPACES["sasrec"][k]) for k in base}
    attrs = {"valid": {"HR@10": 0.11}, "epochs": 8, "valid_curve": [0.05, 0.06], "best_epoch": 2,
             "seconds_per_epoch": 1.0, "peak_rss_gb": 0.5}
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("model", "sasrec")
    for params, value in (({**base, "label_smoothing": 0.0}, 0.0734),
                          ({**base, "history_bias": False}, 0.0610), (base, 0.0755)):
        study.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=value,
                                                  user_attrs=attrs))
    rows = search.report(study).splitlines()[2:]
    assert rows[2].startswith("| 2 | (base, budget 40/6) | ")
    assert rows[0].startswith("| 0 | label_smoothing=0.0 | ") and "| -0.0021 |" in rows[0]
    assert rows[1].startswith("| 1 | history_bias=False | ") and "| -0.0145 |" in rows[1]
