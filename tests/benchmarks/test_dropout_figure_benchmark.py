"""benchmarks/dropout_figure.py: the results page's dropout table, printed relative to each
set's rate 0.4 with the default's pick, and drawn; a malformed table is one sentence."""
from pathlib import Path

import dropout_figure
import pytest

PAGE = """# Results

| set (training examples) | 0.3 | 0.4 | 0.5 | 0.6 |
|---|---|---|---|---|
| small, IDs (34,058) | - | 0.0800 ± 0.0006 | 0.0820 | **0.0880 ± 0.0010** |
| large, IDs (131,413) | 0.0730 | 0.0735 | - | 0.0706 |

after the table
"""


def test_each_row_relative_to_its_rate_0_4_with_the_defaults_pick(tmp_path, capsys):
    rates, rows = dropout_figure.dropout_table(PAGE, "page")
    assert rates == [0.3, 0.4, 0.5, 0.6]
    assert rows["small, IDs (34,058)"] == (34058, [None, 0.08, 0.082, 0.088])
    assert rows["large, IDs (131,413)"] == (131413, [0.073, 0.0735, None, 0.0706])
    pytest.importorskip("matplotlib")
    (tmp_path / "results.md").write_text(PAGE)
    assert dropout_figure.main(["--doc", str(tmp_path / "results.md"), "--out", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "small, IDs (34,058): default 0.6; 0.3: -  0.4: 1.000  0.5: 1.025  0.6: 1.100\n" in out
    assert "large, IDs (131,413): default 0.4; 0.3: 0.993  0.4: 1.000" in out
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_published_page_holds_a_table_it_can_draw():
    text = (Path(dropout_figure.__file__).parents[1] / "docs" / "results.md").read_text()
    rates, rows = dropout_figure.dropout_table(text, "docs/results.md")
    assert 0.4 in rates and len(rows) >= 3
    assert all(len(values) == len(rates) for _, values in rows.values())


@pytest.mark.parametrize("page, said", [
    ("# nothing here\n", "no dropout table"),
    (PAGE.replace("| 0.3 |", "| low |"), "must be rates"),
    (PAGE.replace("(34,058)", ""), "needs its training examples"),
])
def test_a_page_without_a_drawable_table_is_one_sentence(tmp_path, capsys, page, said):
    (tmp_path / "other.md").write_text(page)
    with pytest.raises(SystemExit) as exit:
        dropout_figure.main(["--doc", str(tmp_path / "other.md"), "--out", str(tmp_path / "d.png")])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and not (tmp_path / "d.png").exists()
