"""benchmarks/ablation_figure.py: the results page's ablation table, printed relative to the
paper's training and drawn; a page without the table is one sentence."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ablation_figure.py"
spec = importlib.util.spec_from_file_location("ablation_figure", SCRIPT)
ablation_figure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation_figure)

PAGE = """# Results

| set | paper's training | + bias | + pool | masked, paper → today |
|---|---|---|---|---|
| a, IDs | 0.0500 ± 0.0010 | 0.0550 ± 0.0005 | the same model | 0.0510 → 0.0610 |
| b, IDs + text | 0.1000 ± 0.0020 | 0.1100 ± 0.0010 (one note) | - | 0.1 → 0.2 |

after the table
"""


def test_each_row_relative_to_the_papers_training(tmp_path, capsys):
    labels, rows = ablation_figure.ablation_table(PAGE, "page")
    assert labels == ["paper's training", "+ bias", "+ pool", "masked, paper → today"]
    assert rows["a, IDs"] == [(0.05, 0.001), (0.055, 0.0005), (0.055, 0.0005), None]   # "the same": as before
    assert rows["b, IDs + text"][1:] == [(0.11, 0.001), None, None]
    pytest.importorskip("matplotlib")
    (tmp_path / "results.md").write_text(PAGE)
    assert ablation_figure.main(["--doc", str(tmp_path / "results.md"), "--out", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "a, IDs: 1.000  1.100  1.100  -\n" in out and "b, IDs + text: 1.000  1.100  -  -\n" in out
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_published_page_holds_a_table_it_can_draw():
    text = (SCRIPT.parents[1] / "docs" / "results.md").read_text()
    labels, rows = ablation_figure.ablation_table(text, "docs/results.md")
    assert len(rows) == 5 and labels[0] == "paper's training"
    assert all(len(r) == len(labels) for r in rows.values())


def test_a_page_without_the_table_is_one_sentence(tmp_path, capsys):
    (tmp_path / "other.md").write_text("# nothing here\n")
    with pytest.raises(SystemExit) as exit:
        ablation_figure.main(["--doc", str(tmp_path / "other.md"), "--out", str(tmp_path / "a.png")])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "no ablation table" in err and "Traceback" not in err and not (tmp_path / "a.png").exists()
