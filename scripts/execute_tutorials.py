"""Write the tutorials as executed notebooks, outputs included, to docs/tutorials/ for reading
without running anything.

    pip install nbclient ipykernel      # beside the package's test extra (jupytext, nbformat)
    python scripts/execute_tutorials.py [--full]

Each ``tutorials/NN_*.py`` (jupytext percent format) becomes ``docs/tutorials/NN_*.ipynb``,
executed top to bottom in a fresh kernel in a temporary folder, with a fresh cache. By default in quick mode
(``TINY_MMMLP_QUICK=1``: toyshop-tiny, small sizes, about a minute for all five), which is what
the published copies show; ``--full`` runs the tutorials' full sizes. ``tests/test_tutorials.py``
checks that every notebook's cells are those of its tutorial today, so a changed tutorial
without a new notebook fails the tests.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "tutorials"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the tutorials' full sizes, not quick mode")
    p.add_argument("names", nargs="*", help="tutorial stems to run (default: all)")
    args = p.parse_args(argv)
    try:
        import jupytext
        from nbclient import NotebookClient
    except ImportError as err:
        sys.exit(f"error: {err.name} is needed: pip install nbclient ipykernel jupytext")
    OUT.mkdir(parents=True, exist_ok=True)
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_NUM_THREADS": "1",
           **({} if args.full else {"TINY_MMMLP_QUICK": "1"})}
    os.environ.update(env)                           # the kernel inherits the environment
    cache = tempfile.TemporaryDirectory(prefix="tiny_mmmlp-cache-")   # a fresh machine's cache, in
    os.environ["TINY_MMMLP_CACHE"] = cache.name                       # every published copy
    if "04_fused_triton_kernel" in (args.names or [p.stem for p in sorted((ROOT / "tutorials").glob("0*.py"))]):
        os.environ.setdefault("TRITON_INTERPRET", "1")
    for path in sorted((ROOT / "tutorials").glob("0*.py")):
        if args.names and path.stem not in args.names:
            continue
        nb = jupytext.read(path)
        with tempfile.TemporaryDirectory() as work:
            NotebookClient(nb, timeout=1800, kernel_name="python3",
                           resources={"metadata": {"path": work}}).execute()
        nb.metadata.pop("jupytext", None)
        target = OUT / f"{path.stem}.ipynb"
        jupytext.write(nb, target, fmt="ipynb")
        print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
