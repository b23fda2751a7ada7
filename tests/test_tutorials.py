"""The tutorials run top to bottom as plain scripts in quick mode, and their asserts hold.

Each runs in its own subprocess with a fresh working directory (figures go to ``out/`` there)
and ``TINY_MMMLP_QUICK=1``. All five take about a minute together on a 2-core CPU once the
toyshop-tiny data and its features are built. 04 needs torch and triton (it runs the kernels
under ``TRITON_INTERPRET=1`` when there is no GPU) and is skipped without them.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
NAMES = ["01_mixer_block_by_hand", "02_data_and_features", "03_train_numpy_mmmlp",
         "04_fused_triton_kernel", "05_linear_cost_vs_attention"]
NEEDS = {"04_fused_triton_kernel": ("torch", "triton"), "05_linear_cost_vs_attention": ("torch",)}


def _missing(name):
    return [m for m in NEEDS.get(name, ()) if importlib.util.find_spec(m) is None]


@pytest.mark.parametrize("name", NAMES)
def test_tutorial_runs_in_quick_mode(name, tmp_path):
    missing = _missing(name)
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}")
    env = dict(os.environ, TINY_MMMLP_QUICK="1", MPLBACKEND="Agg")
    # Small matrices on a shared CI machine: BLAS threads that spin-wait for busy cores can
    # make NumPy many times slower, so run single-threaded (the tutorials do not need more).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    if name == "04_fused_triton_kernel":
        env.setdefault("TRITON_INTERPRET", "1")
    proc = subprocess.run([sys.executable, str(TUTORIALS / f"{name}.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    figures = list((tmp_path / "out").glob("*.png"))
    assert figures, f"{name} saved no figure in out/"


@pytest.mark.skipif(importlib.util.find_spec("jupytext") is None, reason="jupytext not installed")
@pytest.mark.parametrize("name", NAMES)
def test_tutorial_opens_as_notebook(name):
    import jupytext

    nb = jupytext.read(TUTORIALS / f"{name}.py")
    kinds = {cell.cell_type for cell in nb.cells}
    assert kinds == {"markdown", "code"}
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {name[:2]} ")


@pytest.mark.parametrize("name", NAMES)
def test_the_executed_notebook_in_the_docs_is_the_tutorial_of_today(name):
    """docs/tutorials/NN.ipynb (scripts/execute_tutorials.py) holds the tutorial's cells as they
    are now, each code cell with the outputs of a run: a changed tutorial needs a new notebook."""
    jupytext = pytest.importorskip("jupytext")
    import nbformat
    notebook = nbformat.read(TUTORIALS.parent / "docs" / "tutorials" / f"{name}.ipynb", as_version=4)
    today = jupytext.read(TUTORIALS / f"{name}.py")
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in today.cells], \
        f"docs/tutorials/{name}.ipynb is out of date: python scripts/execute_tutorials.py {name}"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code) and any(c.outputs for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
