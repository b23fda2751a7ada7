"""Tune: search the training settings on your own data by validation NDCG@10, keep the best config.json.

    python -m tiny_mmmlp.tune --data path/to/folder --trials 20
    tiny-mmmlp tune --data toyshop-tiny --trials 3 --epochs 2 --d-model 8 --out runs/tune-tiny
    python -m tiny_mmmlp.train --config runs/tune-folder/config.json      # train the best settings

Each trial trains one run with settings drawn by Optuna's TPE sampler from ``SPACES`` and is
scored by its best validation NDCG@10 (training's own early stopping). The test split is
never ranked, so the test figures of the final run stay an honest estimate. Any flag of
``python -m tiny_mmmlp.train`` given here fixes that setting instead of searching it (the
trials' budget: ``--epochs`` 20 and ``--patience`` 3 unless given).

The output folder (default ``runs/tune-<data>``) holds the search: ``tune.journal``, Optuna's
journal of every trial (JSON lines, no pickle), and ``config.json``, the best settings so far,
rewritten whenever a trial beats them. Rerunning the same command continues the search until
``--trials`` trials are finished; a trial cut short (Ctrl-C, a killed process) is recorded as
failed and another is drawn in its place. Each trial trains in ``trials/<number>/``, removed
once the trial is scored. One search at a time holds the folder (its ``.lock``).
Needs Optuna: ``pip install 'tiny_mmmlp[tune]'``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from .cli import OneLineParser, positive_int
from .errors import SIZES_ADVICE, UserError, exit_on_user_error
from .files import write_text
from .progress import LOGGER, show_messages
from .run_config import RunConfig, save_config

STUDY = "tune"
JOURNAL = "tune.journal"
BUDGET = {"epochs": 20, "patience": 3}        # each trial's, unless the flags give another
# setting -> ("choice", [values]) or ("float", low, high, log); per model, searched unless fixed
_COMMON = {"max_len": ("choice", [20, 50]), "dropout": ("float", 0.0, 0.7, False),
           "lr": ("float", 3e-4, 3e-3, True), "weight_decay": ("choice", [0.0, 0.01, 0.05])}
SPACES = {
    "mmmlp": {"d_model": ("choice", [32, 64, 128]), "n_layers": ("choice", [1, 2, 3]),
              "label_smoothing": ("choice", [0.0, 0.1, 0.2]), "history_bias": ("choice", [True, False]),
              "history_pool": ("choice", [True, False]), "pool_features": ("choice", [True, False]), **_COMMON},
    "sasrec": {"d_model": ("choice", [32, 64, 128]), "encoder_layers": ("choice", [1, 2, 3]), **_COMMON},
    "gru4rec": {"d_model": ("choice", [64, 100, 200]), "encoder_layers": ("choice", [1, 2]), **_COMMON},
}
OWN = ("out", "resume", "overwrite")          # the trials' run folders are tune's


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m tiny_mmmlp.tune", description=__doc__.split("\n\n")[0],
                      epilog="Any flag of python -m tiny_mmmlp.train (--epochs, --d-model, --backend, --modalities, "
                             "--quiet, --verbose, ...) fixes that setting for every trial; each trial's budget is "
                             f"--epochs {BUDGET['epochs']} --patience {BUDGET['patience']} unless given.")
    p.add_argument("--data", required=True, help="the data to tune on: a folder of RecBole atomic files, an "
                                                 "interactions file, or a built-in name (as train's --data)")
    p.add_argument("--trials", type=positive_int, required=True,
                   help="finished trials wanted in all (a rerun continues up to this many)")
    p.add_argument("--out", metavar="FOLDER", help="the search's folder (default: runs/tune-<data>)")
    return p


def fixed_settings(rest: list) -> dict:
    """The train settings the flags fix, the trials' budget filled in."""
    from .run_flags import parse_settings
    if any(a == "--config" or a.startswith("--config=") for a in rest):
        raise UserError("--config: tune searches the settings itself; give the ones to keep as flags")
    given = parse_settings(rest)
    own = [k for k in OWN if k in given]
    if own:
        raise UserError(f"--{own[0]}: tune gives each trial its own run folder under --out; leave it out")
    return {**BUDGET, **given}


def search_space(fixed: dict) -> dict:
    """The settings searched: the model's SPACES less those fixed (and less label smoothing,
    which sampled negatives rule out)."""
    space = {k: v for k, v in SPACES[fixed.get("model", "mmmlp")].items() if k not in fixed}
    if fixed.get("negatives"):
        space.pop("label_smoothing", None)
    return space


def suggest(trial, space: dict) -> dict:
    drawn = {}
    for name, (kind, *args) in space.items():
        if kind == "choice":
            drawn[name] = trial.suggest_categorical(name, args[0])
        else:
            low, high, log = args
            drawn[name] = trial.suggest_float(name, low, high, log=log) if log else \
                round(trial.suggest_float(name, low, high, step=0.05), 2)
    return drawn


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UserError("tune needs Optuna, which is not installed; pip install 'tiny_mmmlp[tune]' "
                        "(or pip install optuna)") from None
    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:                       # Optuna 3.x
        from optuna.storages import JournalFileStorage as JournalFileBackend
    optuna.logging.set_verbosity(optuna.logging.WARNING)    # tune prints its own line per trial
    return optuna, JournalFileBackend


def open_study(out: Path, fixed: dict, seed: int):
    """The study of ``out`` (made on first use); one made with other fixed settings is refused.
    Trials an interrupted search left running are marked failed (tune holds the folder's lock)."""
    optuna, backend = _optuna()
    storage = optuna.storages.JournalStorage(backend(str(out / JOURNAL)))
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    key = json.dumps(fixed, sort_keys=True)
    saved = study.user_attrs.get("fixed")
    if saved is None:
        study.set_user_attr("fixed", key)
    elif saved != key:
        was = json.loads(saved)
        changed = sorted(k for k in set(was) | set(fixed) if was.get(k) != fixed.get(k))
        raise UserError(f"--out {out}: holds a search with other fixed settings ({', '.join(changed)}); "
                        f"repeat its flags to continue it, or give another --out")
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    # a new seed for each resumption, so the sampler does not draw the same settings again
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return optuna, study


class NoResult(Exception):
    """A trial whose settings do not go together or whose training failed: counted, not scored."""


def run_trial(trial, drawn: dict, fixed: dict, out: Path, verbose: int) -> tuple[dict, dict]:
    """Train one trial's run in ``out/trials/<number>`` (removed after); returns (its validation
    record, its settings). Ctrl-C inside training arrives as KeyboardInterrupt."""
    from .train import fit
    folder = out / "trials" / str(trial.number)
    try:
        cfg = RunConfig.resolve({**fixed, **drawn, "out": str(folder), "overwrite": True,
                                 "no_progress": verbose < 2})
    except UserError as err:
        raise NoResult(str(err)) from None
    level = LOGGER.level
    LOGGER.setLevel(logging.DEBUG if verbose >= 2 else logging.ERROR)    # a trial's own lines: --verbose
    try:
        result = fit(cfg, test=False)
    except SystemExit as stop:               # training's own Ctrl-C handling: the trial is dropped
        if stop.code in (130, 143):
            raise KeyboardInterrupt from None
        raise
    except UserError as err:                 # e.g. training diverged at these settings
        raise NoResult(str(err)) from None
    finally:
        LOGGER.setLevel(level)
    shutil.rmtree(folder, ignore_errors=True)
    return result, replace(cfg, out=None, overwrite=False, no_progress=False, verbose=1).to_dict()


def describe(trial, total: int, best: bool) -> str:
    u = trial.user_attrs
    drawn = "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
    return (f"trial {u['index']:>3}/{total}  valid NDCG@10 {trial.value:.4f}  HR@10 {u['valid']['HR@10']:.4f}  "
            f"(best epoch {u['best_epoch']} of {u['epochs']}, {u['seconds']:.0f} s)  {drawn}{'  *' if best else ''}")


def write_best(study, out: Path) -> Path | None:
    """``out/config.json``: the settings of the study's best trial, as train --config reads them."""
    try:
        best = study.best_trial
    except ValueError:                        # no finished trial yet
        return None
    settings = best.user_attrs["settings"]
    cfg = RunConfig.resolve({k: v for k, v in settings.items() if k not in OWN})
    save_config(out, cfg, write_text)
    return out / "config.json"


@exit_on_user_error(memory_advice=SIZES_ADVICE)
def main(argv=None):
    from .data.safe_names import safe_stem
    from .interrupts import held
    from .run_folder import RunLock
    args, rest = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    fixed = fixed_settings(["--data", args.data, *rest])
    _optuna()                                 # a missing Optuna is said before any folder is made
    verbose = fixed.pop("verbose", 1)
    fixed.pop("no_progress", None)            # how a search shows itself, not what it searches
    show_messages(verbose)
    RunConfig.resolve(fixed, flags=True)      # a wrong fixed flag is refused before any trial
    out = Path(args.out or Path("runs") / f"tune-{safe_stem(Path(str(fixed['data'])).name or 'data')}")
    with RunLock(out):
        optuna, study = open_study(out, fixed, fixed.get("seed", 0))
        space = search_space(fixed)
        for left_over in (out / "trials").glob("[0-9]*"):   # of trials an interrupted search cut short
            if left_over.name.isdigit() and left_over.is_dir() and not left_over.is_symlink():
                shutil.rmtree(left_over)
        done = lambda: [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                               optuna.trial.TrialState.PRUNED)]
        LOGGER.info(f"tune: {len(done())} of {args.trials} trials done in {out}; searching "
                    f"{', '.join(space) or 'nothing (every setting is fixed)'} by validation NDCG@10")

        trial = None
        try:
            while len(done()) < args.trials:
                with held():                 # Optuna's bookkeeping is never cut in half by Ctrl-C
                    trial = study.ask()
                    drawn = suggest(trial, space)
                try:
                    result, settings = run_trial(trial, drawn, fixed, out, verbose)
                except NoResult as why:
                    LOGGER.info(f"trial {len(done()) + 1}/{args.trials}: no result ({why})")
                    with held():
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        trial = None
                    continue
                with held():
                    index = len(done()) + 1
                    for key, value in (("settings", settings), ("valid", result["valid"]), ("index", index),
                                       ("best_epoch", result["best_epoch"]), ("epochs", result["epochs"]),
                                       ("seconds", result["seconds"])):
                        trial.set_user_attr(key, value)
                    finished, trial = study.tell(trial, result["valid"]["NDCG@10"]), None
                    best = study.best_trial.number == finished.number
                    LOGGER.info(describe(finished, args.trials, best))
                    if best:
                        write_best(study, out)
        except KeyboardInterrupt:
            if trial is not None:
                with held():
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            LOGGER.warning(f"\ninterrupted: {len(done())} of {args.trials} trials are done in {out}; "
                           f"run the same command again to continue")
            raise SystemExit(130) from None
        written = write_best(study, out)
        with contextlib.suppress(OSError):
            (out / "trials").rmdir()               # when no trial is left in it
    if written is None:
        raise UserError(f"no trial gave a result ({len(done())} tried); see the reasons above")
    best = study.best_trial
    LOGGER.info(f"best: trial {best.user_attrs['index']}, valid NDCG@10 {best.value:.4f}; wrote {written}\n"
                f"train it with: python -m tiny_mmmlp.train --config {written}")


if __name__ == "__main__":
    main()
