"""Helpers of the fault suite (tests/test_faults_*.py): run a command, check how it failed.

Every fault case asserts the same four things:
- the exit code is 2 (or 130/137 for a signal), or 0 where a hostile input must be survived;
- stderr has no traceback and exactly one line saying ``error``;
- no file changed outside the folder the command was told to write (``Tree`` snapshots);
- a run folder that existed before is still loadable and byte-identical (``assert_run_intact``).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import strategies as st
from small_model import SIZES

from tiny_mmmlp.checkpoint import load_checkpoint
from tiny_mmmlp.model_file import load_model
from tiny_mmmlp.train import main as train_main

MODEL_FLAGS = [*SIZES, "--batch-size", "64", "--no-progress", "--epochs", "1"]
SMALL = ["--data", "toyshop-tiny", "--modalities", "id,category", *MODEL_FLAGS]


def call(main, argv, capsys) -> tuple[int, str, str]:
    """Run a command's ``main(argv)`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv]) or 0
    except SystemExit as stop:
        rc = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_sentence(rc, err, *words, code=2):
    """Exit ``code``, no traceback, one line of stderr naming the error and each of ``words``."""
    assert rc == code, f"exit {rc}, stderr: {err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Tree:
    """A snapshot of every file under ``root`` (path -> sha256), to compare after a command."""

    def __init__(self, root: Path, ignore=()):
        self.root, self.ignore = Path(root), [Path(p) for p in ignore]
        self.before = self._scan()

    def _scan(self) -> dict:
        files = {}
        for p in sorted(self.root.rglob("*")):
            if any(p == i or i in p.parents for i in self.ignore):
                continue
            if p.is_file() and not p.is_symlink():
                files[str(p.relative_to(self.root))] = digest(p)
        return files

    def assert_unchanged(self):
        after = self._scan()
        added = sorted(set(after) - set(self.before))
        removed = sorted(set(self.before) - set(after))
        changed = sorted(k for k in set(after) & set(self.before) if after[k] != self.before[k])
        assert not (added or removed or changed), f"added {added}, removed {removed}, changed {changed}"


def run_files(folder: Path) -> dict:
    """sha256 of each file of a run folder (the lock file aside)."""
    return {p.name: digest(p) for p in sorted(Path(folder).iterdir())
            if p.is_file() and p.name != ".lock"}


def assert_run_intact(folder: Path, before: dict | None = None):
    """The run in ``folder`` still loads (model and checkpoint), unchanged if ``before`` is given."""
    params, meta = load_model(folder)
    state = load_checkpoint(folder)
    assert params and meta["n_items"] > 0 and state["run"]["epoch"] >= 1
    json.loads((Path(folder) / "metrics.json").read_text(), parse_constant=_no_constants)
    if before is not None:
        assert run_files(folder) == before


def _no_constants(name):
    raise ValueError(f"metrics.json holds {name}, which is not JSON")


def write_atomic(folder: Path, inter: str, item: str | None = None, name: str = "d") -> Path:
    """A RecBole atomic folder from the text of its ``.inter`` (and ``.item``) file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.inter").write_text(inter)
    if item is not None:
        (folder / f"{name}.item").write_text(item)
    return folder


def good_inter(users=8, items=10, per_user=6) -> str:
    """users each buying ``per_user`` of ``items`` items, with increasing timestamps."""
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for u in range(users):
        for j in range(per_user):
            lines.append(f"u{u}\ti{(u + 2 * j) % items}\t{j}")
    return "\n".join(lines) + "\n"


def good_item(items=10, extra_header="", extra=lambda i: "") -> str:
    head = "item_id:token\ttitle:token_seq\tcolour:token" + extra_header
    rows = [f"i{i}\tthing {i}\tc{i % 3}" + extra(i) for i in range(items)]
    return "\n".join([head, *rows]) + "\n"


# ---- Hypothesis: JSON values, and a JSON tree with one node replaced ----------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
                           max_leaves=12)


@st.composite
def mutated(draw, tree):
    """``tree`` with one node (found by drawn steps from the root) replaced by a drawn value."""
    holder = {"root": json.loads(json.dumps(tree))}
    node, key = holder, "root"
    for _ in range(draw(st.integers(1, 8))):
        child = node[key]
        keys = list(child) if isinstance(child, dict) else list(range(len(child))) if isinstance(child, list) else []
        if not keys:
            break
        node, key = child, draw(st.sampled_from(keys))
    node[key] = draw(json_values)
    return holder["root"]

@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """One finished 1-epoch run of toyshop-tiny (per test module); tests get a copy as ``run``."""
    folder = tmp_path_factory.mktemp("base") / "run"
    train_main([*SMALL, "--out", str(folder)])
    return folder


@pytest.fixture()
def run(base_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run"
    shutil.copytree(base_run, folder)
    return folder



# ---- crafted files: peak memory in a child process, zip members written by hand -----------

_PEAK_DRIVER = """\
import importlib, sys
from tiny_mmmlp.distributed import peak_memory_mib
code = 0
try:
    importlib.import_module(sys.argv[1]).main(sys.argv[2:])
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else 1
finally:
    print(f"peak memory {peak_memory_mib()} MiB", file=sys.stderr)
sys.exit(code)
"""


def run_measured(module: str, argv, cwd, timeout=120) -> tuple[int, str, float]:
    """Run ``module.main(argv)`` in a child process: (exit code, stderr, its peak memory in MiB)."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _PEAK_DRIVER, module, *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("peak memory "), proc.stderr
    return proc.returncode, proc.stderr, float(last.split()[2])


def zip_bytes(members) -> bytes:
    """A zip archive of ``members``: (name, stored bytes) or (name, raw deflate stream, declared
    size, crc32). The second kind lets a test declare what a member inflates to without making it."""
    import struct
    import zlib
    body, central = b"", b""
    for member in members:
        name = member[0].encode()
        if len(member) == 2:
            data, size, crc, method = member[1], len(member[1]), zlib.crc32(member[1]), 0
        else:
            (_, data, size, crc), method = member, 8
        fields = (20, 0, method, 0, 0, crc, len(data), size, len(name), 0)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, len(body)) + name
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    return body + central + end


def zeros_bomb(header: bytes, n_bytes: int, chunk=2**24) -> bytes:
    """A raw deflate stream that inflates to ``header`` followed by ``n_bytes`` zero bytes (a
    multiple of ``chunk``), about 1000 times smaller: one fully flushed block of zeros, repeated."""
    import zlib
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(header) + first.flush(zlib.Z_FULL_FLUSH)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = block.compress(bytes(chunk)) + block.flush(zlib.Z_FULL_FLUSH)
    return head + zeros * (n_bytes // chunk) + b"\x03\x00"          # then an empty final block
