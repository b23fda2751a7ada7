"""Which training levers close the gap: a one-at-a-time ablation and a small Optuna search,
scored on VALIDATION NDCG@10 only (the test split is never read here).

    python benchmarks/search.py --set scientific --ablation                # base + each lever
    python benchmarks/search.py --set scientific --trials 10               # then TPE trials
    python benchmarks/search.py --set scientific --report                  # markdown table
    python benchmarks/search.py --set scientific --model sasrec --ablation # the same for SASRec

Needs Optuna: ``pip install -e '.[search]'``.
Every trial is one ``python -m tiny_mmmlp.train`` subprocess (its own peak memory, VmHWM);
its score is the best validation NDCG@10 of that run (train.py's own early stopping).
train.py also evaluates the test split at the end of a run; this script never reads it.
Trials live in an Optuna study in a journal file (--storage, plain JSON lines, no pickle),
so an interrupted search resumes where it stopped and finished trials are not rerun.
The base is the model's defaults (the history bias on; SASRec's and GRU4Rec's sizes from
their papers) but with a longer budget (40 epochs, patience 6); each lever changes one
thing. A study run before a default changed keeps its old base (``report``, ``trial_params``).
The old budget (20 epochs, patience 3) needs no
runs of its own: with a constant learning rate a run's first epochs do not depend on
--epochs or --patience, so the report replays train.py's early stopping on each run's
validation history (``stopped_at``) and shows the score the old budget would have kept.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from training_run import AMAZON_HELP, AMAZON_ROOT, run_training, stop_on_sigterm  # noqa: E402

from tiny_mmmlp.errors import UserError, exit_on_user_error  # noqa: E402

# model -> lever -> choices; the first choice is that model's default (the base of its
# ablation), the sizes of the others are each paper's (tiny_mmmlp.baselines.MODEL_DEFAULTS)
_TRAINING = {
    "weight_decay": [0.0, 0.05],
    "schedule": ["constant", "warmup1+cosine"],
    "label_smoothing": [0.2, 0.1, 0.0],      # 0.2: the default
    "negatives": [0, 256],
    "history_bias": [True, False],           # True: the default; False: the paper's models
    "text_input": ["full", "title"],         # only on sets with a text field
}
SPACES = {
    "mmmlp": {"budget": ["40/6", "8/8"], "max_len": [20, 50], "d_model": [64, 128],
              "n_layers": [2, 3], "dropout": [None, 0.2, 0.5],   # None: by the training set's size
              "lr": [0.002, 0.001], **_TRAINING},
    "sasrec": {"budget": ["40/6", "8/8"], "max_len": [50, 200], "d_model": [50, 128],
               "n_layers": [2, 3], "dropout": [0.5, 0.2, 0.3], "lr": [0.001, 0.002], **_TRAINING},
    "gru4rec": {"budget": ["40/6", "8/8"], "max_len": [50, 200], "d_model": [100, 200],
                "n_layers": [1, 2], "dropout": [0.3, 0.1, 0.5], "lr": [0.001, 0.002], **_TRAINING},
}
# the one-at-a-time variants, in the order they are run (most promising first): every
# non-default choice of SPACES[model] except the budget
ABLATION_ORDER = ("history_bias", "max_len", "dropout", "weight_decay", "schedule", "label_smoothing", "d_model",
                  "negatives", "text_input", "n_layers", "lr")
LAYERS_FLAG = {"mmmlp": "--n-layers", "sasrec": "--encoder-layers", "gru4rec": "--encoder-layers"}


def base_of(model: str) -> dict:
    """The ablation base of ``model``: the first choice of every lever."""
    return {k: v[0] for k, v in SPACES[model].items()}


# a lever's variant that cannot keep another lever's base value: label smoothing applies to
# the full softmax only (MMMLPConfig refuses it with negatives), so --negatives runs unsmoothed
ALSO_CHANGES = {"negatives": {"label_smoothing": 0.0}}


def ablation(model: str) -> list:
    """(lever, changes) of every one-lever variant of ``model``'s base, in ABLATION_ORDER:
    the lever's value, and ALSO_CHANGES where the base value of another cannot stay."""
    return [(k, {k: v, **(ALSO_CHANGES.get(k, {}) if v else {})})
            for k in ABLATION_ORDER for v in SPACES[model][k][1:]]


def flags_of(params: dict, model: str = "mmmlp") -> list:
    """train.py flags for one point of SPACES[model]."""
    epochs, patience = params["budget"].split("/")
    flags = ["--model", model, "--epochs", epochs, "--patience", patience,
             "--max-len", str(params["max_len"]), "--d-model", str(params["d_model"]),
             LAYERS_FLAG[model], str(params["n_layers"]),
             *(["--dropout", str(params["dropout"])] if params["dropout"] is not None else []),
             "--lr", str(params["lr"]),
             "--weight-decay", str(params["weight_decay"]),
             "--label-smoothing", str(params["label_smoothing"]),
             "--negatives", str(params["negatives"])]
    flags.append("--history-bias" if params["history_bias"] else "--no-history-bias")
    if params["schedule"] == "warmup1+cosine":
        flags += ["--schedule", "cosine", "--warmup-epochs", "1"]
    return flags


def title_only_copy(folder: Path, work: Path) -> Path:
    """A copy of a data folder whose text field keeps only the title.

    The shared sets' text is "title. category path. brand." (see their README), so the title
    is the text up to the first ". " (a title that itself holds ". " is cut there too).
    """
    name = folder.name
    out = work / "title-only" / name
    out.mkdir(parents=True, exist_ok=True)
    inter = out / f"{name}.inter"
    if not inter.exists():
        inter.symlink_to((folder / f"{name}.inter").resolve())
    lines = (folder / f"{name}.item").read_text().splitlines()
    col = lines[0].split("\t").index(next(h for h in lines[0].split("\t") if h.startswith("text:")))
    rows = [lines[0]]
    for line in lines[1:]:
        cells = line.split("\t")
        cells[col] = cells[col].split(". ")[0].strip()
        rows.append("\t".join(cells))
    (out / f"{name}.item").write_text("\n".join(rows) + "\n")
    return out


def run_trial(params, args, run_dir: Path) -> dict:
    folder = Path(args.data_root) / args.set
    if params["text_input"] == "title":
        folder = title_only_copy(folder, Path(args.work))
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", str(folder), "--backend",
           args.backend, "--modalities", args.modalities, "--seed", str(args.seed),
           "--out", str(run_dir), "--overwrite", "--no-progress", *flags_of(params, args.model)]
    m, peak_rss_gb, wall_s = run_training(cmd, run_dir, fail=RuntimeError)
    return {"valid": m["valid"], "epochs": m["epochs"],
            "valid_curve": [h["valid"]["NDCG@10"] for h in m["history"]], "best_epoch": m["best_epoch"],
            "seconds_per_epoch": m["seconds_per_epoch"], "wall_s": wall_s,
            "peak_rss_gb": peak_rss_gb, "command": " ".join(cmd[1:])}


def stopped_at(curve, epochs, patience):
    """(best value, best epoch, epochs run) that train.py's early stopping keeps on ``curve``."""
    best, best_epoch, bad, run = -1.0, 0, 0, 0
    while run < min(epochs, len(curve)) and bad < patience:
        run += 1
        if curve[run - 1] > best:
            best, best_epoch, bad = curve[run - 1], run, 0
        else:
            bad += 1
    return best, best_epoch, run


def objective_for(args, has_text, queued):
    import optuna

    def objective(trial):
        params = {k: trial.suggest_categorical(k, v if (k != "text_input" or has_text) else ["full"])
                  for k, v in SPACES[args.model].items()}
        if not args.trials and params not in queued:
            trial.study.stop()                          # the queue is empty and no TPE asked for
            raise optuna.TrialPruned("no enqueued trial left")
        if params["negatives"] and params["label_smoothing"]:
            raise optuna.TrialPruned("label smoothing applies to the full softmax only")
        r = run_trial(params, args, Path(args.runs_dir) / args.study / f"trial{trial.number}")
        for k, v in r.items():
            trial.set_user_attr(k, v)
        return r["valid"]["NDCG@10"]
    return objective


def report(study) -> str:
    """Markdown: one row per finished trial, the levers that differ from the base, Δ vs base.

    The base is the trial with the model's defaults (none: each row's change is from them).
    """
    import optuna
    model = study.user_attrs.get("model", "mmmlp")
    defaults = base_of(model)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    budget = done[0].params["budget"] if done else "40/6"
    is_base = lambda t, base: all(trial_params(t, model)[k] == v for k, v in base.items() if k != "budget")
    base_t = next((t for t in done if is_base(t, defaults)), None)
    reference = trial_params(base_t, model) if base_t else defaults
    old = lambda t: stopped_at(t.user_attrs["valid_curve"], 20, 3)
    base, base_old = (base_t.value, old(base_t)[0]) if base_t else (None, None)
    lines = ["| trial | change from the base | valid NDCG@10, budget 20/3 replayed (epoch) | Δ | "
             f"valid NDCG@10, budget {budget} (epoch) | Δ | valid HR@10 | epochs run | "
             "s / epoch | peak RSS GB | valid NDCG@10 by epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    d = lambda x, b: f"{x - b:+.4f}" if b is not None else "-"
    for t in done:
        diff = ", ".join(f"{k}={v}" for k, v in trial_params(t, model).items()
                         if k != "budget" and reference.get(k) != v) or f"(base, budget {budget})"
        u = t.user_attrs
        o, o_ep, ran = old(t)
        # the replay is exact when the old rule stopped inside the curve (3 bad epochs seen)
        # and the learning rate did not depend on --epochs
        exact = t.params["schedule"] == "constant" and (ran - o_ep >= 3 or ran == 20)
        replay = f"{o:.4f} ({o_ep}) | {d(o, base_old)}" if exact else "n/a | -"
        lines.append(f"| {t.number} | {diff} | {replay} | "
                     f"{t.value:.4f} ({u['best_epoch']}) | {d(t.value, base)} | "
                     f"{u['valid']['HR@10']:.4f} | {u['epochs']} | {u['seconds_per_epoch']:.1f} | "
                     f"{u['peak_rss_gb']:.2f} | "
                     f"{' '.join(f'{v:.4f}' for v in u['valid_curve'])} |")
    return "\n".join(lines)


def trial_params(t, model: str) -> dict:
    """The lever values a trial ran (or is queued) with; a study whose trials lack a lever was
    made by an older version of this search and is refused."""
    given = t.system_attrs.get("fixed_params", {}) if t.state.name == "WAITING" else t.params
    missing = sorted(set(base_of(model)) - set(given) - {"budget"})
    if missing:
        raise UserError(f"trial {t.number} of the study has no {', '.join(missing)}: the study was made by "
                        f"an older version of this search; start a new one (--study)")
    return dict(given)


def enqueue_once(study, params: dict):
    """Queue a trial of ``params`` unless the study holds one already (finished, running or
    queued)."""
    model = study.user_attrs.get("model", "mmmlp")
    same = lambda t: all(trial_params(t, model).get(k) == v for k, v in params.items())
    if not any(same(t) for t in study.trials if t.state.name != "FAIL"):
        study.enqueue_trial(params)


@exit_on_user_error
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", required=True, help="scientific, instruments or beauty")
    p.add_argument("--data-root", default=AMAZON_ROOT, help=AMAZON_HELP)
    p.add_argument("--model", default="mmmlp", choices=sorted(SPACES),
                   help="the model searched (its own defaults are the base)")
    p.add_argument("--modalities", default="all", help="train.py's --modalities (default all)")
    p.add_argument("--backend", default="torch", help="train.py's --backend (default torch)")
    p.add_argument("--seed", type=int, default=0, help="train.py's --seed of every trial (default 0)")
    p.add_argument("--study", default=None, help="study name (default: mmmlp-<set>-<modalities>)")
    p.add_argument("--storage", default=str(ROOT / "runs/search/search.journal"),
                   help="Optuna journal file (JSON lines)")
    p.add_argument("--runs-dir", default=str(ROOT / "runs/search"), help="one run folder per trial")
    p.add_argument("--work", default=str(ROOT / "runs/search/data"), help="derived data folders")
    p.add_argument("--ablation", action="store_true", help="run the base and each lever alone")
    p.add_argument("--levers", default="", help="with --ablation: only these levers, in this order")
    p.add_argument("--budget", default="40/6", choices=SPACES["mmmlp"]["budget"],
                   help="epochs/patience of the ablation runs (8/8: a short, equal-epoch screen)")
    p.add_argument("--trials", type=int, default=0, help="TPE trials after the enqueued ones")
    p.add_argument("--report", action="store_true", help="print the study as a markdown table")
    args = p.parse_args()
    stop_on_sigterm()
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from tiny_mmmlp import data

    args.study = args.study or f"{args.model}-{args.set}-{args.modalities.replace(',', '+')}"
    Path(args.storage).parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(args.storage))
    study = optuna.create_study(study_name=args.study, storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed),
                                load_if_exists=True)
    if args.report:
        print(report(study))
        return
    if study.user_attrs.get("model", args.model) != args.model:
        print(f"error: --study {args.study} searches {study.user_attrs['model']}, not {args.model}; "
              "give another --study", file=sys.stderr)
        raise SystemExit(2)
    study.set_user_attr("model", args.model)
    ds = data.load(Path(args.data_root) / args.set)
    mods = data.available_modalities(ds) if args.modalities == "all" else args.modalities.split(",")
    has_text = "text" in mods
    n, queued = 0, []
    if args.ablation:
        wanted = [s for s in args.levers.split(",") if s]
        base = {**base_of(args.model), "budget": args.budget}
        enqueue_once(study, base)
        queued.append(base)
        n += 1
        order = [(n, c) for w in wanted for n, c in ablation(args.model) if n == w] if wanted \
            else ablation(args.model)
        for name, changes in order:
            if name == "text_input" and not has_text:
                continue
            enqueue_once(study, {**base, **changes})
            queued.append({**base, **changes})
            n += 1
    waiting = len([t for t in study.trials if t.state == optuna.trial.TrialState.WAITING])
    study.optimize(objective_for(args, has_text, queued), n_trials=waiting + args.trials,
                   catch=(RuntimeError,))
    print(report(study))


if __name__ == "__main__":
    main()
