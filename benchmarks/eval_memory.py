"""Peak memory of one evaluation pass on the CPU: the torch backend's score blocks vs one block.

    python benchmarks/eval_memory.py [--data path/to/beauty --rounds 4]
    python benchmarks/eval_memory.py --run runs/<a trained MMMLP run folder> --rounds 4

Each measurement is a fresh process (the allocator's state is what is measured): it builds
MMMLP with the torch backend at the default config (random weights), or loads a trained
run's ``model.safetensors`` and data with ``--run`` (the allocator's state after loading differs, and
so does the peak), ranks the validation users ``--eval-batch`` at a time, and reports the rise of its
resident high-water mark over the pass (VmHWM, reset just before through
/proc/self/clear_refs) and the pass's seconds. "blocks" is TorchBackend.ranks as shipped
(CPU_SCORE_BYTES of scores at most), "one block" sets CPU_SCORE_BYTES so high that each batch
is scored at once, the behaviour before blocks. The two alternate, so load slows both
alike. Linux only (VmHWM, clear_refs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from training_run import AMAZON_ROOT, AMAZON_WHERE

ROOT = Path(__file__).resolve().parents[1]
MODES = {"blocks": None, "one block": 2**62}


def vm(key: str) -> int:
    """A /proc/self/status field in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def measure(data_dir: str, run: str | None, eval_batch: int, score_bytes: int | None) -> dict:
    """One pass in this process: {"rise_mib", "base_mib", "seconds", "users"}."""
    from training_run import trained_backend

    import tiny_mmmlp.backends as backends
    from tiny_mmmlp import MMMLPConfig, data
    from tiny_mmmlp.ranking import evaluate
    if score_bytes is not None:
        backends.CPU_SCORE_BYTES = score_bytes
    if run:
        backend, cfg, split = trained_backend(run, "torch")
    else:
        ds, cfg = data.load(data_dir), MMMLPConfig()
        backend = backends.make_backend("torch", cfg, ds.n_items, {}, 0, 1e-3, 0.0, None, "mmmlp", None)
        split = data.split_leave_one_out(ds)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                        # VmHWM := VmRSS
    base = vm("VmRSS")
    start = time.perf_counter()
    evaluate(backend, split.valid_history, split.valid_target, cfg.max_len, eval_batch)
    return {"rise_mib": vm("VmHWM") - base, "base_mib": base,
            "seconds": time.perf_counter() - start, "users": len(split.valid_target)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(Path(AMAZON_ROOT) / "beauty"),
                   help=f"RecBole atomic folder (default: beauty in the Amazon folder, {AMAZON_WHERE})")
    p.add_argument("--run", default=None, help="a trained run folder (its model.safetensors and data)")
    p.add_argument("--eval-batch", type=int, default=256, help="users per evaluation batch (train.py's default)")
    p.add_argument("--rounds", type=int, default=4, help="alternations of the two modes (default 4)")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child is not None:
        print(json.dumps(measure(args.data, args.run, args.eval_batch, json.loads(args._child))))
        return
    results = {mode: [] for mode in MODES}
    for r in range(args.rounds):
        for mode, score_bytes in MODES.items():
            out = subprocess.run([sys.executable, __file__, "--data", args.data, "--eval-batch",
                                  str(args.eval_batch), "--_child", json.dumps(score_bytes),
                                  *(["--run", args.run] if args.run else [])],
                                 capture_output=True, text=True, check=True, cwd=ROOT,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
            results[mode].append(json.loads(out.stdout))
            print(f"round {r + 1} {mode:9s} rise {results[mode][-1]['rise_mib']:5d} MiB "
                  f"in {results[mode][-1]['seconds']:.1f} s", flush=True)
    users = results["blocks"][0]["users"]
    what = f"the trained model in {args.run}" if args.run else f"{Path(args.data).name}, random weights"
    print(f"\n{what}: one validation pass, {users} users, {args.eval_batch} a batch, "
          f"one torch thread, {args.rounds} fresh processes per mode\n")
    print("| mode | rise of peak RSS, MiB (each process) | max | median s | max rise vs blocks |")
    print("|---|---|---|---|---|")
    top = max(x["rise_mib"] for x in results["blocks"])
    for mode, rs in results.items():
        rise = [x["rise_mib"] for x in rs]
        print(f"| {mode} | {', '.join(map(str, rise))} | {max(rise)} | "
              f"{statistics.median(x['seconds'] for x in rs):.1f} | {max(rise) / max(top, 1):.2f}x |")


if __name__ == "__main__":
    main()
