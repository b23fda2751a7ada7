"""MMMLP beside SASRec and GRU4Rec on the same split, metrics and machine: one table each.

    python benchmarks/compare.py quality    # every model x {ID only, all modalities} on
                                            # scientific and instruments, ID only on beauty;
                                            # 3 seeds for mmmlp and sasrec, 1 for gru4rec
    python benchmarks/compare.py scaling    # time per 1,000 training examples and peak RSS
                                            # of mmmlp and sasrec at max length 50, 200, 800
    python benchmarks/compare.py memory     # peak RSS of each row: one epoch of its seed 0
    python benchmarks/compare.py table      # rewrite compare.md from the finished runs

Every run is ``python -m tiny_mmmlp.train`` in a subprocess (which records its own peak
resident memory, VmHWM) with each model's defaults, its default backend included (NumPy for
MMMLP, torch for the baselines; torch for every model with --device), and the same --epochs
and --patience for every model. A run folder that already holds a
result is reused, and an unfinished one is continued with --resume, so the same command
completes a table that was stopped; a finished one that trained with other flags (another
era's defaults, another --flags) is refused, never tabled. Writes benchmarks/results/compare.md.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from training_run import (  # noqa: E402
    AMAZON_HELP,
    AMAZON_ROOT,
    id_only_steps,
    masked_test,
    read_record,
    run_training,
    started,
    stop_on_sigterm,
    stop_runs,
)

from tiny_mmmlp.errors import UserError, exit_on_user_error  # noqa: E402
from tiny_mmmlp.files import write_text  # noqa: E402

OUT = ROOT / "benchmarks/results/compare.md"
SEEDS = {"mmmlp": 3, "sasrec": 3, "gru4rec": 3}
ID_ONLY_SETS = ("beauty",)


def data_source(data_root, name) -> str:
    """--data of a set: a built-in one by its name (toyshop, toyshop-tiny), else its folder
    under --data-root."""
    from tiny_mmmlp.data import BUILT_IN
    return name if name in BUILT_IN else str(Path(data_root) / name)


def has_data(data_root, name) -> bool:
    """Whether set ``name``'s --data is there: a built-in set always, a folder if it exists."""
    from tiny_mmmlp.data import BUILT_IN
    return name in BUILT_IN or Path(data_source(data_root, name)).is_dir()


def plan(sets, models, seeds, data_root):
    """(set, model, modalities label, seed) of every quality run, the most wanted first:
    seed 0 of every set, model and modality before any further seed, so that a table
    stopped early still has one row for everything."""
    from tiny_mmmlp import data
    mods = {}
    for name in sets:
        mods[name] = ["id"]
        if name not in ID_ONLY_SETS and data.available_modalities(data.load(data_source(data_root, name))):
            mods[name].append("all")
    return [(name, m, mod, seed) for seed in range(max(seeds[m] for m in models))
            for name in sets for m in models if seed < seeds[m] for mod in mods[name]]


def seeds_of(args) -> dict:
    """Seeds per model: SEEDS, or at most --seeds of them (a first pass of a variant)."""
    most = getattr(args, "seeds", 0)
    return {m: min(n, most) if most else n for m, n in SEEDS.items()}


DEFAULT_SETS, DEFAULT_MODELS = "scientific,instruments,beauty", "mmmlp,sasrec,gru4rec"


def variant_flags(args) -> str:
    """The options that make a variant of the standard runs (fewer sets, models or seeds,
    more flags), as the table's command shows them."""
    out = ""
    for flag, default in (("sets", DEFAULT_SETS), ("models", DEFAULT_MODELS)):
        if getattr(args, flag, default) != default:
            out += f" --{flag} {getattr(args, flag)}"
    out += f" --seeds {args.seeds}" if getattr(args, "seeds", 0) else ""
    return out + (f" --flags={shlex.quote(args.flags)}" if getattr(args, "flags", "") else "")


def run_dir(runs_dir, name, model, mods, seed):
    return Path(runs_dir) / f"{name}-{model}-{mods}-s{seed}"


def train_once(cmd, out):
    """Run one training subprocess; returns its result record (also written to out).
    A folder with a checkpoint is resumed: an unfinished run continues, and a finished one
    whose record was not written (the table stopped in between) is evaluated again, not
    refused as a run already there."""
    if any(out.glob("checkpoint*")):
        cmd = [*cmd, "--resume"]
    m, peak_rss_gb, wall_s = run_training(cmd, out)
    record = {k: m[k] for k in ("valid", "test", "popularity", "epochs", "best_epoch", "seconds_per_epoch",
                                "seed", "modalities", "config", "encoder")}
    record.update(peak_rss_gb=peak_rss_gb, peak_rss_source="VmHWM", wall_s=wall_s,
                  command=" ".join(cmd[2:]), threads=os.environ.get("OMP_NUM_THREADS", "default"))
    write_text(out / "compare.json", json.dumps(record, indent=2))
    return with_evaluations(out, record, source=cmd[cmd.index("--data") + 1])


def with_evaluations(out: Path, record: dict, metrics: dict | None = None, source=None) -> dict:
    """``record`` with "valid" (the best epoch's validation metrics, from the run's metrics.json,
    for a record from before it kept them) and "test_masked" (the run's saved model under
    --mask-history's protocol), each found once, then kept in its compare.json. ``metrics``: the
    run's metrics.json when the caller has read it already; ``source``: the run's data."""
    before = dict(record)
    if "valid" not in record and (metrics is not None or (out / "metrics.json").exists()):
        record["valid"] = (metrics or read_record(out / "metrics.json"))["valid"]
    if "test_masked" not in record:
        record["test_masked"] = masked_test(out, source)
    if record != before:
        write_text(out / "compare.json", json.dumps(record, indent=2))
    return record


@functools.cache
def data_sizes(source: str) -> tuple[int, int]:
    """(items, training examples) of the set ``source``: what the defaults that follow the
    data's size are decided by (``RunConfig.for_data``)."""
    from tiny_mmmlp import data
    ds = data.load(source)
    return ds.n_items, data.n_train_examples(data.split_leave_one_out(ds).train)


def check_flags(args, run) -> dict | None:
    """Refuse a finished run of ``run`` (set, model, modalities, seed) that trained with other
    flags than the request's, e.g. one copied in from another era's runs folder: its result
    would stand in the table for runs it is not. Compared as --resume compares them (defaults
    resolved on both sides), plus --epochs and --patience, which are the table's budget.
    Returns the finished run's metrics.json (None when the run has not finished)."""
    from tiny_mmmlp.run_config import FREE_ON_RESUME, flag_name, saved_as_today, shared_settings
    from tiny_mmmlp.run_flags import resolve_flags
    out = run_dir(args.runs_dir, *run)
    path = out / "metrics.json"
    if not (out / "compare.json").exists() or not path.exists():
        return None
    metrics = read_record(path)
    if not isinstance(metrics.get("settings"), dict):
        raise UserError(f"{out}: written by an older version of tiny_mmmlp (no settings in its "
                        f"metrics.json); move it out of --runs-dir")
    cmd, _ = quality_command(args, *run)
    given = resolve_flags(cmd[3:])
    wanted = shared_settings(given.for_data(*data_sizes(given.data)))   # data by name, as saved
    saved = metrics["settings"]
    free = set(FREE_ON_RESUME) - {"epochs", "patience"}
    saved = saved_as_today(saved, wanted, Path(wanted["data"]).name)   # an older run: its path, newer settings
    changed = [f"{flag_name(k)} {saved[k]} -> {v}" for k, v in wanted.items()
               if k not in free and saved[k] != v and v is not None]
    if changed:
        raise UserError(f"{out}: finished with other flags than this table asks for "
                        f"({'; '.join(changed)}); move it out of --runs-dir or give the table its own")
    return metrics


def quality(args):
    """Every planned run not yet finished, --jobs at a time (each one a training subprocess);
    the table is rewritten after each run ends."""
    runs = plan(args.sets.split(","), args.models.split(","), seeds_of(args), args.data_root)
    for run in runs:
        check_flags(args, run)
    todo = [(name, model, mods, seed) for name, model, mods, seed in runs
            if not (run_dir(args.runs_dir, name, model, mods, seed) / "compare.json").exists()]
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        for done in as_completed([pool.submit(train_once, *quality_command(args, *run)) for run in todo]):
            done.result()
            write_table(args)
    except BaseException as stop:
        pool.shutdown(wait=False, cancel_futures=True)     # no queued run starts after this
        if isinstance(stop, KeyboardInterrupt):            # Ctrl-C or kill: end the runs going;
            stop_runs()                                    # a failed run lets the others finish
        raise
    finally:
        pool.shutdown()


def quality_command(args, name, model, mods, seed):
    """(training command, run folder) of one planned run."""
    out = run_dir(args.runs_dir, name, model, mods, seed)
    device = ["--backend", "torch", "--device", args.device] if args.device else []
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", data_source(args.data_root, name),
           "--model", model, "--modalities", "id" if mods == "id" else "all",
           "--seed", str(seed), "--epochs", str(args.epochs), "--patience", str(args.patience),
           "--out", str(out), "--no-progress", *device, *shlex.split(args.flags)]
    return cmd, out


def fmt(values, digits=4):
    """mean ± sample standard deviation (n - 1), or the single value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def finished_runs(args):
    """({(set, model, mods): (planned seeds, [compare.json record of each finished seed])},
    ["set model mods seed s" of every planned run not finished])."""
    groups, missing = {}, []
    for name, model, mods, seed in plan(args.sets.split(","), args.models.split(","), seeds_of(args),
                                        args.data_root):
        path = run_dir(args.runs_dir, name, model, mods, seed) / "compare.json"
        seeds, recs = groups.setdefault((name, model, mods), ([], []))
        seeds.append(seed)
        if path.exists():
            metrics = check_flags(args, (name, model, mods, seed))
            recs.append(with_evaluations(path.parent, read_record(path), metrics,
                                         data_source(args.data_root, name)))
        else:
            missing.append(f"{name} {model} {mods} seed {seed}")
    return groups, missing


def memory_path(runs_dir, name, model, mods) -> Path:
    return Path(runs_dir) / "memory" / f"{name}-{model}-{mods}.json"


def memory_command(args, name, model, mods):
    """(command, run folder) of the memory pass of one row: its seed-0 quality command with
    --epochs 1, into runs_dir/memory/, replacing an unfinished attempt."""
    cmd, _ = quality_command(args, name, model, mods, 0)
    out = memory_path(args.runs_dir, name, model, mods).with_suffix("")
    cmd[cmd.index("--epochs") + 1] = "1"
    cmd[cmd.index("--out") + 1] = str(out)
    return [*cmd, "--overwrite"], out


def memory(args):
    """The peak RSS of every row: one epoch of its seed-0 command (training, validation, test,
    saving), each in its own process, which records its own high-water mark (VmHWM).

    The quality runs made before that record existed report ru_maxrss through wait4, which
    Linux makes at least the peak of the driver that started them; these figures replace it."""
    for name, model, mods, seed in plan(args.sets.split(","), args.models.split(","),
                                        seeds_of(args), args.data_root):
        path = memory_path(args.runs_dir, name, model, mods)
        if seed or path.exists():
            continue
        cmd, out = memory_command(args, name, model, mods)
        _, peak_rss_gb, wall_s = run_training(cmd, out)
        write_text(path, json.dumps({"peak_rss_gb": peak_rss_gb, "wall_s": wall_s,
                                     "command": " ".join(cmd[2:])}, indent=2))
        print(f"{name} {model} {mods}: peak RSS {peak_rss_gb:.2f} GB", flush=True)


def peak_rss(args, name, model, mods, recs) -> str:
    """The row's peak RSS: the memory pass's, else the largest VmHWM of its runs, else "-"."""
    path = memory_path(args.runs_dir, name, model, mods)
    if path.exists():
        return f"{read_record(path)['peak_rss_gb']:.2f}"
    own = [r["peak_rss_gb"] for r in recs if r.get("peak_rss_source") == "VmHWM"]
    return f"{max(own):.2f}" if own else "-"


def quality_rows(groups, args) -> list:
    """Table rows of the finished runs (``finished_runs``), then one popularity row per set."""
    rows, popular = [], {}
    for (name, model, mods), (seeds, recs) in groups.items():
        if not recs:
            continue
        popular.setdefault(name, recs[0]["popularity"])
        t = lambda k: fmt([r["test"][k] for r in recs])
        label = "id" if mods == "id" else ",".join(recs[0]["modalities"])
        epochs = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in recs)
        masked = fmt([r["test_masked"]["NDCG@10"] for r in recs])
        valid = fmt([r["valid"]["NDCG@10"] for r in recs]) if all("valid" in r for r in recs) else "-"
        rows.append(f"| {name} | {model} | {label} | {len(recs)} of {len(seeds)} | {t('HR@10')} | "
                    f"{t('NDCG@10')} | {t('MRR@10')} | {masked} | {valid} | {epochs} | "
                    f"{fmt([r['seconds_per_epoch'] for r in recs], 1)} | "
                    f"{peak_rss(args, name, model, mods, recs)} |")
    for name, pop in popular.items():
        rows.append(f"| {name} | popularity | - | - | {pop['HR@10']:.4f} | {pop['NDCG@10']:.4f} | "
                    f"{pop['MRR@10']:.4f} | - | - | - | - | - |")
    return rows


def seed_rows(groups) -> list:
    """One table row per finished run (``finished_runs``): each seed's own figures, which the
    means above summarise, so that they stay on record when the runs folder is gone."""
    rows = []
    for (name, model, mods), (_, recs) in groups.items():
        for r in sorted(recs, key=lambda r: r["seed"]):
            valid = f"{r['valid']['NDCG@10']:.4f}" if "valid" in r else "-"
            rows.append(f"| {name} | {model} | {mods} | {r['seed']} | {r['test']['HR@10']:.4f} | "
                        f"{r['test']['NDCG@10']:.4f} | {r['test']['MRR@10']:.4f} | "
                        f"{r['test_masked']['NDCG@10']:.4f} | {valid} | {r['epochs']} ({r['best_epoch']}) | "
                        f"{r['seconds_per_epoch']:.1f} |")
    return rows


def target_lines(args, groups, recs) -> list:
    """The comparison's four targets, each judged from the finished runs (``finished_runs``) and the
    scaling records (``scaling_records``), or said to be unmeasured."""
    ndcg = {k: [r["test"]["NDCG@10"] for r in recs] for k, (_, recs) in groups.items() if recs}
    full = {k: len(recs) == len(seeds) for k, (seeds, recs) in groups.items()}
    mean = lambda k: statistics.mean(ndcg[k])
    sd = lambda k: statistics.stdev(ndcg[k]) if len(ndcg[k]) > 1 else float("nan")
    partial = lambda *ks: "" if all(full.get(k) for k in ks) else " (not every seed finished)"
    lines = []
    sets = args.sets.split(",")
    # 1. MMMLP with all modalities at or above SASRec with all modalities on two of three sets
    verdicts = []
    for name in sets:
        mods = "all" if (name, "mmmlp", "all") in groups else "id"
        a, b = (name, "mmmlp", mods), (name, "sasrec", mods)
        if a in ndcg and b in ndcg:
            verdicts.append(mean(a) >= mean(b))
            lines.append(f"- {name}, {mods}: MMMLP {mean(a):.4f} vs SASRec {mean(b):.4f} mean test "
                         f"NDCG@10: {'at or above' if verdicts[-1] else 'below'}{partial(a, b)}.")
        else:
            lines.append(f"- {name}, {mods}: MMMLP vs SASRec not measured yet.")
    head = ["**MMMLP (all modalities) at or above SASRec on at least two of three sets**: "
            + ("met" if sum(verdicts) >= 2 else "not met" if len(verdicts) - sum(verdicts) >= 2
               else "open") + f" ({sum(verdicts)} of {len(verdicts)} measured sets)."]
    # 2. all modalities above ID only for every model on the sets with side modalities
    pairs = []
    for name in sets:
        for model in args.models.split(","):
            a, b = (name, model, "all"), (name, model, "id")
            if (name, model, "all") in groups and a in ndcg and b in ndcg:
                pairs.append(f"{name} {model} {mean(a):.4f} vs {mean(b):.4f} "
                             f"({'above' if mean(a) > mean(b) else 'NOT above'}){partial(a, b)}")
    unmeasured = [f"{n} {m}" for (n, m, mods) in groups if mods == "all" and
                  not ((n, m, "all") in ndcg and (n, m, "id") in ndcg)]
    ok = all("NOT" not in x for x in pairs)
    details = "; ".join([*pairs, *([f"not measured: {', '.join(unmeasured)}"] if unmeasured else [])])
    head.append("**All modalities above ID only, every model, every set with side modalities**: "
                + ("not met" if not ok else "open" if unmeasured else "met" if pairs
                   else "not measured yet") + (f": {details}" if details else "") + ".")
    # 3. the compatibility gain of SASRec on scientific, beyond one standard deviation
    a, b = ("scientific", "sasrec", "all"), ("scientific", "sasrec", "id")
    if a in ndcg and b in ndcg and len(ndcg[a]) > 1 and len(ndcg[b]) > 1:
        gain, band = mean(a) - mean(b), max(sd(a), sd(b))
        head.append(f"**SASRec + feature mixer above SASRec ID only on scientific by more than one "
                    f"standard deviation**: {'met' if gain > band else 'not met'} (gain {gain:+.4f}, "
                    f"larger standard deviation {band:.4f}){partial(a, b)}.")
    else:
        head.append("**SASRec + feature mixer above SASRec ID only on scientific by more than one "
                    "standard deviation**: not measured yet (needs two seeds of each).")
    # 4. linear cost in the sequence length, below SASRec at the longest
    lengths = sorted({n for _, n in recs})
    if len(lengths) > 1 and all((m, n) in recs for m in ("mmmlp", "sasrec") for n in (lengths[0], lengths[-1])):
        lo, hi = lengths[0], lengths[-1]
        growth = recs[("mmmlp", hi)]["s_per_1000"] / recs[("mmmlp", lo)]["s_per_1000"]
        ratio = recs[("mmmlp", hi)]["s_per_1000"] / recs[("sasrec", hi)]["s_per_1000"]
        head.append(f"**MMMLP's time per 1,000 examples at most linear from {lo} to {hi}, and below "
                    f"SASRec's at {hi}**: {'met' if growth <= hi / lo and ratio < 1 else 'not met'} "
                    f"({growth:.1f}× for {hi / lo:.0f}× the length; {ratio:.2f}× SASRec's time at {hi}).")
    else:
        head.append("**MMMLP's time per 1,000 examples at most linear, below SASRec's at the longest**: "
                    "not measured yet.")
    return ["- " + h for h in head] + ["", "MMMLP against SASRec, set by set:", *lines]


def scale_one(args):
    """In a subprocess: time --batches training steps of one model at one max length."""
    import numpy as np
    backend, batches, batch_size = id_only_steps(data_source(args.data_root, args.set), args.model,
                                                 args.max_len)
    for _ in range(args.warmup):
        backend.step(*next(batches))
    seen, start = 0, time.perf_counter()
    for _ in range(int(args.batches)):
        seq, tgt = next(batches)
        backend.step(seq, tgt)
        seen += len(tgt)
    s = time.perf_counter() - start
    from tiny_mmmlp.distributed import peak_memory_mib
    print(json.dumps({"s_per_1000": 1000 * s / seen, "examples": seen, "seconds": s,
                      "peak_rss_gb": peak_memory_mib() / 1024,      # this child's own peak
                      "batch_size": batch_size, "params": int(sum(
                          np.prod(v.shape) for v in backend.params().values()))}))


def scaling(args):
    lengths = [int(x) for x in args.lengths.split(",")]
    counts = [int(x) for x in args.batches.split(",")]
    counts = counts * len(lengths) if len(counts) == 1 else counts
    done = scaling_records(args)                              # this set's, whatever their file names
    for n, batches in zip(lengths, counts):
        for model in ("mmmlp", "sasrec"):
            if (model, n) in done:
                continue
            cmd = [sys.executable, __file__, "_scale", "--model", model, "--max-len", str(n),
                   "--batches", str(batches), "--set", args.set, "--data-root", args.data_root]
            print("$", " ".join(cmd[1:]), flush=True)
            with started(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:   # kill ends it too
                text = proc.stdout.read()
                _, status, _ = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"run failed: {' '.join(cmd)}")
            rec = json.loads(text.strip().splitlines()[-1])
            rec.update(set=args.set, model=model, max_len=n,
                       batches=batches, threads=os.environ.get("OMP_NUM_THREADS", "default"))
            write_text(Path(args.runs_dir) / "scaling" / f"{args.set}-{model}-{n}.json",
                       json.dumps(rec, indent=2))
            done[(model, n)] = rec
            write_table(args)


def scaling_records(args) -> dict:
    """{(model, max length): record} of the finished scaling runs of --set. Records from
    before they named their set (files <model>-<length>.json) were all made on beauty."""
    recs = {}
    for p in sorted((Path(args.runs_dir) / "scaling").glob("*.json")):
        r = read_record(p)
        if r.get("set", "beauty") == args.set:
            recs[(r["model"], r["max_len"])] = r
    return recs


def draw_scaling(args, recs, path: Path) -> bool:
    """Log-log picture of the scaling table: seconds per 1,000 examples against max length,
    with the line that linear growth from the shortest length would follow."""
    from tiny_mmmlp.plots import _figure, save_figure
    fig = _figure(figsize=(5.5, 4)) if recs else None
    if fig is None:
        return False
    ax = fig.subplots()
    for model, style in (("mmmlp", "o-"), ("sasrec", "s-")):
        lengths = sorted(n for m, n in recs if m == model)
        if not lengths:
            continue
        ys = [recs[(model, n)]["s_per_1000"] for n in lengths]
        line, = ax.plot(lengths, ys, style, label=model)
        ax.plot(lengths, [ys[0] * n / lengths[0] for n in lengths], ":", color=line.get_color(),
                label=f"{model}, linear from {lengths[0]}")
    ax.set(xscale="log", yscale="log", xlabel="max length N", ylabel="s / 1,000 training examples",
           title=f"training cost against sequence length ({args.set}, CPU)")
    every = sorted({n for _, n in recs})
    ax.set_xticks(every, [str(n) for n in every])
    ax.set_xticks([], minor=True)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    save_figure(fig, path)
    return True


def scaling_rows(recs) -> list:
    """Table rows of the scaling records (``scaling_records``), and each model's fitted exponent."""
    import math
    rows = []
    for model in ("mmmlp", "sasrec"):
        lengths = sorted(n for m, n in recs if m == model)
        for n in lengths:
            r = recs[(model, n)]
            base = recs[(model, lengths[0])]["s_per_1000"]
            rows.append(f"| {model} | {n} | {r['s_per_1000']:.3f} | {r['s_per_1000'] / base:.2f}× | "
                        f"{r['peak_rss_gb']:.2f} | {r['batches']} × {r['batch_size']} |")
        if len(lengths) > 1:
            lo, hi = recs[(model, lengths[0])], recs[(model, lengths[-1])]
            k = math.log(hi["s_per_1000"] / lo["s_per_1000"]) / math.log(lengths[-1] / lengths[0])
            rows.append(f"| {model} | exponent {lengths[0]}→{lengths[-1]} | {k:.2f} | | | |")
    return rows


def write_table(args):
    absent = [n for n in args.sets.split(",") if not has_data(args.data_root, n)]
    scaling_only = absent and getattr(args, "what", "table") == "scaling"   # timing a set of its own
    if scaling_only:
        groups, missing = {}, []
    else:
        groups, missing = finished_runs(args)    # each compare.json and scaling record read once
    recs = scaling_records(args)
    q_rows, s_rows = quality_rows(groups, args), scaling_rows(recs)
    head = (f"# MMMLP, SASRec and GRU4Rec in one harness ({datetime.date.today()}, {platform.machine()}, "
            f"{os.cpu_count()} CPU cores, on the CPU: NumPy backend for MMMLP, torch for the baselines, "
            "unless a row says otherwise)\n\n")
    q = ("## Quality (test, full ranking over all items, history items not masked, best validation epoch)\n\n"
         f"Command: `python benchmarks/compare.py quality{variant_flags(args)}` (`--epochs "
         f"{args.epochs} --patience {args.patience}` for every model, each model's default sizes). "
         "Metrics are mean ± sample standard deviation over the seeds run; epochs lists "
         "`epochs run (best validation epoch)` per seed; s / epoch counts training plus the "
         "validation pass; peak RSS is the run's own high-water mark (VmHWM) in a one-epoch run "
         "of seed 0 (`compare.py memory`: training, validation, test and saving), else the "
         "largest VmHWM of the row's runs ('-' where neither was measured). The masked column ranks the same "
         "saved models with `--mask-history`'s protocol (the user's history leaves the ranking, "
         "the target stays), for setting beside papers that mask; valid NDCG@10 is the best "
         "epoch's validation figure, the one that chose it (`benchmarks/by_length.py` splits "
         "both by users' history length).\n\n"
         "| set | model | modalities | seeds | test HR@10 | test NDCG@10 | test MRR@10 | "
         "masked NDCG@10 | valid NDCG@10 | epochs (best) | s / epoch | peak RSS GB |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
         + "\n".join(q_rows) + "\n")
    if scaling_only:
        q += (f"\nNot tabled by this scaling run: no data of {', '.join(absent)} under --data-root "
              f"{args.data_root} (`compare.py table --data-root ...` adds the rows).\n")
    if missing:
        q += ("\n**Not run yet** (the same command finishes them, reusing the runs above): "
              + "; ".join(missing) + ".\n")
    s = "" if not s_rows else (                   # a variant's runs folder has no scaling runs
        f"\n## Cost in sequence length ({args.set}, ID only, batch 256, torch on the CPU)\n\n"
        f"Command: `python benchmarks/compare.py scaling"
        f"{'' if args.set == 'beauty' else ' --set ' + args.set}`. Seconds per 1,000 training examples, "
        "timed over the batches shown after 3 warm-up batches; peak RSS of the timing process.\n\n"
        "| model | max length | s / 1,000 examples | vs shortest | peak RSS GB | timed |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(s_rows) + "\n")
    picture = Path(args.out).with_name(Path(args.out).stem + "-scaling.png")
    if draw_scaling(args, recs, picture):
        s += f"\n![seconds per 1,000 examples against max length, log-log]({picture.name})\n"
    t = "\n## Targets, judged from the rows above\n\n" + "\n".join(target_lines(args, groups, recs)) + "\n"
    each = ("\n## Each run\n\nThe quality rows seed by seed (their columns; modalities as "
            "planned, `id` or `all`).\n\n| set | model | modalities | seed | test HR@10 | test NDCG@10 | "
            "test MRR@10 | masked NDCG@10 | valid NDCG@10 | epochs (best) | s / epoch |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(seed_rows(groups)) + "\n")
    text = head + (args.note + "\n\n" if args.note else "") + q + s + t + each
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(Path(args.out), text)
    print(text, flush=True)


@exit_on_user_error
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("what", choices=["quality", "scaling", "memory", "table", "_scale"],
                   help="the job (see the module's docstring); _scale is scaling's own child")
    p.add_argument("--data-root", default=AMAZON_ROOT, help=AMAZON_HELP)
    p.add_argument("--sets", default=DEFAULT_SETS, help="quality/memory/table: comma-separated sets")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help="quality/memory/table: comma-separated models")
    p.add_argument("--epochs", type=int, default=60, help="quality: --epochs of every run")
    p.add_argument("--patience", type=int, default=3, help="quality: --patience of every run")
    p.add_argument("--jobs", type=int, default=1,
                   help="quality: training runs at a time (one core each with OMP_NUM_THREADS=1)")
    p.add_argument("--runs-dir", default=str(ROOT / "runs/compare"),
                   help="one run folder per row and seed; reused and resumed")
    p.add_argument("--out", default=str(OUT), help="the Markdown table to write")
    p.add_argument("--lengths", default="50,200,800", help="scaling: maximum lengths to time")
    p.add_argument("--batches", default="200",
                   help="scaling: timed batches, one count or one per length (e.g. 200,100,20)")
    p.add_argument("--warmup", type=int, default=3, help="scaling: untimed batches first")
    p.add_argument("--set", default="beauty", help="scaling: the data set")
    p.add_argument("--device", default="", help="quality: --device of every run (e.g. cuda)")
    p.add_argument("--seeds", type=int, default=0,
                   help="quality/table: at most this many seeds per model; 0: all (3, GRU4Rec 1)")
    p.add_argument("--flags", default="",
                   help="quality: more train.py flags for every run, written with '=', e.g. "
                        "--flags=--no-history-bias (give such runs their own --runs-dir and --out)")
    p.add_argument("--note", default="", help="table: a paragraph under the title (conditions)")
    p.add_argument("--model", default="mmmlp", help=argparse.SUPPRESS)
    p.add_argument("--max-len", type=int, default=50, help=argparse.SUPPRESS)
    args = p.parse_args()
    stop_on_sigterm()
    {"quality": quality, "scaling": scaling, "memory": memory, "table": write_table,
     "_scale": scale_one}[args.what](args)


if __name__ == "__main__":
    main()
