"""One training run in a subprocess, measured from outside: the benchmarks' shared runner.

    metrics, peak_rss_gb, wall_s = run_training(cmd, out)
    masked = masked_test(out)      # the same saved model under --mask-history's protocol
    backend, cfg, split = trained_backend(out, "torch")   # that model in a backend of choice
    backend, batches, batch_size = id_only_steps(data_dir, model, max_len)  # timed/profiled steps

``cmd`` is a ``python -m tiny_mmmlp.train ... --out OUT`` command; the child runs in the
repository root, its peak resident memory is the one it records itself (VmHWM), and
``OUT/metrics.json`` is read back once it has exited.

A driver's runs end with it: ``stop_on_sigterm()`` (called by each driver's ``main``) makes a
``kill`` of the driver a ``KeyboardInterrupt``, as Ctrl-C is, and a driver stopping while
runs are going ends them (``stop_runs``); each keeps its last checkpoint, and the same driver
command resumes it. Without this a killed driver left its runs training on, unseen, in the
folders its next call would use.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# where the benchmarks read the Amazon sets (RecBole atomic folders: scientific, instruments,
# beauty; docs/data.md makes them) unless --data-root or --data names another folder
AMAZON_WHERE = "$TINY_MMMLP_AMAZON, else data/amazon"
AMAZON_ROOT = os.environ.get("TINY_MMMLP_AMAZON") or "data/amazon"
AMAZON_HELP = f"folder of the Amazon sets (default: {AMAZON_WHERE})"
RUNNING: set[subprocess.Popen] = set()       # runs started by start_run, not yet seen to end
STOPPED = threading.Event()                  # stop_runs was called: no run starts after it
_STARTING = threading.Lock()                 # a start and a stop never interleave


def stop_on_sigterm() -> None:
    """SIGTERM (``kill``) stops this driver as Ctrl-C does: KeyboardInterrupt, its runs ended."""
    def on_sigterm(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_sigterm)


def stop_runs() -> None:
    """End every run this driver started and has not seen end (SIGTERM; the run's last
    checkpoint stays), and refuse every later start. For a driver stopping while other
    threads wait for their runs, or are about to start one: a thread between taking its
    next run and starting it would otherwise start a run nobody ends, and the stopping
    driver would wait for it to finish."""
    with _STARTING:
        STOPPED.set()
        for proc in list(RUNNING):
            proc.terminate()


def start_run(cmd, **popen) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **popen)``, kept in RUNNING (the caller discards it once it
    has ended), unless the driver is stopping: then KeyboardInterrupt, and nothing starts."""
    with _STARTING:
        if STOPPED.is_set():
            raise KeyboardInterrupt
        proc = subprocess.Popen(cmd, **popen)
        RUNNING.add(proc)
        return proc


@contextlib.contextmanager
def started(cmd, **popen):
    """``start_run``'s process for the block; a driver stopping inside it (Ctrl-C, ``kill``, an
    error) ends the run, and the run leaves RUNNING with the block."""
    proc = start_run(cmd, **popen)
    try:
        yield proc
    except BaseException:                   # the driver stops while waiting: so does the run
        proc.terminate()
        proc.wait()
        raise
    finally:
        RUNNING.discard(proc)


def run_training(cmd, out, fail=SystemExit) -> tuple[dict, float, float]:
    """Run ``cmd``; returns (metrics.json of ``out``, peak RSS in GB, wall seconds).

    A failed run raises ``fail`` naming the command (SystemExit ends a table script;
    a search passes RuntimeError so that one trial fails, not the study).
    """
    print("$", " ".join(map(str, cmd)), flush=True)
    start = time.perf_counter()
    with started(cmd, cwd=ROOT) as proc:
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise fail(f"run failed: {' '.join(map(str, cmd))}")
    metrics = read_record(Path(out) / "metrics.json")
    # the child's own peak (VmHWM, see distributed.peak_memory_mib), not wait4's ru_maxrss,
    # which on Linux is at least this (large) driver process's peak
    peaks = [m for m in metrics.get("peak_memory_mib") or [] if m is not None]
    peak_gb = max(peaks) / 1024 if peaks else usage.ru_maxrss / 1024 ** 2
    return metrics, peak_gb, time.perf_counter() - start


def read_record(path) -> dict:
    """The JSON object in ``path``, a run's or a benchmark's own record (metrics.json,
    compare.json, a scaling or memory record); a damaged one is one sentence, not a traceback."""
    from tiny_mmmlp.errors import UserError
    try:
        record = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path}: not a readable record ({type(err).__name__}: {err}); "
                        "delete it, or its run folder, to make it again") from None
    if not isinstance(record, dict):
        raise UserError(f"{path}: not a readable record (not a JSON object); "
                        "delete it, or its run folder, to make it again")
    return record


def trained_backend(run_dir, backend: str | None = None, source=None):
    """(backend holding a finished run's saved model, its config, its data's split).

    backend: "numpy" or "torch"; None picks NumPy for MMMLP and torch for a baseline.
    source: the data, if it moved since training (default: where the run's metadata says)."""
    import numpy as np

    from tiny_mmmlp import data
    from tiny_mmmlp.backends import make_backend
    from tiny_mmmlp.recommender import load
    rec = load(run_dir, source)                                   # checked as recommend checks it
    params, meta, cfg, ds, feats = rec.saved.params, rec.meta, rec.config, rec.dataset(), rec.saved.features
    model = meta.get("model", "mmmlp")
    backend = backend or ("numpy" if model == "mmmlp" else "torch")
    b = make_backend(backend, cfg, ds.n_items, feats, 0, 1e-3, 0.0, None, model, meta.get("encoder"))
    b.load_params({k: np.asarray(v) for k, v in params.items()})
    return b, cfg, data.split_leave_one_out(ds)


def masked_test(run_dir, source=None) -> dict:
    """Test metrics of a finished run's saved model (``model.safetensors``, its best epoch) under
    --mask-history's protocol: each user's history leaves the ranking, the target stays.
    MMMLP is evaluated with the NumPy backend, a baseline with the torch one. source: the run's
    data (a run folder keeps a data folder by its name only, not its path)."""
    from tiny_mmmlp.ranking import evaluate
    backend, cfg, split = trained_backend(run_dir, source=source)
    return evaluate(backend, split.test_history, split.test_target, cfg.max_len, mask_history=True)


def id_only_steps(data_dir, model: str, max_len: int):
    """(torch backend on the CPU, endless training batches, batch size) of ``model`` with IDs
    only at ``max_len`` and train.py's other defaults: what the step timings and profiles run.
    The batches go on epoch after epoch (reshuffled), so a small set never runs out."""
    from tiny_mmmlp import data
    from tiny_mmmlp.averaging import with_average
    from tiny_mmmlp.backends import make_backend
    from tiny_mmmlp.baselines import encoder_settings
    from tiny_mmmlp.run_flags import resolve_flags
    targs = resolve_flags(["--model", model, "--backend", "torch", "--modalities", "id",
                                       "--max-len", str(max_len)])
    ds = data.load(Path(data_dir))
    cfg = targs.model_config(["id"])
    enc = None if model == "mmmlp" else encoder_settings(model)
    backend = with_average(make_backend("torch", cfg, ds.n_items, {}, 0, targs.lr, targs.weight_decay,
                                        "cpu", model, enc),
                           targs.ema, targs.ema_warmup)             # the default run's average too
    train = data.split_leave_one_out(ds).train
    batches = (batch for epoch in itertools.count()          # epoch after epoch: never runs out
               for batch in data.train_batches(train, cfg.max_len, targs.batch_size, 0, epoch))
    return backend, batches, targs.batch_size


def run_arg(text: str) -> tuple[Path, str]:
    """``RUN`` or ``RUN=LABEL``: (the folder, its label)."""
    folder, _, label = text.partition("=")
    return Path(folder), label or Path(folder).name


def runs_and_figure(parser) -> None:
    """The arguments of a script that draws saved runs: RUN[=LABEL] ... and --out PNG."""
    parser.add_argument("runs", nargs="+", type=run_arg, metavar="RUN[=LABEL]",
                        help="run folders, each with an optional legend label")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
