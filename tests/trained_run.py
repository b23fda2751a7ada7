"""Helpers of the tests of the Python API and the evaluate and recommend commands: one small
finished run per test module, data folders derived from toyshop-tiny, model files rewritten."""
from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from small_model import small

from tiny_mmmlp import data
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.train import main as train_main

SMALL = small("--modalities", "id,text,category", "--batch-size", "64", "--epochs", "1")


@dataclass
class Trained:
    folder: Path
    environ_before: dict
    environ_after: dict

    @property
    def metrics(self) -> dict:
        return json.loads((self.folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    """One finished 1-epoch run of toyshop-tiny, trained in this process (per test module)."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    before = dict(os.environ)
    train_main([*SMALL, "--out", str(folder)])
    return Trained(folder, before, dict(os.environ))


def toyshop_copy(dest: Path) -> Path:
    """A copy of the toyshop-tiny data folder (RecBole atomic files and pictures)."""
    shutil.copytree(data.load("toyshop-tiny").folder, dest)
    return dest


def shuffled_items(dest: Path, seed: int = 1) -> Path:
    """toyshop-tiny with the rows of its .item file in another order: the same items."""
    folder = toyshop_copy(dest)
    item = folder / "toyshop-tiny.item"
    head, *rows = item.read_text().splitlines()
    random.Random(seed).shuffle(rows)
    item.write_text("\n".join([head, *rows]) + "\n")
    return folder


def renamed_items(dest: Path, renames: dict) -> Path:
    """toyshop-tiny with some items under other ids: as many items, not the same ones."""
    folder = toyshop_copy(dest)
    for name in ("toyshop-tiny.item", "toyshop-tiny.inter"):
        path = folder / name
        lines = []
        for line in path.read_text().splitlines():
            cells = line.split("\t")
            lines.append("\t".join(renames.get(c, c) for c in cells))
        path.write_text("\n".join(lines) + "\n")
    for old, new in renames.items():
        for picture in (folder / "images").glob(f"{old}.*"):
            picture.rename(picture.with_name(new + picture.suffix))
    return folder


def rewrite_model(path: Path, run=None, metadata=None, tensors=None) -> None:
    """Rewrite a model file with its "run" metadata updated by ``run``, other metadata
    replaced by ``metadata`` and tensors replaced by ``tensors``."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    with safe_open(str(path), framework="np") as f:
        meta = dict(f.metadata())
    arrays = load_file(str(path))
    if run:
        meta["run"] = json.dumps({**json.loads(meta["run"]), **run})
    meta.update(metadata or {})
    arrays.update(tensors or {})
    save_file(arrays, str(path), metadata=meta)
