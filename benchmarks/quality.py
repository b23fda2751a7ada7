"""Recommendation quality on the real Amazon sets, with default settings.

    python benchmarks/quality.py [--data-root path/to/amazon] [--sets scientific,...]
    python benchmarks/quality.py --sets beauty --seeds 0,1,2 --flags "--epochs 40"  # mean ± std

With --seeds, each row is trained once per seed and reported as mean ± std (population
std over the seeds), under both protocols: the test metrics of train.py (history items not
masked, our default) and the same saved model evaluated with --mask-history's rule
(history items removed from the ranking, the target kept). --flags adds train.py flags to
every run (the label column says which).

For each set it trains MMMLP (python -m tiny_mmmlp.train, default flags) once ID-only and
once with every modality the set has (with --each, also each side modality alone), and on
sets with side information once more with the paper's prediction head
(--no-candidate-features). Each run is a subprocess, so its peak resident memory is read
from the operating system (wait4). Prints a markdown table and writes it to --out.
Reference: SASRec on beauty HR@10 0.0605 / NDCG@10 0.0318 (published, full ranking);
RecBole's SASRec takes 76.6 s per epoch on scientific on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from training_run import AMAZON_HELP, AMAZON_ROOT, masked_test, run_training, stop_on_sigterm  # noqa: E402

from tiny_mmmlp.errors import exit_on_user_error  # noqa: E402
from tiny_mmmlp.files import write_text  # noqa: E402


def runs_for(name, modalities, each=False, paper_head=True):
    """(label, extra flags) of each run on one set."""
    runs = [("id", ["--modalities", "id"])]
    if modalities:
        everything = ",".join(["id", *modalities])
        if len(modalities) > 1 and each:
            runs += [(f"id,{m}", ["--modalities", f"id,{m}"]) for m in modalities]
        runs.append((everything, ["--modalities", everything]))
        if paper_head:
            runs.append((f"{everything} (paper head)",
                         ["--modalities", everything, "--no-candidate-features"]))
    return runs


def planned_runs(args):
    """(set, folder, label, flags, slug) for every run of --sets that --only keeps."""
    from tiny_mmmlp import data
    for name in args.sets.split(","):
        folder = Path(args.data_root) / name
        modalities = data.available_modalities(data.load(folder))
        for label, flags in runs_for(name, modalities, args.each, name in args.paper_head.split(",")):
            if args.only in label:
                slug = label.replace(",", "+").replace(" ", "_").replace("(", "").replace(")", "")
                yield name, folder, label, flags, slug


def run_one(data, flags, out, backend, seed=0):
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", str(data), "--backend", backend,
           "--out", str(out), "--overwrite", "--no-progress", "--seed", str(seed), *flags]
    m, peak_rss_gb, wall_s = run_training(cmd, out)
    m.update(peak_rss_gb=peak_rss_gb, wall_s=wall_s)
    return m


@exit_on_user_error
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=AMAZON_ROOT, help=AMAZON_HELP)
    p.add_argument("--sets", default="scientific,instruments,beauty", help="comma-separated sets under --data-root")
    p.add_argument("--backend", default="numpy", help="train.py's --backend (default numpy)")
    p.add_argument("--runs-dir", default=str(ROOT / "runs/quality"), help="one run folder per row (and seed)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/quality.md"), help="the Markdown table to write")
    p.add_argument("--each", action="store_true", help="also ID + each side modality alone")
    p.add_argument("--paper-head", default="scientific,instruments",
                   help="sets that also get a --no-candidate-features run ('' for none)")
    p.add_argument("--append", action="store_true", help="add rows to an existing --out table")
    p.add_argument("--only", default="", help="run only the runs whose label contains this text")
    p.add_argument("--seeds", default="", help="e.g. 0,1,2: mean ± std over seeds, both protocols")
    p.add_argument("--flags", default="", help="extra train.py flags for every run")
    args = p.parse_args()
    stop_on_sigterm()
    if args.seeds:
        return seeded_table(args)
    rows = []
    if args.append and Path(args.out).exists():
        rows = [l for l in Path(args.out).read_text().splitlines()
                if l.startswith("| ") and not l.startswith("| set ")]
    header = ("| set | modalities | test HR@10 | test NDCG@10 | test MRR@10 | epochs (best) | "
              "s / epoch | peak RSS GB |\n|---|---|---|---|---|---|---|---|")
    for name, folder, label, flags, slug in planned_runs(args):
        m = run_one(folder, flags, Path(args.runs_dir) / f"{name}-{slug}", args.backend)
        t = m["test"]
        rows.append(f"| {name} | {label} | {t['HR@10']:.4f} | {t['NDCG@10']:.4f} | "
                    f"{t['MRR@10']:.4f} | {m['epochs']} ({m['best_epoch']}) | "
                    f"{m['seconds_per_epoch']:.1f} | {m['peak_rss_gb']:.2f} |")
        if label == "id":
            pop = m["popularity"]
            rows.append(f"| {name} | popularity baseline | {pop['HR@10']:.4f} | "
                        f"{pop['NDCG@10']:.4f} | {pop['MRR@10']:.4f} | - | - | - |")
        table = "\n".join([header, *rows])
        print(table, flush=True)
        text = (f"# Quality on real Amazon data ({datetime.date.today()}, {platform.machine()}, "
                f"{os.cpu_count()} CPU cores, backend {args.backend})\n\n"
                f"Command: `python benchmarks/quality.py --sets {args.sets} --backend {args.backend}"
                f"{' --append' if args.append else ''}` (rows of earlier runs kept with --append); "
                "every run uses the default flags of `python -m tiny_mmmlp.train` except "
                "`--modalities` (and `--no-candidate-features` for the paper-head rows). "
                "s / epoch counts training plus the validation pass.\n\n" + table + "\n")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_text(Path(args.out), text)


def seeded_table(args):
    """Rows of mean ± std over --seeds, under both protocols (see the module docstring)."""
    import numpy as np
    seeds = [int(x) for x in args.seeds.split(",")]
    extra = args.flags.split()
    rows = []
    if args.append and Path(args.out).exists():
        rows = [l for l in Path(args.out).read_text().splitlines()
                if l.startswith("| ") and not l.startswith("| set ")]
    header = ("| set | modalities | flags | seeds | test HR@10 | test NDCG@10 | masked HR@10 | "
              "masked NDCG@10 | valid NDCG@10 | epochs (best) | s / epoch | peak RSS GB |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|")
    pm = lambda xs: f"{np.mean(xs):.4f} ± {np.std(xs):.4f}"
    for name, folder, label, flags, slug in planned_runs(args):
        ms = []
        for seed in seeds:
            out = Path(args.runs_dir) / f"{name}-{slug}-seed{seed}"
            m = run_one(folder, [*flags, *extra], out, args.backend, seed)
            m["masked"] = masked_test(out, folder)
            ms.append(m)
        get = lambda part, key: [m[part][key] for m in ms]
        rows.append(f"| {name} | {label} | `{args.flags or '(defaults)'}` | {args.seeds} | "
                    f"{pm(get('test', 'HR@10'))} | {pm(get('test', 'NDCG@10'))} | "
                    f"{pm(get('masked', 'HR@10'))} | {pm(get('masked', 'NDCG@10'))} | "
                    f"{pm(get('valid', 'NDCG@10'))} | "
                    f"{'/'.join(str(m['epochs']) for m in ms)} "
                    f"({'/'.join(str(m['best_epoch']) for m in ms)}) | "
                    f"{np.mean([m['seconds_per_epoch'] for m in ms]):.1f} | "
                    f"{max(m['peak_rss_gb'] for m in ms):.2f} |")
        table = "\n".join([header, *rows])
        print(table, flush=True)
        text = (f"Command: `python benchmarks/quality.py --sets {args.sets} --backend "
                f"{args.backend} --seeds {args.seeds} --flags '{args.flags}'"
                f"{' --append' if args.append else ''}`\n\n" + table + "\n")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_text(Path(args.out), text)


if __name__ == "__main__":
    main()
