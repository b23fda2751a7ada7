"""Train MMMLP, evaluate it the way papers do, and save the run.

    python -m tiny_mmmlp.train                         # toyshop, NumPy backend, a few minutes
    python -m tiny_mmmlp.train --data ../shared/data/amazon/scientific --backend torch
    python -m tiny_mmmlp.train --modalities id         # the ID-only ablation
    python -m tiny_mmmlp.train --model sasrec --backend torch   # a baseline, same protocol

Protocol (DESIGN.md §4): leave-one-out per user, training examples are the prefixes of the
training part, full ranking over all items, ties against the target. Early stopping on
validation NDCG@10; the test metrics are those of the best validation epoch. The run
folder gets metrics.json, curves.png, model.npz and checkpoint.json + checkpoint-<sha>.npz
(for --resume; no pickle anywhere). A folder that holds a run is never silently replaced
(run_folder.py): continue it with --resume or replace it with --overwrite.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import shlex
import time
from pathlib import Path

from tqdm import tqdm

from . import data, distributed
from .averaging import with_average
from .backends import BACKENDS, make_backend
from .baselines import MODEL_DEFAULTS, MODELS, encoder_settings
from .checkpoint import load_checkpoint, save_checkpoint, save_model
from .data.atomic import write_text
from .cli import (OneLineParser, ema_decay, ema_warmup_k, finite_non_negative_float,
                  finite_positive_float, positive_int, seed_int)
from .config import DEFAULT_EMA, DEFAULT_EMA_WARMUP, MMMLPConfig, as_saved, field_help
from .errors import UserError, exit_on_user_error
from .evaluate import evaluate, popularity_metrics
from .metrics import METRIC_NAMES
from .preflight import check_device, check_memory
from .plots import plot_training_curves
from .run_folder import (RunLock, changed_flags, check_request, check_run_record, default_out, prepare,
                         run_peaks, same_folder)
from .schedule import SCHEDULES, lr_at

PROTOCOLS = {False: "history items not masked", True: "history items masked (target kept)"}
CONFIG_FLAGS = ("max_len", "d_model", "token_hidden", "channel_hidden", "n_layers",
                "fusion_layers", "fusion_dim", "dropout", "label_smoothing", "negatives")
PER_MODEL = tuple(MODEL_DEFAULTS["mmmlp"])          # flags whose defaults differ by --model
RESOLVED = (*PER_MODEL, "ema_warmup", "label_smoothing")   # defaults make_config resolves


def per_model_help(flag):
    return "default: " + ", ".join(f"{m} {MODEL_DEFAULTS[m][flag]}" for m in MODELS
                                   if flag in MODEL_DEFAULTS[m])


def build_parser():
    d = MMMLPConfig()
    p = OneLineParser(prog="python -m tiny_mmmlp.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="toyshop",
                   help=f"{data.SOURCES} (default: toyshop)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="numpy (the reference, CPU), torch (CPU or GPU) or triton (the fused "
                        "kernels, CUDA GPU) (default: numpy)")
    p.add_argument("--model", choices=MODELS, default="mmmlp",
                   help="mmmlp, or a baseline on the torch backend: sasrec (Kang & McAuley 2018: "
                        "2 causal self-attention blocks, 1 head, width 50, dropout 0.5, length 50) "
                        "or gru4rec (Hidasi et al. 2016: 1 GRU layer of 100 units, dropout 0.3, "
                        "length 50); with feature modalities they read them through MMMLP's "
                        "feature mixer branches (default: mmmlp)")
    p.add_argument("--encoder-layers", type=positive_int, default=None,
                   help="baselines: attention blocks / GRU layers (" + per_model_help("encoder_layers") + ")")
    p.add_argument("--heads", type=positive_int, default=None,
                   help="sasrec: attention heads (" + per_model_help("heads") + ")")
    p.add_argument("--device", default=None, help="cpu or cuda[:i] (torch/triton backends)")
    p.add_argument("--modalities", default="all",
                   help="comma-separated branches to use, e.g. id,text,image, or 'all' (default: "
                        "all, every one the data has)")
    p.add_argument("--epochs", type=positive_int, default=20,
                   help="most epochs to train; --patience may stop sooner (default: 20)")
    p.add_argument("--patience", type=positive_int, default=3,
                   help="stop after this many epochs without a better validation NDCG@10 (default: 3)")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="training sequences per step (default: 256)")
    p.add_argument("--eval-batch-size", type=positive_int, default=None,
                   help="users ranked at once in evaluation (memory: this times the item count; "
                        "default: --batch-size, so the numpy backend's workspaces serve both)")
    p.add_argument("--lr", type=finite_positive_float, default=None,
                   help="AdamW learning rate (" + per_model_help("lr") + ")")
    p.add_argument("--weight-decay", type=finite_non_negative_float, default=0.0,
                   help="AdamW's decoupled weight decay (default: 0)")
    p.add_argument("--ema", type=ema_decay, default=DEFAULT_EMA, metavar="DECAY",
                   help="evaluate, keep and save an exponential moving average of the weights, "
                        f"updated after every step with this decay (default {DEFAULT_EMA}; "
                        "0: off, the weights as trained)")
    p.add_argument("--ema-warmup", type=ema_warmup_k, default=None, metavar="K",
                   help="the average's decay at step t is min(DECAY, (1 + t) / (K + t)), so "
                        "that it does not lean on the initial weights early on: it spans about "
                        "the last 1/(K - 1) of the steps so far (default "
                        f"{DEFAULT_EMA_WARMUP} with --ema, the last half; 0: the plain decay)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the initial weights, the batch order and dropout (default: 0)")
    p.add_argument("--out", default=None,
                   help="run folder (default: runs/<data>-<modalities>-<backend>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (give the same training flags)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run that --out holds (default: refuse)")
    p.add_argument("--schedule", choices=SCHEDULES, default="constant",
                   help="learning rate after the warm-up: constant, or cosine decay to 0 at --epochs "
                        "(default: constant)")
    p.add_argument("--warmup-epochs", type=finite_non_negative_float, default=0.0,
                   help="linear learning-rate warm-up over this many epochs (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--mask-history", action="store_true",
                   help="evaluate with the user's history items removed from the ranking (the "
                        "target stays rankable); default: our protocol, nothing masked")
    about = field_help()                         # MMMLPConfig's own description of each field
    for f in CONFIG_FLAGS:
        if f in PER_MODEL:
            p.add_argument("--" + f.replace("_", "-"), type=type(getattr(d, f)), default=None,
                           help=f"{about[f].rstrip('.')} ({per_model_help(f)})")
        elif f == "label_smoothing":
            p.add_argument("--label-smoothing", type=float, default=None,
                           help=f"ε of the full-softmax loss (default {d.label_smoothing}, "
                                "or 0 with --negatives, which it cannot be combined with)")
        else:
            p.add_argument("--" + f.replace("_", "-"), type=type(getattr(d, f)), default=getattr(d, f),
                           help=f"{about[f].rstrip('.')} (default: {getattr(d, f)})")
    p.add_argument("--candidate-features", action=argparse.BooleanOptionalAction,
                   default=d.candidate_features,
                   help="also score candidates with a projection of their features (default: on)")
    p.add_argument("--history-bias", action=argparse.BooleanOptionalAction,
                   default=d.history_bias,
                   help="learn one score offset for items already in the user's history "
                        "(every model; on by default; the ranking protocol is unchanged)")
    return p


def make_config(args, modalities) -> MMMLPConfig:
    for f in PER_MODEL:                          # the run's saved flags say what it trained
        if getattr(args, f) is None:             # with: --model's default where not given
            setattr(args, f, MODEL_DEFAULTS[args.model][f])
    if args.ema_warmup is None:                  # likewise the average's K: 3 with --ema, else 0
        args.ema_warmup = DEFAULT_EMA_WARMUP if args.ema else 0
    for flag in ("encoder_layers", "heads"):     # a baseline's own encoder: refused, not ignored
        if getattr(args, flag) is not None and flag not in MODEL_DEFAULTS[args.model]:
            have = [m for m in MODELS if flag in MODEL_DEFAULTS[m]]
            raise UserError(f"--{flag.replace('_', '-')}: --model {args.model} has none "
                            f"(only {' and '.join(have)})")
    values = {f: getattr(args, f) for f in CONFIG_FLAGS}
    if args.model != "mmmlp" and "id" not in modalities:
        raise UserError(f"--modalities {args.modalities}: --model {args.model} always reads "
                        "item IDs, so the list must include id")
    heads = encoder_settings(args.model, args.encoder_layers, args.heads)["heads"]
    if heads and values["d_model"] % heads:
        raise UserError(f"--heads {heads}: must divide --d-model {values['d_model']}")
    try:
        cfg = MMMLPConfig(**values, candidate_features=args.candidate_features,
                          history_bias=args.history_bias, id_branch="id" in modalities)
    except ValueError as err:                   # "MMMLPConfig.<field> must ..." -> "--<flag>: must ..."
        head, _, rest = str(err).partition(" ")
        field = head.split(".")[-1]
        raise UserError(f"--{field.replace('_', '-')}: {rest}") from None
    args.label_smoothing = cfg.label_smoothing   # resolved too (0 with --negatives)
    return cfg


def choose_modalities(text, available) -> list:
    """Parse --modalities against what the data has ("id" is always available)."""
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


def metrics_table(rows: dict) -> str:
    """A plain-text table: one row per model, one column per metric."""
    head = f"{'':<12}" + "".join(f"{m:>10}" for m in METRIC_NAMES)
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        lines.append(f"{name:<12}" + "".join(f"{m[k]:>10.4f}" for k in METRIC_NAMES))
    return "\n".join(lines)


def run_epoch(backend, split, args, cfg, epoch) -> tuple[float, float]:
    """One pass over the training prefixes. Returns (mean loss, examples per second)."""
    n = data.n_train_examples(split.train)
    bar = tqdm(data.train_batches(split.train, cfg.max_len, args.batch_size, args.seed, epoch),
               total=math.ceil(n / args.batch_size), desc=f"epoch {epoch + 1}/{args.epochs}",
               unit="batch", leave=False, disable=args.no_progress)
    per_epoch = math.ceil(n / args.batch_size)
    warmup = round(args.warmup_epochs * per_epoch)
    total, seen, start = 0.0, 0, time.perf_counter()
    for batch, (item_seq, targets) in enumerate(bar, start=1):
        backend.set_lr(lr_at(epoch * per_epoch + batch - 1, args.epochs * per_epoch, args.lr,
                             warmup, args.schedule))
        loss = backend.step(item_seq, targets)
        if not math.isfinite(loss):
            raise UserError(f"training diverged: the loss is {loss} at epoch {epoch + 1}, batch {batch}; "
                            f"the last good checkpoint (after epoch {epoch}) is kept; "
                            f"try a smaller --lr")
        total += loss * len(targets)
        seen += len(targets)
        bar.set_postfix(loss=f"{loss:.3f}", ex_s=f"{seen / (time.perf_counter() - start):.0f}")
    return total / max(seen, 1), seen / (time.perf_counter() - start)


def eval_batch_of(args) -> int:
    """Users ranked at once in evaluation: --eval-batch-size, or the training batch."""
    return args.eval_batch_size or args.batch_size


def training_flags(args) -> dict:
    """The flags saved with a run and compared on --resume (plain JSON values)."""
    return {k: v for k, v in vars(args).items() if k not in ("resume", "overwrite")}


def saved_flags(flags: dict, config: dict) -> dict:
    """A run's saved training flags as they ran: a flag or config key missing from an older run
    at its old value (as_saved: the value before a default changed) or, for a flag added since
    the run (such as --ema), at its default, which is how the run trained; a per-model size
    saved as None (before runs saved the resolved value) at its saved config's."""
    defaults = {a.dest: a.default for a in build_parser()._actions if a.option_strings}
    saved = {**defaults, **as_saved(flags)}
    if saved.get("ema_warmup") is True:                     # a flag without a value before K
        saved["ema_warmup"] = 10                            # (the rule it ran: K = 10)
    saved.update({f: config[f] for f in PER_MODEL if saved.get(f) is None and f in CONFIG_FLAGS})
    return saved


def resume_command(args, out) -> str:
    """The full command that continues this run: every flag that differs from its default,
    where a default that depends on other flags (--model's sizes, the average's K, smoothing
    with --negatives) counts as resolved from those, as make_config resolves it."""
    parts = ["python", "-m", "tiny_mmmlp.train"]
    parser = build_parser()
    resolved = parser.parse_args(["--model", args.model, "--ema", str(args.ema),
                                  "--negatives", str(args.negatives)])
    make_config(resolved, ["id"])
    for action in parser._actions:
        key = action.dest
        if key in ("help", "resume", "overwrite", "out") or not action.option_strings:
            continue
        value = getattr(args, key)
        if value == action.default or (key in RESOLVED and value == getattr(resolved, key)):
            continue
        flag = action.option_strings[0]
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        else:
            parts += [flag, str(value)]
    return shlex.join(parts + ["--out", str(out), "--resume"])


def resume(ckpt, out, backend, args, meta) -> dict:
    """Load checkpoint ``ckpt`` of the run in ``out`` into ``backend``; refuse changed flags."""
    try:
        changed = changed_flags(saved_flags(ckpt["flags"], ckpt["meta"]["config"]), training_flags(args))
        if changed:
            raise UserError(f"--resume: {out} was trained with other flags ({'; '.join(changed)}); "
                            f"repeat the run's flags, or start a new run with --overwrite or another --out")
        saved = {**ckpt["meta"], "config": as_saved(ckpt["meta"]["config"], meta["config"])}
        if same_folder(saved.get("data"), meta["data"]):        # written another way: one folder
            saved["data"] = meta["data"]
        if saved != meta:
            raise UserError(f"--resume: {out} was trained with other settings or data")
        run = dict(ckpt["run"])
        check_run_record(run)
        backend.load_params(run["best_params"])               # checks the best copy too...
        backend.load_params(ckpt["params"])                   # ...then the current weights
        backend.load_state(ckpt["backend_state"])             # (last: --ema's trained weights)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a backend raises on state it cannot take
        raise UserError(f"--resume: {out / 'checkpoint.json'} does not fit this model "
                        f"({type(err).__name__}: {err})") from None
    return run


def train(args) -> dict:
    group = distributed.setup(args)            # under torchrun: this rank; else a group of one
    check_device(args.backend, args.device)
    if args.ema_warmup and not args.ema:
        raise UserError("--ema-warmup: --ema 0 turns the average off, so there is no decay to warm up")
    with group.main_first():                   # rank 0 fills the data caches, the others read them
        ds = data.load(args.data)
        modalities = choose_modalities(args.modalities, data.available_modalities(ds))
        cfg = make_config(args, modalities)
        widths = data.modality_widths(ds)
        check_memory(cfg, ds.n_items, [widths[m] for m in modalities if m != "id"], args.batch_size,
                     eval_batch_of(args), averaged=bool(args.ema))
        feats = data.build_features(ds, [m for m in modalities if m != "id"],
                                    progress=not args.no_progress)
    split = data.split_leave_one_out(ds)
    if len(split.valid_target) == 0:
        raise UserError(f"{args.data}: no user has 3 or more items, so no user can be validated "
                        f"and tested (leave-one-out needs 3 per user)")
    # the model is built before the run folder is claimed, so a size it refuses leaves no folder
    encoder = None if args.model == "mmmlp" else encoder_settings(args.model, args.encoder_layers,
                                                                  args.heads)
    backend = with_average(group.wrap(make_backend(args.backend, cfg, ds.n_items, feats, args.seed,
                                                   args.lr, args.weight_decay, args.device,
                                                   args.model, encoder), args.seed),
                           args.ema, args.ema_warmup)
    runner = args.backend if args.model == "mmmlp" else args.model
    out = Path(args.out) if args.out else default_out(ds.name, modalities, runner)
    lock = RunLock(out) if group.is_main else contextlib.nullcontext()   # rank 0 alone writes

    def claim():
        check_request(out, args.resume, args.overwrite)
        lock.__enter__()
        try:
            prepare(out, args.resume, args.overwrite)
        except BaseException:
            lock.__exit__(None, None, None)
            raise
    group.on_main(claim)                       # its one-sentence error reaches every rank
    try:
        return _train_locked(args, group, ds, modalities, cfg, split, out, backend, encoder)
    finally:
        lock.__exit__(None, None, None)


def _train_locked(args, group, ds, modalities, cfg, split, out, backend, encoder) -> dict:
    meta = {"config": cfg.to_dict(), "data": args.data, "data_name": ds.name,
            "modalities": modalities, "n_items": ds.n_items, "backend": args.backend,
            "mask_history": args.mask_history,
            "model": args.model, "encoder": encoder}
    run = {"epoch": 0, "history": [], "best": -1.0, "best_params": backend.params(),
           "bad_epochs": 0, "seconds": 0.0}
    eval_batch = eval_batch_of(args)
    if args.resume:
        ckpt = group.on_main(lambda: load_checkpoint(out))        # read once, sent to all ranks
        run = resume(ckpt, out, backend, args, meta)
        print(f"resuming {out} after epoch {run['epoch']}")

    def peaks_so_far() -> list:
        """Each rank's high-water mark so far, its earlier processes' included (a resumed run
        reports the peak of all of them, not only of the process that finishes it)."""
        return run_peaks(run.get("peak_memory_mib"), group.objects(distributed.peak_memory_mib()))

    on_disk = {"epoch": run["epoch"]}     # the epoch of the checkpoint a stop leaves behind

    def checkpoint():
        if group.is_main:
            save_checkpoint(out, {"meta": meta, "flags": training_flags(args),
                                  "params": backend.params(), "backend_state": backend.state(),
                                  "run": run})
        on_disk["epoch"] = run["epoch"]
        # kept for the next save; gathered after this one, so a dead rank cannot cost it
        run["peak_memory_mib"] = peaks_so_far()

    print(f"{ds.name}: {ds.n_users} users, {ds.n_items} items; modalities {','.join(modalities)}; "
          f"model {args.model}; backend {args.backend}; {data.n_train_examples(split.train)} training examples")
    if not args.resume:
        checkpoint()
    try:
        while run["epoch"] < args.epochs and run["bad_epochs"] < args.patience:
            start = time.perf_counter()
            loss, speed = run_epoch(backend, split, args, cfg, run["epoch"])
            valid = evaluate(backend, split.valid_history, split.valid_target, cfg.max_len,
                             eval_batch, mask_history=args.mask_history)
            run["seconds"] += time.perf_counter() - start
            run["epoch"] += 1
            run["history"].append({"epoch": run["epoch"], "loss": loss, "valid": valid,
                                   "examples_per_s": speed})
            better = valid["NDCG@10"] > run["best"]
            if better:
                run.update(best=valid["NDCG@10"], best_params=backend.params(), bad_epochs=0,
                           best_epoch=run["epoch"], best_valid=valid)
            else:
                run["bad_epochs"] += 1
            print(f"epoch {run['epoch']:>3}  loss {loss:.4f}  valid HR@10 {valid['HR@10']:.4f}  "
                  f"NDCG@10 {valid['NDCG@10']:.4f}  {speed:,.0f} ex/s{'  *' if better else ''}",
                  flush=True)
            checkpoint()
    except (KeyboardInterrupt, distributed.RankStopped) as stop:
        print(f"\ninterrupted: the checkpoint after epoch {on_disk['epoch']} is in {out}; "
              f"continue with: {resume_command(args, out)}")
        raise SystemExit(143 if isinstance(stop, distributed.Terminated) else 130) from None

    backend.load_params(run["best_params"])
    test = evaluate(backend, split.test_history, split.test_target, cfg.max_len,
                    eval_batch, mask_history=args.mask_history)
    popular = popularity_metrics(split.train, ds.n_items, split.test_target,
                                 split.test_history if args.mask_history else None)
    protocol = PROTOCOLS[args.mask_history]
    print(f"\ntest metrics (best validation epoch {run.get('best_epoch', 0)}, full ranking over "
          f"{ds.n_items} items, {protocol}, {len(split.test_target)} users):")
    print(metrics_table({args.model: test, "popularity": popular}))
    result = {"valid": run.get("best_valid", {}), "test": test, "popularity": popular,
              "backend": args.backend, "model": args.model, "encoder": encoder,
              "protocol": protocol,
              "mask_history": args.mask_history, "epochs": run["epoch"], "best_epoch": run.get("best_epoch"),
              "seconds": round(run["seconds"], 2),
              "seconds_per_epoch": round(run["seconds"] / max(run["epoch"], 1), 2),
              "data": args.data, "modalities": modalities, "seed": args.seed,
              "config": cfg.to_dict(), "history": run["history"],
              "args": training_flags(args),
              "world_size": group.world_size,
              "peak_memory_mib": peaks_so_far()}
    group.close()
    if not group.is_main:
        return result
    write_text(out / "metrics.json", json.dumps(result, indent=2, allow_nan=False))
    save_model(out, run["best_params"], meta)
    if plot_training_curves(run["history"], out / "curves.png", f"{ds.name} ({args.model}, {args.backend})"):
        print(f"wrote {out / 'metrics.json'}, {out / 'curves.png'} and {out / 'model.npz'}")
    return result


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with distributed.terminate_as_interrupt():
            train(args)
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
