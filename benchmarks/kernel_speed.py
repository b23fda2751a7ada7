"""Fused Triton token_mix + channel_mix, forward + backward, against PyTorch eager and torch.compile.

    python benchmarks/kernel_speed.py --out benchmarks/results/kernels-h200.md   # on a CUDA GPU
    python benchmarks/kernel_speed.py --interpret-smoke                          # tiny CPU run (CI)

One step = y = channel_mix(token_mix(x)), then dx and all twelve parameter gradients for a
random dy. A second table times one whole MMMLP training step with each backend (numpy on the
CPU; torch and triton on the GPU) and their peak CUDA memory. For every size (B in {256, 2048}, N in {50, 200}, D in {64, 256}; hidden widths
R_N = --token-hidden, R_D = --channel-mult · D) and backend it reports:

    ms        median wall time of a step
    GB/s      bytes / time, bytes = x and dy read once, y and dx written once, the parameters
              read once and their gradients written once (the least any implementation moves)
    %copy     GB/s as a fraction of a measured device-to-device copy (read + write) bandwidth
    GFLOP     matmul FLOPs of the step: 3 × (forward) = 3 × 4·B·N·D·(R_N + R_D)
    roof ms   max(bytes / copy bandwidth, FLOPs / measured torch.matmul rate in the same dtype)
    %roof     roof ms / ms: the share of the roofline bound reached
    peak MiB  peak CUDA memory of the step above the inputs (fused saves no hidden activation)

Without CUDA (and without --interpret-smoke) it exits with code 2.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

SIZES = [(B, N, D) for B in (256, 2048) for N in (50, 200) for D in (64, 256)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="write the markdown table to this path")
    p.add_argument("--dtypes", default="bfloat16,float32", help="comma list: bfloat16, float32")
    p.add_argument("--token-hidden", type=int, default=64, help="R_N (default 64)")
    p.add_argument("--channel-mult", type=int, default=2, help="R_D = this times D (default 2)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    p.add_argument("--interpret-smoke", action="store_true",
                   help="no GPU: run a tiny size on the CPU under TRITON_INTERPRET=1 (exercises the script)")
    return p.parse_args(argv)


def bench(fn, sync, budget_s=0.3, max_reps=50):
    """Median seconds per call of fn(), after a warm-up call; about budget_s in all."""
    fn(); sync()
    t0 = time.perf_counter(); fn(); sync()
    reps = int(max(3, min(max_reps, budget_s / max(time.perf_counter() - t0, 1e-6))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def device_rates(torch, device, dtype, sync, smoke):
    """Measured copy bandwidth (bytes/s, read + write) and torch.matmul rate (FLOP/s) in dtype."""
    n = (1 << 20) if smoke else (1 << 28)                      # 1 Mi or 256 Mi elements
    src = torch.empty(n, device=device, dtype=dtype).normal_()
    dst = torch.empty_like(src)
    copy_bw = 2 * src.numel() * src.element_size() / bench(lambda: dst.copy_(src), sync)
    k = 256 if smoke else 8192
    a = torch.randn(k, k, device=device, dtype=dtype)
    b = torch.randn(k, k, device=device, dtype=dtype)
    mm_rate = 2 * k**3 / bench(lambda: torch.matmul(a, b), sync)
    return copy_bw, mm_rate


def make_step(fn, torch, B, N, D, RN, RD, device, dtype):
    """Inputs and a closure running forward + backward of fn(x, token_params, channel_params)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    rnd = lambda *s, scale=1.0: (torch.randn(*s, generator=g) * scale).to(device, dtype)  # noqa: E731
    x = rnd(B, N, D).requires_grad_()
    tok = [rnd(D, scale=0.1) + 1, rnd(D, scale=0.1), rnd(RN, N, scale=N**-0.5), rnd(RN, scale=0.1),
           rnd(N, RN, scale=RN**-0.5), rnd(N, scale=0.1)]
    chan = [rnd(D, scale=0.1) + 1, rnd(D, scale=0.1), rnd(RD, D, scale=D**-0.5), rnd(RD, scale=0.1),
            rnd(D, RD, scale=RD**-0.5), rnd(D, scale=0.1)]
    params = [p.requires_grad_() for p in tok + chan]
    dy = rnd(B, N, D)

    def step():
        y = fn(x, params[:6], params[6:])
        return torch.autograd.grad(y, [x, *params], dy)
    n_param = sum(p.numel() for p in params)
    return step, n_param


def main(argv=None):
    args = parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.interpret_smoke:
        print("benchmarks/kernel_speed.py needs a CUDA GPU; use --interpret-smoke for a tiny CPU run.",
              file=sys.stderr)
        return 2
    if args.interpret_smoke:
        os.environ["TRITON_INTERPRET"] = "1"                   # before the kernels import triton
    from tiny_mmmlp.kernels import channel_mix, token_mix
    from tiny_mmmlp.torch_model import channel_mix_eager, token_mix_eager

    device = "cuda" if cuda and not args.interpret_smoke else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sizes = [(2, 8, 16)] if args.interpret_smoke else SIZES
    dtypes = ["float32"] if device == "cpu" else args.dtypes.split(",")

    def fused(x, tok, chan):
        return channel_mix(token_mix(x, *tok), *chan)

    def eager(x, tok, chan):   # the torch model's own eager mixer block
        return channel_mix_eager(token_mix_eager(x, *tok), *chan)
    backends = {"fused": fused, "eager": eager}
    if device == "cuda" and not args.no_compile:
        backends["compile"] = torch.compile(eager)

    gpu = torch.cuda.get_device_name() if device == "cuda" else "CPU (TRITON_INTERPRET=1 smoke run)"
    head = ("| dtype | B | N | D | R_N | R_D | backend | ms | GB/s | %copy | GFLOP | roof ms | %roof "
            "| peak MiB | eager / this | compile / this |")
    title = f"{datetime.date.today().isoformat()}, {gpu}, torch {torch.__version__}"
    print(title)
    notes, rows = [], [head, "|" + "---|" * (head.count("|") - 1)]
    print("\n".join(rows))
    for dname in dtypes:
        dtype = getattr(torch, dname)
        copy_bw, mm_rate = device_rates(torch, device, dtype, sync, args.interpret_smoke)
        notes.append(f"- {dname}: measured copy {copy_bw / 1e9:.0f} GB/s (read + write), "
                     f"torch.matmul {mm_rate / 1e12:.1f} TFLOP/s")
        print(notes[-1])
        for B, N, D in sizes:
            RN, RD = (16, 16) if args.interpret_smoke else (args.token_hidden, args.channel_mult * D)
            results = {}
            for name, fn in backends.items():
                step, n_param = make_step(fn, torch, B, N, D, RN, RD, device, dtype)
                seconds = bench(step, sync, budget_s=0.05 if args.interpret_smoke else 0.5)
                peak = "n/a"
                if device == "cuda":
                    sync(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
                    step(); sync()
                    peak = f"{(torch.cuda.max_memory_allocated() - base) / 2**20:.0f}"
                results[name] = (seconds, peak)
                del step
            nbytes = (torch.finfo(dtype).bits // 8) * (4 * B * N * D + 2 * n_param)
            flops = 3 * 4 * B * N * D * (RN + RD)
            roof = max(nbytes / copy_bw, flops / mm_rate)
            for name, (s, peak) in results.items():
                vs = [f"{results[o][0] / s:.2f}x" if o in results else "n/a" for o in ("eager", "compile")]
                row = (f"| {dname} | {B} | {N} | {D} | {RN} | {RD} | {name} | {s * 1e3:.3f} | "
                       f"{nbytes / s / 1e9:.3g} | {nbytes / s / copy_bw:.1%} | {flops / 1e9:.3g} | "
                       f"{roof * 1e3:.3f} | {roof / s:.1%} | {peak} | {vs[0]} | {vs[1]} |")
                print(row, flush=True)
                rows.append(row)
            if args.out:   # after every size, so that a run cut short still leaves its rows
                write_table(args.out, ["# Fused mixer kernels, forward + backward", "", title, "",
                                       *notes, "", *rows])
    step_rows = train_step_rows(torch, device, sync, args.interpret_smoke)
    if args.out:
        write_table(args.out, ["# Fused mixer kernels, forward + backward", "", title, "",
                               *notes, "", *rows, "", "## One MMMLP training step per backend", "",
                               *step_rows])
        print(f"wrote {args.out}")
    return 0


def train_step_rows(torch, device, sync, smoke):
    """Time one full training step (forward, backward, AdamW) of each backend on one batch.

    ID + a 384-wide text modality, B=256, N=50, d_model=64, 12,000 items (tiny in smoke mode).
    The numpy backend runs on the CPU; torch and triton on ``device``.
    """
    import numpy as np

    from tiny_mmmlp import MMMLPConfig
    from tiny_mmmlp.backends import make_backend
    B, N, D, V, W = (2, 4, 8, 20, 6) if smoke else (256, 50, 64, 12000, 384)
    rng = np.random.default_rng(0)
    feats = {"text": rng.standard_normal((V + 1, W)).astype(np.float32)}
    cfg = MMMLPConfig(max_len=N, d_model=D, token_hidden=min(64, 2 * N), dropout=0.2)
    seq = rng.integers(1, V + 1, (B, N))
    targets = rng.integers(1, V + 1, B)
    head = "| backend | device | ms / step | peak MiB (CUDA) | numpy / this |"
    rows, times = [head, "|---|---|---|---|---|"], {}
    for name in ("numpy", "torch", "triton"):
        dev = "cpu" if name == "numpy" else device
        backend = make_backend(name, cfg, V, feats, 0, 1e-3, 0.0, dev)
        run = lambda: backend.step(seq, targets)                          # noqa: E731
        times[name] = bench(lambda: (run(), sync()), sync, budget_s=0.05 if smoke else 1.0,
                            max_reps=3 if smoke else 30)
        peak = "n/a"
        if dev == "cuda":
            sync(); torch.cuda.reset_peak_memory_stats()
            run(); sync()
            peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f}"
        rows.append(f"| {name} | {dev} | {times[name] * 1e3:.2f} | {peak} | "
                    f"{times['numpy'] / times[name]:.2f}x |")
        print(rows[-1], flush=True)
    return [f"B={B}, N={N}, d_model={D}, V={V}, modalities id,text ({W}); float32", "", *rows]


def write_table(path, lines):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
