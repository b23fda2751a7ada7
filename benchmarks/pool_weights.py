"""The history pool's learned weights a_t (``--history-pool``) of saved runs, one figure.

    python benchmarks/pool_weights.py RUN[=LABEL] [RUN[=LABEL] ...] --out pool.png

Each RUN is a run folder (or its model.safetensors) of MMMLP trained with the history pool.
Prints each run's weights, most recent position first, and draws them against the position
counted back from the most recent item (1 = the most recent), one line per run.
"""
from __future__ import annotations

from pathlib import Path

from training_run import runs_and_figure

from tiny_mmmlp.cli import OneLineParser
from tiny_mmmlp.errors import UserError, exit_on_user_error
from tiny_mmmlp.model_file import load_model
from tiny_mmmlp.plots import save_figure


def weights_of(folder: Path):
    """a (N,) of the run's saved model, index N - 1 = the most recent position."""
    params, _ = load_model(folder)
    if "head.history_pool" not in params:
        raise UserError(f"{folder}: its model has no history pool (trained without --history-pool)")
    return params["head.history_pool"]


@exit_on_user_error
def main(argv=None):
    p = OneLineParser(prog="python benchmarks/pool_weights.py", description=__doc__.split("\n\n")[0])
    runs_and_figure(p)
    p.add_argument("--show", type=int, default=10, help="positions printed per run (default 10)")
    args = p.parse_args(argv)
    weights = {label: weights_of(folder) for folder, label in args.runs}
    for label, a in weights.items():
        back = a[::-1][:args.show]
        print(f"{label}: a_t from the most recent back: " + " ".join(f"{x:+.3f}" for x in back))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("no figure drawn: matplotlib is not installed (pip install 'tiny_mmmlp[plot]')") from None
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, a in weights.items():
        ax.plot(range(1, len(a) + 1), a[::-1], marker="o", ms=3, label=label)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(xlabel="position, counted back from the most recent item (1)", ylabel="learned weight $a_t$",
           title="history pool: q = Σ_t a_t E[x_t]")
    ax.legend(fontsize=8)
    save_figure(fig, args.out)              # atomic: never a half-written PNG
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
