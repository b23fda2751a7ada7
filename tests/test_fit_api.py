"""tiny_mmmlp.fit: the command line's settings as keyword arguments, the same run folder, and
errors that name the keyword the caller gave."""
import json
import re
from pathlib import Path

import pytest

import tiny_mmmlp
from tiny_mmmlp.errors import UserError

SMALL = dict(data="toyshop-tiny", max_len=6, d_model=8, token_hidden=4, channel_hidden=8, n_layers=1,
             modalities="id,category", epochs=1, no_progress=True)
PACKAGE = Path(tiny_mmmlp.__file__).parent
CLI_LAYER = {"cli.py", "run_flags.py", "recommend.py", "evaluate.py", "__main__.py"}


def test_fit_writes_the_run_folder_and_returns_its_recommender(tmp_path):
    rec = tiny_mmmlp.fit(**SMALL, out=str(tmp_path / "r"))
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["settings"]
    assert saved == metrics["settings"] and saved["d_model"] == 8 and saved["out"] == str(tmp_path / "r")
    assert rec.evaluate() == metrics["test"]
    top = rec.recommend([rec.users[0]], k=3)
    assert len(top) == 1 and len(top[0]) == 3 and all(isinstance(i, str) for i in top[0])


@pytest.mark.parametrize("settings, said", [
    ({"d_model": 0}, "d_model: must be a positive integer, got 0"),
    ({"epochs": "ten"}, "epochs: must be a positive integer, got 'ten'"),
    ({"warmup_epochs": 1e308}, "warmup_epochs 1e+308: longer than the run (epochs 1)"),
    ({"model": "sasrec", "fusion_layers": 3}, "fusion_layers: model sasrec has no such part"),
    ({"modalities": "id,smell"}, "modalities 'id,smell': no modality smell"),
    ({"lerning_rate": 0.1}, "unknown setting 'lerning_rate'"),
])
def test_an_error_names_the_keyword_not_a_flag(tmp_path, settings, said):
    with pytest.raises(UserError) as err:
        tiny_mmmlp.fit(**{**SMALL, "out": str(tmp_path / "r"), **settings})
    assert said in str(err.value) and "--" not in str(err.value)
    assert not (tmp_path / "r").exists()


def test_only_the_command_line_layer_imports_argparse():
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if re.search(r"^\s*(import argparse|from argparse)", p.read_text(), re.M))
    assert [u for u in users if Path(u).name not in CLI_LAYER] == []
    assert "argparse" not in (PACKAGE / "train.py").read_text()
