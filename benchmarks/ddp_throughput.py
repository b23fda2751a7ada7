"""Data-parallel scale-out: training examples per second with 1 and K torchrun processes.

    python benchmarks/ddp_throughput.py --data path/to/beauty --procs 1,2
    python benchmarks/ddp_throughput.py --device cuda --procs 1,8 --per-process-batch 1024

Each configuration is one `torchrun --nproc-per-node K -m tiny_mmmlp.train --epochs E` run;
the figures come from its metrics.json: examples per second of the last training epoch
(timed by rank 0, counting the global batch), seconds per epoch including validation, the
peak resident memory of every rank; and the CPU seconds of the whole launch (all processes,
start-up and evaluation included: what the run cost, whatever else ran beside it).
`--batch-size` is the global batch (strong scaling, the default); `--per-process-batch b`
uses K·b instead (weak scaling, what GPUs want). `--threads-per-proc` sets OMP_NUM_THREADS
(torchrun's own default is 1 when K > 1).
Prints a markdown table; --out also writes it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(data, procs, batch, device, epochs, threads, extra) -> dict:
    """One torchrun launch; returns its metrics.json."""
    out = Path(tempfile.mkdtemp(prefix=f"ddp{procs}_"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs),
           "--standalone", "-m", "tiny_mmmlp.train", "--data", data, "--backend", "torch",
           "--device", device, "--epochs", str(epochs), "--batch-size", str(batch),
           "--no-progress", "--out", str(out), *extra]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = json.loads((out / "metrics.json").read_text())
    m["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return m


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="toyshop", help="train.py's --data (default toyshop)")
    p.add_argument("--procs", default="1,2", help="comma-separated process counts")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per launch; the last is timed (default 1)")
    p.add_argument("--batch-size", type=int, default=256, help="global batch (strong scaling)")
    p.add_argument("--per-process-batch", type=int, default=None, help="weak scaling instead")
    p.add_argument("--threads-per-proc", type=int, default=None, help="OMP_NUM_THREADS of each process")
    p.add_argument("--out", default=None, help="also write the table to this file")
    args, extra = p.parse_known_args(argv)
    rows = ["| processes | global batch | threads/proc | train ex/s | ratio | s/epoch (with valid) "
            "| CPU s, all processes | peak MiB per process |", "|---|---|---|---|---|---|---|---|"]
    base = None
    for k in [int(x) for x in args.procs.split(",")]:
        batch = k * args.per_process_batch if args.per_process_batch else args.batch_size
        threads = args.threads_per_proc or (None if k == 1 else 1)
        m = run(args.data, k, batch, args.device, args.epochs, threads, extra)
        speed = m["history"][-1]["examples_per_s"]
        base = base or speed
        mem = ", ".join(f"{x:.0f}" for x in m.get("peak_memory_mib", []) if x is not None)
        rows.append(f"| {k} | {batch} | {threads or 'default'} | {speed:,.0f} | {speed / base:.2f}x "
                    f"| {m['seconds_per_epoch']:.1f} | {m['cpu_s']:.0f} | {mem} |")
        print(rows[-1], flush=True)
    table = f"data {args.data}, device {args.device}, {args.epochs} epoch(s)\n\n" + "\n".join(rows)
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
