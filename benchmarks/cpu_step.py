"""One float32 training step on the CPU: NumPy reference vs PyTorch eager, same model and batch.

    python benchmarks/cpu_step.py [--batch 256 --max-len 50 --d-model 64 --items 12000]

Both backends start from the same weights (same seed), take the same batch, and run
forward + backward + AdamW. They are timed in alternation in one process, so a noisy
machine slows both alike; the table reports medians and the ratio NumPy / torch
(target: at most 1.0). It also reports the CPU time of each step (user + system, all
threads): on a machine shared with other work, threads that wait for a core stretch the
wall-clock time of a multithreaded step far more than its CPU time, so the two ratios
together show how much of a difference is the load.

Then the distance to the machine's limit: the step's floating-point operations counted from
the shapes, per phase (mixer blocks, head, optimizer, elementwise; ``step_phases.py``), the
NumPy step's achieved GFLOP/s and its fraction of the machine's measured float32 matmul rate
(512x512 and 2048x2048). The phases are timed on one shard of the whole batch with one BLAS
thread, in CPU seconds of that thread (the work of both cores done on one; a busy machine
does not stretch it), against the one-thread matmul rate measured the same way; the
two-shard step above, in wall-clock time, against the all-threads rate.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from step_phases import PHASES, PhaseTimer, machine_figures, phase_flops
from threadpoolctl import threadpool_limits

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.backends import NumpyBackend, TorchBackend


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=256, help="batch rows (default 256)")
    p.add_argument("--max-len", type=int, default=50, help="sequence length N (default 50)")
    p.add_argument("--d-model", type=int, default=64, help="branch width D (default 64)")
    p.add_argument("--items", type=int, default=12000, help="items scored by the softmax (default 12000)")
    p.add_argument("--text-width", type=int, default=0, help="add a text modality of this width")
    p.add_argument("--repeats", type=int, default=10, help="timed steps of each backend (default 10)")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch intra-op threads (default: torch's choice, one per core)")
    p.add_argument("--phases-only", action="store_true",
                   help="only the machine's figures and the NumPy step's phases (no torch comparison)")
    args = p.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(0)
    V, N, B = args.items, args.max_len, args.batch
    feats = {}
    if args.text_width:
        feats["text"] = rng.standard_normal((V + 1, args.text_width)).astype(np.float32)
        feats["text"][0] = 0
    cfg = MMMLPConfig(max_len=N, d_model=args.d_model, dropout=0.2)
    lengths = rng.integers(1, N + 1, size=B)
    seq = np.where(np.arange(N)[None, :] >= N - lengths[:, None], rng.integers(1, V + 1, (B, N)), 0)
    targets = rng.integers(1, V + 1, size=B)
    if args.phases_only:
        return distance_to_the_limit(cfg, V, feats, seq, targets, None, args.repeats)
    backends = {"numpy": NumpyBackend(cfg, V, feats, 0, 1e-3, 0.0),
                "torch": TorchBackend(cfg, V, feats, 0, 1e-3, 0.0)}
    times = {k: [] for k in backends}
    cpu = {k: [] for k in backends}
    for b in backends.values():                     # warm-up
        b.step(seq, targets)
    load0 = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, b in backends.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            b.step(seq, targets)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"one training step, float32, B={B} N={N} d_model={args.d_model} V={V} "
          f"modalities={'id' + (',text' if feats else '')}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}; {os.cpu_count()} cores, "
          f"load average {load0:.1f} before and {os.getloadavg()[0]:.1f} after the repeats")
    print("| backend | median ms | min ms | median CPU ms (all threads) |\n|---|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {1000 * med[k]:.1f} | {1000 * min(v):.1f} | {1000 * med_cpu[k]:.1f} |")
    print(f"ratio numpy / torch (median): {med['numpy'] / med['torch']:.2f}  (target <= 1.0); "
          f"CPU time: {med_cpu['numpy'] / med_cpu['torch']:.2f}")
    distance_to_the_limit(cfg, V, feats, seq, targets, med["numpy"], args.repeats)


def distance_to_the_limit(cfg, V, feats, seq, targets, two_shard_s, repeats):
    """Print the machine's figures, then the NumPy step's FLOPs, GFLOP/s and fraction of the
    matmul rate per phase."""
    fig = machine_figures()
    print(f"machine: np.tanh {fig['tanh_ns']:.2f} ns/element (65,536 float32); float32 matmul "
          f"512x512 {fig['mm512_1']:.1f} GFLOP/s on 1 thread, {fig['mm512_all']:.1f} on all; "
          f"2048x2048 {fig['mm2048_1']:.1f} on 1 thread, {fig['mm2048_all']:.1f} on all")
    one = NumpyBackend(cfg, V, feats, 0, 1e-3, 0.0, shards=1)
    n_params = sum(v.size for v in one.model.params.values())
    flops = phase_flops(cfg, len(seq), V, n_params, {b: cfg.d_model for b in one.model.branches})
    timer = PhaseTimer()
    with threadpool_limits(1, "blas"):
        one.step(seq, targets)                                       # warm-up: the workspace fills
        start = time.thread_time()
        with timer:
            for _ in range(repeats):
                one.step(seq, targets)
        total = (time.thread_time() - start) / repeats
    ms = {k: 1000 * v / repeats for k, v in timer.seconds.items()}
    ms["other"] = 1000 * total - sum(v for k, v in ms.items() if k != "other")
    print("one shard of the whole batch, one BLAS thread, CPU ms of the thread (mean of the repeats; FLOPs "
          "counted from the shapes):")
    print("| phase | GFLOP | ms | GFLOP/s | of 512² matmul (1 thread) | of 2048² matmul (1 thread) |\n"
          "|---|---|---|---|---|---|")
    for k in PHASES:
        rate = flops[k] / ms[k] / 1e6 if ms[k] > 0 else 0.0
        print(f"| {k} | {flops[k] / 1e9:.3f} | {ms[k]:.1f} | {rate:.1f} | {rate / fig['mm512_1']:.0%} | "
              f"{rate / fig['mm2048_1']:.0%} |")
    rate = sum(flops.values()) / total / 1e9
    print(f"| step | {sum(flops.values()) / 1e9:.3f} | {1000 * total:.1f} | {rate:.1f} | "
          f"{rate / fig['mm512_1']:.0%} | {rate / fig['mm2048_1']:.0%} |")
    if two_shard_s is None:
        return
    rate2 = sum(flops.values()) / two_shard_s / 1e9
    print(f"the two-shard step above: {rate2:.1f} GFLOP/s, {rate2 / fig['mm512_all']:.0%} of the 512² and "
          f"{rate2 / fig['mm2048_all']:.0%} of the 2048² matmul rate on all threads")


if __name__ == "__main__":
    main()
