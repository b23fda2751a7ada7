"""The tiny-mmmlp command: one entry point for every command of the package.

    tiny-mmmlp train --data toyshop-tiny --epochs 1       # = python -m tiny_mmmlp.train ...
    tiny-mmmlp evaluate runs/toyshop-tiny-numpy            # = python -m tiny_mmmlp.evaluate ...
    tiny-mmmlp recommend RUN --users all --format csv      # = python -m tiny_mmmlp.recommend ...
    tiny-mmmlp tune --data FOLDER --trials 20               # = python -m tiny_mmmlp.tune ...
    tiny-mmmlp data describe toyshop                       # = python -m tiny_mmmlp.data ...
    tiny-mmmlp course list                                 # = python -m tiny_mmmlp.course ...
    tiny-mmmlp --version                                   # the installed version

``python -m tiny_mmmlp`` is the same command. Each subcommand hands the rest of the line to
that module's ``main(argv)``; ``tiny-mmmlp COMMAND --help`` shows its flags.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("tiny_mmmlp.train", "train a model and write a run folder"),
    "evaluate": ("tiny_mmmlp.evaluate", "test metrics of a trained run, on its data or other data"),
    "recommend": ("tiny_mmmlp.recommend", "top-k items for users or a history: table, CSV or JSON lines"),
    "tune": ("tiny_mmmlp.tune", "search training settings on your data by validation NDCG@10"),
    "data": ("tiny_mmmlp.data.__main__", "describe, convert, download data and build its features"),
    "course": ("tiny_mmmlp.course.__main__", "the course: list exercises, make a kit, grade it"),
}


def usage() -> str:
    lines = ["usage: tiny-mmmlp COMMAND [flags]   (or python -m tiny_mmmlp COMMAND ...)", "", "commands:"]
    lines += [f"  {name:<10} {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "tiny-mmmlp COMMAND --help shows the flags of COMMAND; tiny-mmmlp --version the version."]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        raise SystemExit(0 if argv else 2)
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"tiny_mmmlp {__version__}")
        raise SystemExit(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: no command {name!r}; give one of {', '.join(COMMANDS)} (see tiny-mmmlp --help)",
              file=sys.stderr)
        raise SystemExit(2)
    module = importlib.import_module(COMMANDS[name][0])
    if name == "train":
        from . import distributed
        if distributed.launched_by_torchrun():       # as python -m tiny_mmmlp.train does
            distributed.run_then_exit(lambda: module.main(rest))
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
