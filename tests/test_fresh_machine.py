"""The repository works from its root, as the README's commands run it.

``python -m ...`` and ``python -c ...`` put the current folder first on ``sys.path``, and a
script puts its own folder there (``benchmarks/``, ``scripts/``). A module in one of those
folders whose name a dependency also uses shadows the dependency: a top-level ``kernels/``
once made ``import transformers`` fail, because transformers imports the PyPI package
``kernels``.
"""
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folders that end up first on sys.path: the root (python -m / -c from it), the folders whose
# scripts are run directly, and tests/ (pytest's default import mode prepends it).
ON_PATH = ("", "benchmarks", "scripts", "tests", "tutorials")
# Names a dependency of an extra imports, checked even where that extra is not installed.
KNOWN_DEPENDENCY_MODULES = {"kernels", "transformers", "sentence_transformers", "torch", "triton",
                            "numpy", "PIL", "tqdm", "matplotlib", "hypothesis", "optuna", "safetensors"}


def importable_names(folder: Path) -> set:
    """Top-level names a folder on sys.path provides: modules and regular packages (a folder
    without __init__.py is a namespace portion, which any regular package found later beats)."""
    names = {p.stem for p in folder.glob("*.py")}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return names


def test_no_repository_module_shadows_a_dependency_or_the_standard_library():
    ours = {"tiny_mmmlp", "conftest"}
    taken = set(importlib.metadata.packages_distributions()) | KNOWN_DEPENDENCY_MODULES
    taken |= set(sys.stdlib_module_names)
    clashes = {f"{rel or '.'}/{name}": sorted(importlib.metadata.packages_distributions().get(name, ["?"]))
               for rel in ON_PATH for name in importable_names(ROOT / rel) - ours if name in taken}
    assert clashes == {}, f"these repository modules shadow an installed or standard module: {clashes}"


def test_the_scan_sees_a_shadowing_module(tmp_path):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "__init__.py").write_text("")
    (tmp_path / "json.py").write_text("")
    (tmp_path / "notes").mkdir()                         # no __init__.py: shadows nothing
    assert importable_names(tmp_path) == {"kernels", "json"}


def test_the_text_stack_imports_from_the_repository_root():
    pytest.importorskip("transformers")
    code = ("from transformers.integrations import hub_kernels; import sentence_transformers; "
            "import tiny_mmmlp.kernels, tiny_mmmlp.data.text; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


def test_the_kernels_are_part_of_the_installed_package():
    import tiny_mmmlp.kernels
    assert Path(tiny_mmmlp.kernels.__file__).resolve().parent == ROOT / "tiny_mmmlp" / "kernels"
    assert not (ROOT / "kernels").exists()
