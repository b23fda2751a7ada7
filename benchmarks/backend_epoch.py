"""One training epoch per backend: time and metrics, each against the first backend's.

    python benchmarks/backend_epoch.py --data path/to/scientific --device cuda --out table.md
    TRITON_INTERPRET=1 python benchmarks/backend_epoch.py --data toyshop-tiny --device cpu   # rehearsal
    python benchmarks/backend_epoch.py --backends numpy,torch --device cpu --repeats 3   # torch on the CPU

Runs ``python -m tiny_mmmlp.train --epochs 1`` once per backend (``--backends``, default
torch,triton) with the same seed and data, each in its own temporary run folder, and reads
their ``metrics.json``. With ``--repeats R`` the backends take turns R times (a, b, a, b, ...),
so a load that comes and goes on a shared machine slows each alike, and the table shows each
backend's median. It reports the epoch's time (the run's own ``seconds_per_epoch``: training
and validation), training examples per second, and the ratio of each backend's epoch time to
the first backend's, measured in the same run.

The torch and triton backends compute the same equations (the fused kernels in float32
differ from eager PyTorch only in the order of floating-point sums, and they share torch's
dropout masks), so after one epoch their loss and validation and test metrics agree within
``--tolerance``; the script exits 1 when they do not. The NumPy backend draws other dropout
masks, so its figures are shown but not held to the tolerance.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPARED = ("HR@10", "NDCG@10")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="toyshop", help="the --data of every run (default: toyshop)")
    p.add_argument("--backends", default="torch,triton",
                   help="comma-separated backends, the first one the baseline of the ratios (default: torch,triton)")
    p.add_argument("--repeats", type=int, default=1, help="runs of each backend, taken in turns (default: 1)")
    p.add_argument("--device", default="cuda", help="cuda, or cpu under TRITON_INTERPRET=1 (default: cuda)")
    p.add_argument("--modalities", default="all", help="the --modalities of every run (default: all)")
    p.add_argument("--seed", type=int, default=0, help="the --seed of every run (default: 0)")
    p.add_argument("--tolerance", type=float, default=5e-3,
                   help="largest accepted difference of loss, HR@10 and NDCG@10 (default: 0.005)")
    p.add_argument("--train-flags", default="", metavar="FLAGS",
                   help="more flags for every run, e.g. '--d-model 8 --max-len 6' (default: none)")
    p.add_argument("--out", help="also write the markdown table to this path")
    return p.parse_args(argv)


def one_epoch(backend: str, args, work: Path, repeat: int = 0) -> dict:
    out = work / f"{backend}-{repeat}"
    device = [] if backend == "numpy" else ["--device", args.device]         # numpy: the CPU only
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", args.data, "--backend", backend,
           *device, "--modalities", args.modalities, "--seed", str(args.seed),
           "--epochs", "1", "--no-progress", "--out", str(out), *shlex.split(args.train_flags)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"backend_epoch: the {backend} run failed (exit {proc.returncode}): "
                 f"{proc.stderr.strip().splitlines()[-1:] or ['no message']}")
    m = json.loads((out / "metrics.json").read_text())
    return {"backend": backend, "wall": wall, "epoch_s": m["seconds_per_epoch"],
            "ex_s": m["history"][0]["examples_per_s"], "loss": m["history"][0]["loss"],
            "valid": m["valid"], "test": m["test"], "peak": m.get("peak_memory_mib")}


def table(runs: list, args, worst: float) -> str:
    base = runs[0]
    lines = [f"# One training epoch per backend: {', '.join(r['backend'] for r in runs)} ({args.device})", "",
             f"Command: `python benchmarks/backend_epoch.py --backends {args.backends} --repeats {args.repeats} "
             f"--data {args.data} --device {args.device} "
             f"--modalities {args.modalities} --seed {args.seed}"
             f"{' --train-flags ' + shlex.quote(args.train_flags) if args.train_flags else ''}`; "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node() or 'this machine'}, "
             f"TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET', '0')}, {os.cpu_count()} CPUs, "
             f"load average {os.getloadavg()[0]:.1f} at the end.", "",
             f"| backend | epoch s (median of {args.repeats}) | epoch s, each run | examples/s | "
             f"epoch time / {base['backend']}'s | loss | valid HR@10 | valid NDCG@10 | test HR@10 | "
             "test NDCG@10 | run wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['backend']} | {r['epoch_s']:.2f} | {' '.join(f'{e:.2f}' for e in r['each'])} | "
                     f"{r['ex_s']:.0f} | {r['epoch_s'] / base['epoch_s']:.2f} | {r['loss']:.4f} | "
                     + " | ".join(f"{r[s][k]:.4f}" for s in ("valid", "test") for k in COMPARED)
                     + f" | {r['wall']:.1f} |")
    lines += [""] + [f"{r['backend']} / {base['backend']} epoch time: {r['epoch_s'] / base['epoch_s']:.2f}"
                     for r in runs[1:]]
    if worst is not None:
        lines += [f"largest metric difference of the torch-family backends {worst:.5f} "
                  f"(tolerance {args.tolerance})."]
    return "\n".join(lines) + "\n"


def median_run(runs: list) -> dict:
    """The run of median epoch time (its metrics as they were), with every run's epoch time."""
    ordered = sorted(runs, key=lambda r: r["epoch_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle.update(epoch_s=statistics.median(r["epoch_s"] for r in runs),
                  ex_s=statistics.median(r["ex_s"] for r in runs), wall=statistics.median(r["wall"] for r in runs),
                  each=[r["epoch_s"] for r in runs])
    return middle


def main(argv=None) -> int:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    each = {b: [] for b in backends}
    with tempfile.TemporaryDirectory(prefix="backend_epoch_") as work:
        for repeat in range(args.repeats):
            for b in backends:
                each[b].append(one_epoch(b, args, Path(work), repeat))
    runs = [median_run(each[b]) for b in backends]
    twins = [r for r in runs if r["backend"] in ("torch", "triton")]
    diffs = [abs(a["loss"] - b["loss"]) for a in twins for b in twins] + \
        [abs(a[s][k] - b[s][k]) for a in twins for b in twins for s in ("valid", "test") for k in COMPARED]
    worst = max(diffs) if len(twins) > 1 else None
    text = table(runs, args, worst)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    if worst is not None and worst > args.tolerance:
        print(f"backend_epoch: the backends disagree by {worst:.5f}, more than {args.tolerance}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
