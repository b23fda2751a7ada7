"""Train MMMLP, evaluate it the way papers do, and save the run.

    python -m tiny_mmmlp.train                         # toyshop, NumPy backend, about a minute
    python -m tiny_mmmlp.train --data path/to/scientific --backend torch
    python -m tiny_mmmlp.train --modalities id         # the ID-only ablation
    python -m tiny_mmmlp.train --model sasrec          # a baseline, same protocol (torch)
    python -m tiny_mmmlp.train --config runs/x/config.json --seed 1   # repeat a run, one change

Reads as parse → resolve → fit: the flags become a frozen ``RunConfig`` (run_config.py),
and ``fit`` trains with it. Protocol (metrics.py): leave-one-out per user, training
examples are the prefixes of the training part, full ranking over all items, ties against
the target; early stopping on validation NDCG@10, the test metrics of the best validation
epoch. The run folder gets config.json, metrics.json, curves.png, model.safetensors and
checkpoint.json + checkpoint-<sha>.npz (for --resume; no pickle anywhere). A folder that
holds a run is never silently replaced (run_folder.py).
"""
from __future__ import annotations

import contextlib
import json
import shlex
import warnings
from dataclasses import replace
from pathlib import Path

from . import data, distributed
from .averaging import with_average
from .backends import make_backend
from .checkpoint import load_checkpoint
from .errors import SIZES_ADVICE, UserError, brief, exit_on_user_error
from .files import write_text
from .model_card import write_model_card
from .model_config import ABSENT_MEANS, MMMLPConfig
from .model_file import fingerprints, save_model
from .plots import plot_training_curves
from .preflight import check_device, check_memory
from .progress import LOGGER, show_messages
from .ranking import PROTOCOLS, evaluate, metrics_table, popularity_metrics
from .run_config import (
    FREE_ON_RESUME,
    SAMPLED_ABOVE,
    RunConfig,
    flag_name,
    save_config,
    saved_as_today,
    shared_settings,
    shared_source,
)
from .run_folder import RunLock, check_request, default_out, first_free, prepare
from .run_record import Run, RunRecord
from .training_loop import showing_progress, train_epochs


def choose_modalities(text, available) -> list:
    """Parse the modalities setting against what the data has ("id" is always available)."""
    found = ["id"] + list(available)
    if text == "all":
        return found
    wanted = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in found]
    twice = sorted({m for m in wanted if wanted.count(m) > 1})
    if unknown or twice or not wanted:
        what = (f"no modality {', '.join(unknown)} in this data" if unknown else
                f"{', '.join(twice)} given twice" if twice else "no modality given")
        raise UserError(f"--modalities {text!r}: {what}; it has {', '.join(found)} (or give 'all')")
    return wanted


def resume_command(cfg: RunConfig, data_name: str | None = None) -> str:
    """The command that continues this run: its saved configuration, resumed in its folder
    (config.json keeps neither the folder nor a path as data, so both are given)."""
    data = ["--data", cfg.data] if shared_settings(cfg, data_name)["data"] != cfg.data else []
    return shlex.join(["python", "-m", "tiny_mmmlp.train", "--config", str(Path(cfg.out) / "config.json"),
                       "--resume", "--out", str(cfg.out), *data])


def fit(cfg: RunConfig, test: bool = True) -> dict:
    """Train with a resolved RunConfig; returns the run's metrics (as metrics.json holds them).
    Without ``cfg.out``, the run goes to the default folder, or to the first of ``-2``, ``-3``, ...
    beside it that holds no run. ``test=False`` (a tuning trial): the validation figures only;
    the test split is never ranked, and the run folder keeps its settings and last checkpoint,
    no model."""
    group = distributed.setup(cfg.backend, cfg.device)   # under torchrun: this rank; else a group of one
    check_device(cfg.backend, group.device)
    run = build_run(cfg, group)
    with contextlib.ExitStack() as held:       # the run lock, released however the run ends
        group.on_main(lambda: claim(run, held))          # its one-sentence error reaches every rank
        record = resumed(run) if run.cfg.resume else None
        ds = run.ds
        sampled = (f"; sampled softmax over {run.cfg.negatives} negatives, the default above {SAMPLED_ABOVE:,} "
                   f"items (--negatives 0: the full softmax)" if run.auto_negatives and run.cfg.negatives else "")
        dropout = f"; dropout {run.cfg.dropout}, by the training set's size" if run.auto_dropout else ""
        LOGGER.info(f"{ds.name}: {ds.n_users} users, {ds.n_items} items; modalities {','.join(run.modalities)}; "
                    f"model {cfg.model}; backend {cfg.backend}; {data.n_train_examples(run.split.train)} training "
                    f"examples{sampled}{dropout}")
        record = train_epochs(run, record, resume_command(run.cfg, ds.name))
        if not test:                           # a tuning trial: validation only
            return {"valid": record.best_valid or {}, "best_epoch": record.best_epoch, "epochs": record.epoch,
                    "history": record.history, "seconds": round(record.seconds, 2), "settings": cfg.to_dict()}
        return finish(run, record)


def load_data(cfg: RunConfig, group):
    """(settings, Dataset, split, modalities, MMMLPConfig, feature tables) of the run, checked
    against the settings; the settings come back with the loss that follows the catalogue's
    size and the dropout that follows the training set's (``RunConfig.for_data``)."""
    with group.main_first():                   # rank 0 fills the data caches, the others read them
        try:
            ds = data.load(cfg.data, pictures=cfg.pictures, progress=showing_progress(cfg, group),
                           max_download_mb=cfg.max_download_mb)
        except UserError as err:               # "<source>: ..." names the setting it came from
            raise (UserError(f"--data {err}") if str(err).startswith(f"{cfg.data}:") else err) from None
        split = data.split_leave_one_out(ds)
        cfg = cfg.for_data(ds.n_items, data.n_train_examples(split.train))   # the loss, the dropout
        if cfg.negatives > ds.n_items:
            raise UserError(f"--negatives {cfg.negatives}: {ds.name} has only {ds.n_items} items; "
                            f"use at most {ds.n_items} (or 0 for the full softmax)")
        if ds.n_items <= 10 and group.is_main:
            warnings.warn(f"{ds.name} has only {ds.n_items} items, so HR@10 and NDCG@10 rank every item "
                          f"in the top 10 (HR@10 is 1.0 whatever the model); use more items to compare models.")
        modalities = choose_modalities(cfg.modalities, data.available_modalities(ds))
        model_cfg = cfg.model_config(modalities)
        encoders = {"image_encoder": cfg.image_encoder, "text_encoder": cfg.text_encoder}
        widths = data.modality_widths(ds, **encoders)
        check_memory(model_cfg, ds.n_items, [widths[m] for m in modalities if m != "id"], cfg.batch_size,
                     cfg.eval_batch(), averaged=bool(cfg.ema))
        feats = data.build_features(ds, [m for m in modalities if m != "id"],
                                    progress=showing_progress(cfg, group), **encoders)
    return cfg, ds, split, modalities, model_cfg, feats


def build_run(cfg: RunConfig, group) -> Run:
    """The data, the split, the backend and the run folder's name: everything before the folder
    is claimed, so a size the model refuses leaves no folder."""
    auto_negatives, auto_dropout = cfg.negatives is None, cfg.dropout is None
    cfg, ds, split, modalities, model_cfg, feats = load_data(cfg, group)
    if len(split.valid_target) == 0:
        raise UserError(f"{cfg.data}: no user has 3 or more items, so no user can be validated "
                        f"and tested (leave-one-out needs 3 per user)")
    backend = with_average(group.wrap(make_backend(cfg.backend, model_cfg, ds.n_items, feats, cfg.seed,
                                                   cfg.lr, cfg.weight_decay, group.device, cfg.model,
                                                   cfg.encoder()), cfg.seed),
                           cfg.ema, cfg.ema_warmup)
    runner = cfg.backend if cfg.model == "mmmlp" else cfg.model
    out = Path(cfg.out) if cfg.out else default_out(ds.name, modalities if cfg.modalities != "all" else
                                                    ["all"], runner)
    if not cfg.out:                            # the default folder, or a new one beside it if it holds a run
        free = out if cfg.resume or cfg.overwrite else group.on_main(lambda: first_free(out))   # one for all ranks
        out = Path(free).resolve()
    cfg = replace(cfg, out=str(out))           # the run folder, now that the data names it
    meta = {"config": model_cfg.to_dict(), "data": shared_source(cfg.data, ds.name), "data_name": ds.name,
            "modalities": modalities, "n_items": ds.n_items, "backend": cfg.backend,
            "mask_history": cfg.mask_history, "model": cfg.model, "encoder": cfg.encoder(),
            "fingerprints": fingerprints(ds, feats)}
    return Run(cfg, group, ds, split, model_cfg, backend, out, meta, feats, modalities, auto_negatives,
               auto_dropout)


def claim(run: Run, held: contextlib.ExitStack) -> None:
    """Take the run folder (rank 0): refuse one that holds another run unless resumed or
    overwritten, hold its lock in ``held`` for the life of the run, save the configuration."""
    cfg = run.cfg
    check_request(run.out, cfg.resume, cfg.overwrite)
    held.enter_context(RunLock(run.out))
    prepare(run.out, cfg.resume, cfg.overwrite)
    if not cfg.resume:
        save_config(run.out, cfg, write_text, run.ds.name)


def resumed(run: Run) -> RunRecord:
    """The record of the checkpoint in the run folder, its state loaded into the backend;
    refuses a run made with other settings or other data."""
    cfg, out, backend = run.cfg, run.out, run.backend
    ckpt = run.group.on_main(lambda: load_checkpoint(out))    # read once, sent to all ranks
    try:
        name = run.meta["data_name"]        # a checkpoint of an older version kept the data's path
        now = shared_settings(cfg, name)                        # as the checkpoint keeps them
        saved = saved_as_today(ckpt["settings"], now, name)     # a setting newer than the run too
        ckpt["meta"] = {**ckpt["meta"], "data": shared_source(str(ckpt["meta"].get("data")), name)}
        if "config" in ckpt["meta"]:        # the model's fields too, newer ones read as the settings are
            old = ckpt["meta"]["config"]
            ckpt["meta"]["config"] = MMMLPConfig.from_dict(
                {**{k: saved[k] for k in ABSENT_MEANS if k not in old and k in saved}, **old}).to_dict()
        changed = [f"{flag_name(k)} {saved[k]} -> {v}" for k, v in now.items()
                   if k not in FREE_ON_RESUME and saved[k] != v]
        if changed or set(saved) - set(now) - set(FREE_ON_RESUME):
            raise UserError(f"--resume: {out} was trained with other settings ({'; '.join(changed) or 'another set'}); "
                            f"repeat them (--config {out / 'config.json'}), or start a new run with "
                            f"--overwrite or another --out")
        if ckpt["meta"]["fingerprints"] != run.meta["fingerprints"]:
            raise UserError(f"--resume: the data {cfg.data} (--data) changed since {out} was trained (its users, "
                            f"items, interactions or features differ); start a new run with --overwrite "
                            f"or another --out")
        if ckpt["meta"] != run.meta:
            raise UserError(f"--resume: {out} was trained with other settings or data")
        record = RunRecord.from_saved(dict(ckpt["run"]))
        backend.load_params(record.best_params)               # checks the best copy too...
        backend.load_params(ckpt["params"])                   # ...then the current weights
        backend.load_state(ckpt["backend_state"])             # (last: the average's trained weights)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a backend raises on state it cannot take
        raise UserError(f"--resume: {out / 'checkpoint.json'} does not fit this model ({brief(err)})") from None
    LOGGER.info(f"resuming {out} after epoch {record.epoch}")
    return record


def finish(run: Run, record: RunRecord) -> dict:
    """Test the best weights, print the table, write metrics.json, the model and the curves."""
    cfg, group, ds, split, backend, out = run.cfg, run.group, run.ds, run.split, run.backend, run.out
    backend.load_params(record.best_params)
    test = evaluate(backend, split.test_history, split.test_target, run.model_cfg.max_len,
                    cfg.eval_batch(), mask_history=cfg.mask_history)
    popular = popularity_metrics(split.train, ds.n_items, split.test_target,
                                 split.test_history if cfg.mask_history else None)
    protocol = PROTOCOLS[cfg.mask_history]
    LOGGER.info(f"\ntest metrics (best validation epoch {record.best_epoch or 0}, full ranking over "
                f"{ds.n_items} items, {protocol}, {len(split.test_target)} users):")
    LOGGER.info(metrics_table({cfg.model: test, "popularity": popular}))
    result = {"valid": record.best_valid or {}, "test": test, "popularity": popular,
              "backend": cfg.backend, "model": cfg.model, "encoder": cfg.encoder(), "protocol": protocol,
              "mask_history": cfg.mask_history, "epochs": record.epoch, "best_epoch": record.best_epoch,
              "seconds": round(record.seconds, 2),
              "seconds_per_epoch": round(record.seconds / max(record.epoch, 1), 2),
              "data": cfg.data, "modalities": run.modalities, "seed": cfg.seed,
              "config": run.model_cfg.to_dict(), "history": record.history, "settings": cfg.to_dict(),
              "world_size": group.world_size, "peak_memory_mib": record.peak_memory_mib}
    group.close()
    if not group.is_main:
        return result
    shared = {**result, "data": run.meta["data"], "settings": shared_settings(cfg, ds.name)}   # no path
    write_text(out / "metrics.json", json.dumps(shared, indent=2, allow_nan=False))
    save_model(out, record.best_params, {**run.meta, "settings": shared["settings"]}, ds, run.feats)
    write_model_card(out, shared, ds)
    if plot_training_curves(record.history, out / "curves.png", f"{ds.name} ({cfg.model}, {cfg.backend})"):
        LOGGER.info(f"wrote {out / 'metrics.json'}, {out / 'curves.png'} and {out / 'model.safetensors'}")
    return result


@exit_on_user_error(memory_advice=SIZES_ADVICE)
def main(argv=None):
    from .run_flags import parse_settings
    cfg = RunConfig.resolve(parse_settings(argv), flags=True)
    show_messages(cfg.verbose)
    try:
        with distributed.terminate_as_interrupt():
            fit(cfg)
    except distributed.RankStopped:              # its one line is on stderr already
        raise SystemExit(1) from None
    finally:
        if distributed.launched_by_torchrun():
            distributed.shutdown()


if __name__ == "__main__":
    if distributed.launched_by_torchrun():
        distributed.run_then_exit(main)      # a worker leaves without the interpreter's teardown
    else:
        main()
