"""The README's first run, timed: where its minutes go, against a five-minute target.

    python benchmarks/first_run.py [--data toyshop] [--flags='--epochs 3'] [--keep-cache] [--out table.md]

Runs ``python -m tiny_mmmlp.train`` as the README's first command does (no flags: every
default, the NumPy backend unless torch is asked for) in a child process, into a temporary
run folder and, unless ``--keep-cache``, a fresh ``TINY_MMMLP_CACHE`` (so the data set is
generated and its features computed as on a fresh machine). The install is not timed.

The wall time is split with the run's own figures: each epoch's training time is its
training examples over its examples per second (``metrics.json`` history; the count from the
run's header line), its validation time the rest of its recorded seconds, and everything else
(interpreter start, imports, data generation and features, the test, saving, the plot) is the
wall time less those. The verdict compares the wall time with 300 s; on a shared machine it
depends on the load, so the table says the load average before and after.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from training_run import read_record  # noqa: E402

from tiny_mmmlp.errors import UserError, exit_on_user_error  # noqa: E402
from tiny_mmmlp.files import write_text  # noqa: E402

TARGET_S = 300.0                                   # the default run should end within 5 minutes
HEADER = re.compile(r"; (\d+) training examples\b")        # then what the data decided


def timed_run(data: str, flags: list, cache: Path | None, work: Path) -> dict:
    """Run the training child; return its wall time, stdout and metrics.json."""
    out = work / "run"
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", *(["--data", data] if data else []),
           *flags, "--out", str(out), "--no-progress"]
    env = dict(os.environ, **({"TINY_MMMLP_CACHE": str(cache)} if cache else {}))
    print("$ " + shlex.join(["python", *cmd[1:]]), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise UserError(f"the training run exited {proc.returncode}: {last}")
    return {"wall_s": wall, "stdout": proc.stdout, "stderr": proc.stderr,
            "metrics": read_record(out / "metrics.json")}


def phases(result: dict) -> dict:
    """Seconds of training, validation and everything else (see the module docstring)."""
    found = [HEADER.search(line) for line in result["stdout"].splitlines()]
    counts = [int(m.group(1)) for m in found if m]
    if not counts:
        raise UserError("the training run's output has no '<n> training examples' header line")
    m = result["metrics"]
    train = sum(counts[0] / h["examples_per_s"] for h in m["history"])
    valid = max(m["seconds"] - train, 0.0)
    return {"training": train, "validation": valid, "rest": max(result["wall_s"] - train - valid, 0.0)}


def peak(metrics: dict) -> str:
    known = [x for x in metrics.get("peak_memory_mib") or [] if x is not None]
    return f"{max(known):.0f}" if known else "unknown"


def text_features(result: dict) -> str:
    """Which text encoder the run used: the README's first command (no ``text`` extra) gets
    the hashed bag of words, which warns; with the extra, MiniLM."""
    if "text" not in result["metrics"]["modalities"]:
        return ""
    bow = "hashed bag of words" in result["stderr"]
    return ", text features: " + ("hashed bag of words (no `text` extra)" if bow else "MiniLM (`text` extra)")


def table(result: dict, split: dict, load: tuple, command: str, default: bool) -> str:
    m, wall = result["metrics"], result["wall_s"]
    epochs = m["epochs"]
    rows = [f"| training | {split['training']:.1f} | {split['training'] / epochs:.1f} | "
            f"{split['training'] / wall:.0%} |",
            f"| validation | {split['validation']:.1f} | {split['validation'] / epochs:.1f} | "
            f"{split['validation'] / wall:.0%} |",
            f"| start, data, test, saving | {split['rest']:.1f} | - | {split['rest'] / wall:.0%} |",
            f"| **wall** | **{wall:.1f}** | - | 100% |"]
    verdict = ("met" if wall < TARGET_S else "not met") if default else \
        "not judged: the target is for the default run (no --data, no --flags)"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"# The first run, timed ({when}, {platform.machine()}, {os.cpu_count()} CPUs)", "",
        f"Command: `{command}`; the run: `{m['backend']}` backend, modalities "
        f"{','.join(m['modalities'])}, {epochs} epoch{'s' * (epochs != 1)} (best {m['best_epoch']}), test NDCG@10 "
        f"{m['test']['NDCG@10']:.4f}, peak {peak(m)} MiB{text_features(result)}. "
        f"Load average before / after: {load[0]:.1f} / {load[1]:.1f}.", "",
        "| phase | seconds | per epoch | share |", "|---|---|---|---|", *rows, "",
        f"Against the target (under {TARGET_S:.0f} s, the install not counted): "
        f"{wall:.0f} s, {wall / TARGET_S:.2f} of it: **{verdict}**.", ""])


@exit_on_user_error
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="", help="train.py's --data (default: its own, toyshop)")
    p.add_argument("--flags", default="", help="more train.py flags, written with '=', e.g. "
                   "--flags='--epochs 3' (the target is for none)")
    p.add_argument("--keep-cache", action="store_true",
                   help="use the usual cache (data already generated) instead of a fresh one")
    p.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    args = p.parse_args(argv)
    flags = shlex.split(args.flags)
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="first_run-") as work:
        cache = None if args.keep_cache else Path(work) / "cache"
        result = timed_run(args.data, flags, cache, Path(work))
    load.append(os.getloadavg()[0])
    command = shlex.join(["python", "benchmarks/first_run.py", *(argv if argv is not None else sys.argv[1:])])
    text = table(result, phases(result), tuple(load), command, not (args.data or flags))
    print(text)
    if args.out:
        write_text(args.out, text)


if __name__ == "__main__":
    main()
