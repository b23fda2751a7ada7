"""A Gradescope autograder archive: ``setup.sh``, ``run_autograder``, this grader's package
and the instructor's settings.

Gradescope unpacks the archive into ``/autograder/source``, runs ``setup.sh`` once (as root)
to build the image, and ``run_autograder`` (as root) for each submission, whose files are
in ``/autograder/submission``. ``run_autograder`` grades with the package inside the archive
(``python3 -I``, the package folder put first on the path), never with a ``tiny_mmmlp``
the student uploaded, and writes ``/autograder/results/results.json`` only when grading
reached its end. ``AUTOGRADER`` (default ``/autograder``) and ``PYTHON`` (default
``python3``) can be set to try the archive elsewhere.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from ..errors import UserError
from ..files import write_bytes
from .exercises import exercise
from .plain import Unreadable, read_regular_file
from .staging import installed_root

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update && apt-get install -y --no-install-recommends python3 python3-pip
fi
python3 -m pip install {packages} || python3 -m pip install --break-system-packages {packages}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission. The student's code runs as nobody.
set -u
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
SOURCE="$AUTOGRADER/source"
KIT="$AUTOGRADER/submission"
if [ ! -f "$KIT/tiny_mmmlp/__init__.py" ]; then        # the kit uploaded inside a folder of its own
    for d in "$AUTOGRADER"/submission/*/; do
        if [ -f "$d/tiny_mmmlp/__init__.py" ]; then KIT="$d"; fi
    done
fi
mkdir -p "$AUTOGRADER/results"
cd "$AUTOGRADER"
exec "${{PYTHON:-python3}}" -I -c 'import runpy, sys
sys.path.insert(0, sys.argv.pop(1))
runpy.run_module("tiny_mmmlp.course", run_name="__main__", alter_sys=True)' \\
    "$SOURCE" grade "$KIT" --exercises {exercises}{config} --gradescope "$AUTOGRADER/results/results.json"
"""


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def write_zip(out: Path, config: Path | None, chosen: list) -> str:
    """Write the archive to ``out``; a line saying what it holds."""
    out = Path(out)
    if out.suffix != ".zip":
        raise UserError(f"{out}: give the archive a .zip name (Gradescope asks for one)")
    packages = "numpy 'hypothesis>=6.80'"
    if any(exercise(k).part == "triton" for k in chosen):
        packages += " torch triton"
    settings = ""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if config is not None:
            try:
                data = read_regular_file(config, 256 * 1024, follow=True)
            except Unreadable as err:
                raise UserError(f"--config {config}: {err}") from None
            name = "course.toml" if Path(config).suffix == ".toml" else "course.json"
            _add(zf, name, data)
            settings = f' --config "$SOURCE/{name}"'
        _add(zf, "setup.sh", SETUP.format(packages=packages).encode(), executable=True)
        _add(zf, "run_autograder", RUN.format(exercises=",".join(map(str, chosen)), config=settings).encode(),
             executable=True)
        root = installed_root()
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if not name.endswith((".pyc", ".pyo")):
                    path = Path(folder) / name
                    _add(zf, f"tiny_mmmlp/{path.relative_to(root).as_posix()}", path.read_bytes())
    write_bytes(out, buf.getvalue())
    return (f"wrote {out}: setup.sh, run_autograder (exercises {', '.join(map(str, chosen))}"
            f"{', settings from ' + str(config) if config else ''}) and the grader; upload it as the "
            "assignment's autograder")
