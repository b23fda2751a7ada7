"""Cost in catalogue and log size: time per epoch, peak memory and evaluation time as the
number of items (10k -> 1M) and of interactions (100k -> 10M) grow, full softmax against
sampled negatives, NumPy and torch backends.

    python benchmarks/scale.py [--backends numpy,torch] [--steps 3] [--out benchmarks/results/scale.md]
    python benchmarks/scale.py --fit path/to/beauty.inter      # print the log's fitted shape
    python benchmarks/scale.py --write-set data/scale1m --items 1000000 --interactions 45000

The logs are synthetic, shaped like a real one: item popularity is Zipf-like, p(rank r) ∝
r^-ZIPF, and user sequence lengths follow a discrete Lomax (Pareto II) law from the 5-core
minimum, P(L >= l) = (1 + (l - 5) / LOMAX_SCALE)^-LOMAX_ALPHA. The constants below were fitted
on Amazon Beauty (22,363 users, 12,101 items, 198,502 interactions) with ``--fit``: the
popularity slope over all ranks, and the length law to P(L >= 6) and the tail slope (it then
gives P(L >= 7) = 0.49 and a mean of 8.9, as Beauty has). Users = interactions / mean length.

Each cell runs in its own process (its peak memory is its own VmHWM: data, model, optimizer,
a training step and a ranking pass). Training is timed over ``--steps`` steps of 256 after
one warm-up step and extrapolated to an epoch (steps = training examples / 256): the step's
cost does not depend on which examples it holds. Evaluation ranks ``--eval-users`` test users
over the whole catalogue and is extrapolated to every user (one pass, as the test; each
epoch's validation costs the same). The model is train.py's default MMMLP with IDs only;
the full softmax is the default loss (label smoothing 0.2), sampled is ``--negatives``.
Each cell runs on ``--threads`` cores (default one: NumPy one shard, torch one thread).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ZIPF = 0.76                  # popularity slope, log count against log rank, all ranks
LOMAX_ALPHA, LOMAX_SCALE = 2.14, 5.07
MIN_LEN, MAX_LEN_CAP = 5, 1000
GRID = [(10_000, 1_000_000), (30_000, 1_000_000), (100_000, 1_000_000), (300_000, 1_000_000),
        (1_000_000, 1_000_000), (100_000, 100_000), (100_000, 10_000_000)]


def mean_length() -> float:
    length = np.arange(MIN_LEN, MAX_LEN_CAP + 1)                 # E[L] = Σ_l P(L >= l)
    return float(((1 + (length - MIN_LEN) / LOMAX_SCALE) ** -LOMAX_ALPHA).sum()) + MIN_LEN - 1


def synthetic_log(n_items: int, interactions: int, seed: int = 0) -> list:
    """One int64 array of item ids (1..n_items) per user, about ``interactions`` in all."""
    rng = np.random.default_rng(seed)
    users = max(1, round(interactions / mean_length()))
    u = rng.random(users)
    lengths = MIN_LEN + np.floor(LOMAX_SCALE * (u ** (-1 / LOMAX_ALPHA) - 1)).astype(np.int64)
    lengths = np.minimum(lengths, MAX_LEN_CAP)
    cdf = np.cumsum(np.arange(1, n_items + 1, dtype=np.float64) ** -ZIPF)
    items = np.searchsorted(cdf, rng.random(int(lengths.sum())) * cdf[-1]) + 1   # rank r -> item r
    return np.split(items.astype(np.int64), np.cumsum(lengths)[:-1])


def write_set(folder: str, n_items: int, interactions: int) -> None:
    """A RecBole folder of the synthetic log: ``<name>.item`` lists every item (so the catalogue
    has ``n_items`` items, seen or not), ``<name>.inter`` the users' sequences in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = synthetic_log(n_items, interactions)
    with open(folder / f"{folder.name}.item", "w") as f:
        f.write("item_id:token\n" + "".join(f"i{i}\n" for i in range(1, n_items + 1)))
    with open(folder / f"{folder.name}.inter", "w") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u, seq in enumerate(log):
            f.write("".join(f"u{u}\ti{i}\t{t}\n" for t, i in enumerate(seq)))
    print(f"wrote {folder}: {n_items} items, {len(log)} users, {sum(map(len, log))} interactions")


def fit(path: str) -> None:
    """Print the popularity slope and the length law of an atomic .inter file (user, item, ...)."""
    import pandas as pd
    df = pd.read_csv(path, sep="\t", usecols=[0, 1])
    lengths = df.groupby(df.columns[0]).size().to_numpy()
    counts = np.sort(df.groupby(df.columns[1]).size().to_numpy())[::-1]
    ranks = np.arange(1, len(counts) + 1)
    slope = np.polyfit(np.log(ranks), np.log(counts), 1)[0]
    s = np.sort(lengths)
    ccdf = 1 - np.arange(len(s)) / len(s)
    tail = -np.polyfit(np.log(s[s >= 2 * s[0]]), np.log(ccdf[s >= 2 * s[0]]), 1)[0]
    scale = 1 / ((lengths > s[0]).mean() ** (-1 / tail) - 1)
    print(f"{path}: {len(lengths)} users, {len(counts)} items, {len(df)} interactions; ZIPF = "
          f"{-slope:.2f}; lengths from {s[0]}: LOMAX_ALPHA = {tail:.2f}, LOMAX_SCALE = {scale:.2f}; "
          f"mean length {lengths.mean():.2f}")


def one_cell(n_items, interactions, loss, backend_name, steps, eval_users, negatives, threads) -> dict:
    """Measure one cell in this process; returns the JSON record."""
    from threadpoolctl import threadpool_limits

    from tiny_mmmlp import data
    from tiny_mmmlp.backends import NumpyBackend, make_backend
    from tiny_mmmlp.run_config import RunConfig

    start = time.perf_counter()
    split = data.split_leave_one_out(synthetic_log(n_items, interactions))
    made_s = time.perf_counter() - start
    given = {"backend": backend_name, "negatives": negatives if loss == "sampled" else 0}
    run = RunConfig.resolve(given)
    cfg = run.model_config(["id"])
    if backend_name == "numpy":                 # one batch shard per thread
        backend = NumpyBackend(cfg, n_items, {}, 0, run.lr, run.weight_decay, shards=threads)
    else:
        import torch
        torch.set_num_threads(threads)
        backend = make_backend(backend_name, cfg, n_items, {}, 0, run.lr, run.weight_decay)
    with threadpool_limits(threads, "blas"):
        return _measure(backend, split, run, cfg, steps, eval_users) | {
            "items": n_items, "interactions": interactions, "loss": loss, "backend": backend_name,
            "threads": threads, "make_log_s": made_s}


def _measure(backend, split, run, cfg, steps, eval_users) -> dict:
    from tiny_mmmlp import data
    from tiny_mmmlp.distributed import peak_memory_mib
    from tiny_mmmlp.ranking import ranks_of
    batches = data.train_batches(split.train, cfg.max_len, run.batch_size, 0, 0)
    backend.step(*next(batches))                                        # warm-up
    times, cpu = [], []
    for _ in range(steps):
        batch = next(batches)
        t, c = time.perf_counter(), time.process_time()
        backend.step(*batch)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    step_s = statistics.median(times)
    examples = data.n_train_examples(split.train)
    n_eval = min(eval_users, len(split.test_target))
    pick = np.linspace(0, len(split.test_target) - 1, n_eval).astype(int)
    ranks_of(backend, [split.test_history[i] for i in pick[:8]], split.test_target[pick[:8]], cfg.max_len,
             run.eval_batch())                                   # warm-up: the ranking's buffers
    t, c = time.perf_counter(), time.process_time()
    ranks_of(backend, [split.test_history[i] for i in pick], split.test_target[pick], cfg.max_len,
             run.eval_batch())
    eval_per_user = (time.perf_counter() - t) / n_eval
    eval_cpu_per_user = (time.process_time() - c) / n_eval
    return {"users": len(split.train), "examples": examples, "steps_timed": steps,
            "step_s": step_s, "epoch_s": step_s * math.ceil(examples / run.batch_size),
            "step_cpu_s": statistics.median(cpu),
            "epoch_cpu_s": statistics.median(cpu) * math.ceil(examples / run.batch_size),
            "eval_cpu_s": eval_cpu_per_user * len(split.test_target),
            "eval_users_timed": n_eval, "eval_s": eval_per_user * len(split.test_target),
            "peak_mib": peak_memory_mib()}


def exponent(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def report(rows, args, load0, load1, wall) -> str:
    out = ["# Cost in catalogue and log size", "",
           f"Command: `python benchmarks/scale.py --backends {args.backends} --steps {args.steps} "
           f"--eval-users {args.eval_users} --negatives {args.negatives} --threads {args.threads}`; "
           f"{args.threads} thread(s) a cell on a {os.cpu_count()}-core machine, load "
           f"average {load0:.1f} at the start and {load1:.1f} at the end, {wall / 60:.0f} minutes in all. "
           f"Epoch = the median of {args.steps} timed steps (256 examples, after one warm-up step) times "
           f"the steps an epoch; evaluation = {args.eval_users} test users ranked over every item, "
           f"extrapolated to all users; peak = the cell's own VmHWM (log, model, optimizer, steps, ranking).",
           "Times are CPU seconds of the cell's process (what one idle core would take; on a shared "
           "machine the wall-clock time also holds the waits for a core, and is shown for reference).",
           "", "| items | interactions | users | backend | loss | CPU s / step | epoch CPU s | eval CPU s "
           "| peak MiB | wall s / step |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['items']:,} | {r['interactions']:,} | {r['users']:,} | {r['backend']} | {r['loss']} | "
                   f"{r['step_cpu_s']:.3f} | {r['epoch_cpu_s']:.0f} | {r['eval_cpu_s']:.1f} | {r['peak_mib']:.0f} | "
                   f"{r['step_s']:.3f} |")
    most = lambda key: max({r[key] for r in rows}, key=lambda v: sum(r[key] == v for r in rows))  # noqa: E731
    inter0, items0 = (most("interactions"), most("items")) if rows else (0, 0)
    out += ["", f"Fitted exponents (log-log slope): in items at {inter0:,} interactions; in interactions "
            f"at {items0:,} items.",
            "", "| backend | loss | items fitted | epoch ~ items^ | eval ~ items^ | peak ~ items^ "
            "| epoch ~ interactions^ | eval ~ interactions^ | peak ~ interactions^ |",
            "|---|---|---|---|---|---|---|---|---|"]
    for b, loss in [(b, loss) for b in args.backends.split(",") for loss in ("full", "sampled")]:
        for above in (0, 100_000):
            by_items = sorted((r for r in rows if r["backend"] == b and r["loss"] == loss
                               and r["interactions"] == inter0 and r["items"] >= above), key=lambda r: r["items"])
            by_log = sorted((r for r in rows if r["backend"] == b and r["loss"] == loss
                             and r["items"] == items0), key=lambda r: r["interactions"])
            cells = []
            for group, x in ((by_items, "items"), (by_log, "interactions")):
                for y in ("epoch_cpu_s", "eval_cpu_s", "peak_mib"):
                    ok = len(group) >= 2
                    cells.append(f"{exponent([r[x] for r in group], [r[y] for r in group]):.2f}" if ok else "-")
            span = f"{by_items[0]['items']:,}-{by_items[-1]['items']:,}" if by_items else "-"
            out.append(f"| {b} | {loss} | {span} | " + " | ".join(cells) + " |")
    out += ["", "Sampled against full softmax (epoch CPU time, sampled / full):", ""]
    for r in rows:
        if r["loss"] == "full":
            twin = [s for s in rows if s["loss"] == "sampled" and
                    (s["items"], s["interactions"], s["backend"]) == (r["items"], r["interactions"], r["backend"])]
            if twin:
                out.append(f"- {r['backend']}, {r['items']:,} items, {r['interactions']:,} interactions: "
                           f"{twin[0]['epoch_cpu_s'] / r['epoch_cpu_s']:.2f}")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="numpy,torch", help="comma-separated (default numpy,torch)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per cell (default 3)")
    p.add_argument("--eval-users", type=int, default=256, help="test users ranked per cell (default 256)")
    p.add_argument("--negatives", type=int, default=256, help="K of the sampled cells (default 256)")
    p.add_argument("--threads", type=int, default=1, help="cores per cell: NumPy shards, torch and BLAS "
                   "threads (default 1: on a shared machine, threads waiting for a core distort the timing)")
    p.add_argument("--grid", help="cells as items:interactions,... (default: the built-in grid)")
    p.add_argument("--out", help="also write the markdown report here")
    p.add_argument("--log", help="append each cell's JSON record to this file as it finishes")
    p.add_argument("--fit", metavar="INTER", help="print the shape of a real log's .inter file, and stop")
    p.add_argument("--write-set", metavar="FOLDER", help="write one synthetic log as a RecBole folder, and stop")
    p.add_argument("--items", type=int, default=1_000_000, help="--write-set: items (default 1,000,000)")
    p.add_argument("--interactions", type=int, default=45_000, help="--write-set: interactions (default 45,000)")
    p.add_argument("--one", help=argparse.SUPPRESS)                       # items:interactions:loss:backend
    args = p.parse_args()
    if args.fit:
        return fit(args.fit)
    if args.write_set:
        return write_set(args.write_set, args.items, args.interactions)
    if args.one:
        items, inter, loss, backend = args.one.split(":")
        print(json.dumps(one_cell(int(items), int(inter), loss, backend, args.steps, args.eval_users,
                                  args.negatives, args.threads)))
        return
    grid = ([tuple(int(v) for v in c.split(":")) for c in args.grid.split(",")] if args.grid else GRID)
    rows, load0, start = [], os.getloadavg()[0], time.perf_counter()
    for items, inter in grid:
        for backend in args.backends.split(","):
            for loss in ("full", "sampled"):
                cmd = [sys.executable, __file__, "--one", f"{items}:{inter}:{loss}:{backend}",
                       "--steps", str(args.steps), "--eval-users", str(args.eval_users),
                       "--negatives", str(args.negatives), "--threads", str(args.threads)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode:
                    print(f"{items}:{inter}:{loss}:{backend} failed: {done.stderr[-800:]}", flush=True)
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.log:
                    with open(args.log, "a") as f:
                        f.write(json.dumps(row) + "\n")
    text = report(rows, args, load0, os.getloadavg()[0], time.perf_counter() - start)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
