"""Training curves of several runs in one figure: training loss and a validation metric per
epoch, the best epoch of each run marked.

    python benchmarks/curves.py RUN[=LABEL] [RUN[=LABEL] ...] --out curves.png \
        [--metric NDCG@10] [--title TITLE]

Each RUN is a run folder: a finished one (its metrics.json) or one that is still going or was
stopped (the history in its checkpoint, read without unpickling anything). LABEL names the
run in the legend (default: the folder's name). The runs need not share a data set, but the
figure is made to set runs of one set side by side, e.g. the same training with and without
--ema, whose losses coincide while their validation curves do not.
"""
from __future__ import annotations

from pathlib import Path

from training_run import read_record, runs_and_figure  # noqa: E402

from tiny_mmmlp.checkpoint import CHECKPOINT_FILE, load_checkpoint  # noqa: E402
from tiny_mmmlp.cli import OneLineParser  # noqa: E402
from tiny_mmmlp.errors import UserError, exit_on_user_error  # noqa: E402
from tiny_mmmlp.metrics import METRIC_NAMES  # noqa: E402
from tiny_mmmlp.plots import plot_run_curves  # noqa: E402
from tiny_mmmlp.run_record import check_history  # noqa: E402


def history_of(folder: Path) -> tuple[list, bool]:
    """(the run's epochs, whether it finished): metrics.json's history, else its checkpoint's."""
    if (folder / "metrics.json").is_file():
        history = read_record(folder / "metrics.json").get("history")
        finished = True
    elif (folder / CHECKPOINT_FILE).is_file():
        history = load_checkpoint(folder, reader="")["run"].get("history")
        finished = False
    else:
        raise UserError(f"{folder}: holds no run (no metrics.json or {CHECKPOINT_FILE})")
    try:
        check_history(history)
    except ValueError as err:
        raise UserError(f"{folder}: its record is damaged ({err})") from None
    if not history:
        raise UserError(f"{folder}: its record holds no epochs to draw")
    return history, finished


@exit_on_user_error
def main(argv=None):
    p = OneLineParser(prog="python benchmarks/curves.py", description=__doc__.split("\n\n")[0])
    runs_and_figure(p)
    p.add_argument("--metric", choices=METRIC_NAMES, default="NDCG@10", help="validation metric drawn (default NDCG@10)")
    p.add_argument("--title", default="", help="the figure's title")
    args = p.parse_args(argv)
    labels = [label for _, label in args.runs]
    for label in labels:
        if labels.count(label) > 1:
            raise UserError(f"{label}: two runs have this label; give them their own (RUN=LABEL)")
    curves = {}
    for folder, label in args.runs:
        history, finished = history_of(folder)
        curves[label if finished else f"{label} (unfinished)"] = history
        best = max(history, key=lambda h: h["valid"][args.metric])
        print(f"{label}: {len(history)} epochs{'' if finished else ' so far'}, best "
              f"{args.metric} {best['valid'][args.metric]:.4f} at epoch {best['epoch']}")
    if not plot_run_curves(curves, args.out, args.metric, args.title):
        raise UserError("no figure drawn: matplotlib is not installed (pip install 'tiny_mmmlp[plot]')")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
