"""One training epoch with the fused Triton kernels against PyTorch eager: time and metrics.

    python benchmarks/backend_epoch.py --data path/to/scientific --device cuda --out table.md
    TRITON_INTERPRET=1 python benchmarks/backend_epoch.py --data toyshop-tiny --device cpu   # rehearsal

Runs ``python -m tiny_mmmlp.train --epochs 1`` twice with the same seed and data, once with
``--backend torch`` and once with ``--backend triton``, each in its own temporary run folder,
and reads their ``metrics.json``. The two backends compute the same equations (the fused
kernels in float32 differ from eager PyTorch only in the order of floating-point sums), so
after one epoch the loss and the validation and test metrics agree within ``--tolerance``;
the script exits 1 when they do not. It reports the epoch's training time (the run's own
``seconds_per_epoch``) and examples per second for each backend, and their ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
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
    p.add_argument("--data", default="toyshop", help="the --data of both runs (default: toyshop)")
    p.add_argument("--device", default="cuda", help="cuda, or cpu under TRITON_INTERPRET=1 (default: cuda)")
    p.add_argument("--modalities", default="all", help="the --modalities of both runs (default: all)")
    p.add_argument("--seed", type=int, default=0, help="the --seed of both runs (default: 0)")
    p.add_argument("--tolerance", type=float, default=5e-3,
                   help="largest accepted difference of loss, HR@10 and NDCG@10 (default: 0.005)")
    p.add_argument("--train-flags", default="", metavar="FLAGS",
                   help="more flags for both runs, e.g. '--d-model 8 --max-len 6' (default: none)")
    p.add_argument("--out", help="also write the markdown table to this path")
    return p.parse_args(argv)


def one_epoch(backend: str, args, work: Path) -> dict:
    out = work / backend
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", args.data, "--backend", backend,
           "--device", args.device, "--modalities", args.modalities, "--seed", str(args.seed),
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
    torch_run, triton_run = runs
    lines = [f"# One training epoch, fused Triton kernels against PyTorch eager ({args.device})", "",
             f"Command: `python benchmarks/backend_epoch.py --data {args.data} --device {args.device} "
             f"--modalities {args.modalities} --seed {args.seed}"
             f"{' --train-flags ' + shlex.quote(args.train_flags) if args.train_flags else ''}`; "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node() or 'this machine'}, "
             f"TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET', '0')}.", "",
             "| backend | epoch s | examples/s | loss | valid HR@10 | valid NDCG@10 | test HR@10 | test NDCG@10 | run wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['backend']} | {r['epoch_s']:.2f} | {r['ex_s']:.0f} | {r['loss']:.4f} | "
                     + " | ".join(f"{r[s][k]:.4f}" for s in ("valid", "test") for k in COMPARED)
                     + f" | {r['wall']:.1f} |")
    lines += ["", f"triton / torch epoch time: {triton_run['epoch_s'] / torch_run['epoch_s']:.2f}; "
              f"largest metric difference {worst:.5f} (tolerance {args.tolerance})."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="backend_epoch_") as work:
        runs = [one_epoch(b, args, Path(work)) for b in ("torch", "triton")]
    a, b = runs
    diffs = [abs(a["loss"] - b["loss"])] + [abs(a[s][k] - b[s][k]) for s in ("valid", "test") for k in COMPARED]
    text = table(runs, args, max(diffs))
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    if max(diffs) > args.tolerance:
        print(f"backend_epoch: the backends disagree by {max(diffs):.5f}, more than {args.tolerance}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
