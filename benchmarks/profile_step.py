"""Where a training step's time goes: torch.profiler over a few steps of one model.

    python benchmarks/profile_step.py --max-len 800 [--model mmmlp] [--set beauty] [--steps 3]

One torch thread, ID only, batch 256, after 2 warm-up steps; prints the operators by self
CPU time. Run it at two lengths to see which operators grow faster than the length.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))      # the sibling helper training_run.py
from training_run import id_only_steps  # noqa: E402
from tiny_mmmlp.baselines import MODELS  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--model", default="mmmlp", choices=MODELS)
    p.add_argument("--set", default="beauty")
    p.add_argument("--data-root", default=str(ROOT.parent / "shared/data/amazon"))
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rows", type=int, default=14, help="operators shown")
    args = p.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    backend, batches, _ = id_only_steps(Path(args.data_root) / args.set, args.model, args.max_len)
    for _ in range(2):
        backend.step(*next(batches))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            backend.step(*next(batches))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                    max_name_column_width=40))


if __name__ == "__main__":
    main()
