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

import json
import shlex
import warnings
from dataclasses import replace
from pathlib import Path

from . import data, distributed
from .averaging import with_average
from .backends import make_backend
from .checkpoint import load_checkpoint, save_model
from .errors import SIZES_ADVICE, UserError, exit_on_user_error
from .files import write_text
from .model_file import fingerprints
from .plots import plot_training_curves
from .preflight import check_device, check_memory
from .ranking import evaluate, popularity_metrics
from .run_config import FREE_ON_RESUME, SAMPLED_ABOVE, RunConfig, flag_name, save_config
from .run_folder import RunLock, check_request, check_run_record, default_out, prepare
from .training_loop import PROTOCOLS, metrics_table, train_epochs


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


def resume_command(cfg: RunConfig) -> str:
    """The command that continues this run: its saved configuration, resumed."""
    return shlex.join(["python", "-m", "tiny_mmmlp.train", "--config", str(Path(cfg.out) / "config.json"),
                       "--resume"])


def fit(cfg: RunConfig) -> dict:
    """Train with a resolved RunConfig; returns the run's metrics (as metrics.json holds them)."""
    group = distributed.setup(cfg.backend, cfg.device)   # under torchrun: this rank; else a group of one
    check_device(cfg.backend, group.device)
    with group.main_first():                   # rank 0 fills the data caches, the others read them
        try:
            ds = data.load(cfg.data, pictures=cfg.pictures, progress=not cfg.no_progress and group.is_main,
                           max_download_mb=cfg.max_download_mb)
        except UserError as err:               # "<source>: ..." names the setting it came from
            raise (UserError(f"--data {err}") if str(err).startswith(f"{cfg.data}:") else err) from None
        auto_negatives = cfg.negatives is None
        cfg = cfg.for_items(ds.n_items)        # the loss that follows the catalogue's size
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
                                    progress=not cfg.no_progress and group.is_main, **encoders)
    split = data.split_leave_one_out(ds)
    if len(split.valid_target) == 0:
        raise UserError(f"{cfg.data}: no user has 3 or more items, so no user can be validated "
                        f"and tested (leave-one-out needs 3 per user)")
    # the model is built before the run folder is claimed, so a size it refuses leaves no folder
    backend = with_average(group.wrap(make_backend(cfg.backend, model_cfg, ds.n_items, feats, cfg.seed,
                                                   cfg.lr, cfg.weight_decay, group.device, cfg.model,
                                                   cfg.encoder()), cfg.seed),
                           cfg.ema, cfg.ema_warmup)
    runner = cfg.backend if cfg.model == "mmmlp" else cfg.model
    out = Path(cfg.out) if cfg.out else default_out(ds.name, modalities if cfg.modalities != "all" else
                                                    ["all"], runner).resolve()
    cfg = replace(cfg, out=str(out))           # the run folder, now that the data names it
    meta = {"config": model_cfg.to_dict(), "data": cfg.data, "data_name": ds.name,
            "modalities": modalities, "n_items": ds.n_items, "backend": cfg.backend,
            "mask_history": cfg.mask_history, "model": cfg.model, "encoder": cfg.encoder(),
            "fingerprints": fingerprints(ds, feats)}
    lock = RunLock(out) if group.is_main else None       # rank 0 alone writes

    def claim():
        check_request(out, cfg.resume, cfg.overwrite)
        lock.__enter__()
        try:
            prepare(out, cfg.resume, cfg.overwrite)
            if not cfg.resume:
                save_config(out, cfg, write_text)
        except BaseException:
            lock.__exit__(None, None, None)
            raise
    group.on_main(claim)                       # its one-sentence error reaches every rank
    try:
        run = resumed(cfg, group, out, backend, meta) if cfg.resume else None
        print(f"{ds.name}: {ds.n_users} users, {ds.n_items} items; modalities {','.join(modalities)}; "
              f"model {cfg.model}; backend {cfg.backend}; {data.n_train_examples(split.train)} training examples"
              + (f"; sampled softmax over {cfg.negatives} negatives, the default above {SAMPLED_ABOVE:,} items "
                 f"(--negatives 0: the full softmax)" if auto_negatives and cfg.negatives else ""))
        run = train_epochs(cfg, group, split, model_cfg, backend, out, meta, run, resume_command(cfg))
        return finish(cfg, group, ds, split, model_cfg, backend, out, meta, feats, run, modalities)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


def resumed(cfg: RunConfig, group, out: Path, backend, meta: dict) -> dict:
    """The run record of the checkpoint in ``out``, its state loaded into ``backend``; refuses
    a run made with other settings or other data."""
    ckpt = group.on_main(lambda: load_checkpoint(out))        # read once, sent to all ranks
    try:
        saved = ckpt["settings"]
        changed = [f"{flag_name(k)} {saved[k]} -> {v}" for k, v in cfg.to_dict().items()
                   if k not in FREE_ON_RESUME and k in saved and saved[k] != v]
        if changed or set(saved) != set(cfg.to_dict()):
            raise UserError(f"--resume: {out} was trained with other settings ({'; '.join(changed) or 'another set'}); "
                            f"repeat them (--config {out / 'config.json'}), or start a new run with "
                            f"--overwrite or another --out")
        if ckpt["meta"]["fingerprints"] != meta["fingerprints"]:
            raise UserError(f"--resume: the data {cfg.data} changed since {out} was trained (its users, "
                            f"items, interactions or features differ); start a new run with --overwrite "
                            f"or another --out")
        if ckpt["meta"] != meta:
            raise UserError(f"--resume: {out} was trained with other settings or data")
        run = dict(ckpt["run"])
        check_run_record(run)
        backend.load_params(run["best_params"])               # checks the best copy too...
        backend.load_params(ckpt["params"])                   # ...then the current weights
        backend.load_state(ckpt["backend_state"])             # (last: the average's trained weights)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a backend raises on state it cannot take
        raise UserError(f"--resume: {out / 'checkpoint.json'} does not fit this model "
                        f"({type(err).__name__}: {err})") from None
    print(f"resuming {out} after epoch {run['epoch']}")
    return run


def finish(cfg, group, ds, split, model_cfg, backend, out, meta, feats, run, modalities) -> dict:
    """Test the best weights, print the table, write metrics.json, the model and the curves."""
    backend.load_params(run["best_params"])
    test = evaluate(backend, split.test_history, split.test_target, model_cfg.max_len,
                    cfg.eval_batch(), mask_history=cfg.mask_history)
    popular = popularity_metrics(split.train, ds.n_items, split.test_target,
                                 split.test_history if cfg.mask_history else None)
    protocol = PROTOCOLS[cfg.mask_history]
    print(f"\ntest metrics (best validation epoch {run.get('best_epoch', 0)}, full ranking over "
          f"{ds.n_items} items, {protocol}, {len(split.test_target)} users):")
    print(metrics_table({cfg.model: test, "popularity": popular}))
    result = {"valid": run.get("best_valid", {}), "test": test, "popularity": popular,
              "backend": cfg.backend, "model": cfg.model, "encoder": cfg.encoder(), "protocol": protocol,
              "mask_history": cfg.mask_history, "epochs": run["epoch"], "best_epoch": run.get("best_epoch"),
              "seconds": round(run["seconds"], 2),
              "seconds_per_epoch": round(run["seconds"] / max(run["epoch"], 1), 2),
              "data": cfg.data, "modalities": modalities, "seed": cfg.seed,
              "config": model_cfg.to_dict(), "history": run["history"], "settings": cfg.to_dict(),
              "world_size": group.world_size, "peak_memory_mib": run["peak_memory_mib"]}
    group.close()
    if not group.is_main:
        return result
    write_text(out / "metrics.json", json.dumps(result, indent=2, allow_nan=False))
    save_model(out, run["best_params"], {**meta, "settings": cfg.to_dict()}, ds, feats)
    if plot_training_curves(run["history"], out / "curves.png", f"{ds.name} ({cfg.model}, {cfg.backend})"):
        print(f"wrote {out / 'metrics.json'}, {out / 'curves.png'} and {out / 'model.safetensors'}")
    return result


@exit_on_user_error(memory_advice=SIZES_ADVICE)
def main(argv=None):
    from .run_flags import parse_settings
    cfg = RunConfig.resolve(parse_settings(argv), flags=True)
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
