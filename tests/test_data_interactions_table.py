"""A plain CSV or TSV of interactions converts in one command; a file of another kind given
where a sequence file is expected is named, not misread."""
import pytest

from tiny_mmmlp import data
from tiny_mmmlp.data.__main__ import main as data_main
from tiny_mmmlp.data.interactions_table import read_table
from tiny_mmmlp.errors import UserError

PANDAS_CSV = ",user_id,item_id,timestamp\n" + "".join(
    f"{n},u{u},\"i{(3 * u + 7 * j) % 9}\",{1_600_000_000 + 10 * u + j}\n"
    for n, (u, j) in enumerate((u, j) for u in range(12) for j in range(5)))


def test_a_pandas_csv_converts_and_loads_in_time_order(tmp_path, capsys):
    (tmp_path / "events.csv").write_text(PANDAS_CSV)
    assert data_main(["convert", "--interactions", str(tmp_path / "events.csv"), "--out", str(tmp_path / "shop")]) == 0
    assert "12 users, 9 items, 60 interactions" in capsys.readouterr().out
    ds = data.load(tmp_path / "shop")
    assert ds.n_users == 12 and ds.n_items == 9
    first = [ds.item_ids[i - 1] for i in ds.sequences[ds.user_ids.index("u0")]]
    assert first == [f"i{(7 * j) % 9}" for j in range(5)]


@pytest.mark.parametrize("text, want", [
    ("\ufeffuser\titem\ttime\nA\tx\t2\nA\ty\t1\n", [("A", "x", 2.0), ("A", "y", 1.0)]),       # TSV, BOM
    ("userId;itemId\nA;x\nB;y\n", [("A", "x", 0.0), ("B", "y", 1.0)]),                     # no time: file order
    ("user_id,item_id,date\nA,x,2020-01-02\n", [("A", "x", 1577923200.0)]),                # an ISO date
])
def test_delimiters_column_names_and_times(tmp_path, text, want):
    (tmp_path / "t.csv").write_text(text)
    assert read_table(tmp_path / "t.csv") == want


@pytest.mark.parametrize("text, said", [
    ("who,item_id\nA,x\n", "line 1: no user column"),
    ("user_id,item_id,item\nA,x,y\n", "line 1: more than one item column"),
    ("user_id,item_id\nA,x\n,y\n", "line 3: empty user id"),
    ("user_id,item_id,timestamp\nA,x,1\nB,y\n", "line 3: 2 fields, the header has 3"),
    ("user_id,item_id,timestamp\nA,x," + "9" * 400 + "\n", "line 2: time '9999"),
    ("user_id,item_id,timestamp\nA,x,tuesday\n", "line 2: time 'tuesday' is neither a number nor an ISO date"),
    ("user_id:token\titem_id:token\nA\tx\n", "a RecBole atomic file"),
])
def test_bad_tables_are_one_sentence_naming_the_line(tmp_path, capsys, text, said):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(SystemExit) as err:
        data_main(["convert", "--interactions", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o")])
    message = capsys.readouterr().err
    assert err.value.code == 2 and said in message and message.count("\n") == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("name", ["../x", "/tmp/x", ".hidden", "a/b"])
def test_a_name_is_a_name_not_a_path(tmp_path, capsys, name):
    (tmp_path / "events.csv").write_text(PANDAS_CSV)
    with pytest.raises(SystemExit) as err:
        data_main(["convert", "--interactions", str(tmp_path / "events.csv"), "--out", str(tmp_path / "o"),
                   "--name", name])
    assert err.value.code == 2 and "--name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("first, said", [
    ("item_id:token\ttitle:token_seq", "a RecBole atomic file"),
    ("user_id,item_id,timestamp", "convert it once with: python -m tiny_mmmlp.data convert --interactions"),
])
def test_a_file_of_another_kind_is_not_read_as_a_sequence_file(tmp_path, first, said):
    (tmp_path / "x.txt").write_text(first + "\nA\tb\tc\n")
    with pytest.raises(UserError, match=said):
        data.load(tmp_path / "x.txt")


def test_convert_holds_a_table_of_numbers_not_a_tuple_per_row(tmp_path, monkeypatch):
    """data convert's memory is the id tables plus 24 bytes an interaction: the rows are read
    into compact arrays and written a line at a time, never held as Python tuples or as text."""
    import sys

    from tiny_mmmlp.data import interactions_table, recbole
    lines = ["user_id,item_id,timestamp"] + [f"u{n % 300},i{n % 97},{n}" for n in range(30_000)]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    table = interactions_table.read_interactions(tmp_path / "e.csv")
    assert len(table) == 30_000 and len(table.users) == 300 and len(table.items) == 97
    assert sys.getsizeof(table.user_of) + sys.getsizeof(table.item_of) + sys.getsizeof(table.time_of) < 30 * 30_000
    assert list(table.rows())[:2] == [("u0", "i0", 0.0), ("u1", "i1", 1.0)]
    seen = []
    written = recbole.write_lines
    monkeypatch.setattr(recbole, "write_lines", lambda path, it: written(path, (seen.append(type(it)) or it)))
    summary = interactions_table.convert_table(tmp_path / "e.csv", tmp_path / "shop", kcore=5)
    assert "300 users, 97 items, 30000 interactions" in summary
    assert seen and not issubclass(seen[0], (list, tuple))                     # a stream, not a list
    inter = (tmp_path / "shop" / "shop.inter").read_text().splitlines()
    assert inter[0] == "user_id:token\titem_id:token\ttimestamp:float" and inter[1] == "u0\ti0\t0.0"
    assert len(inter) == 30_001
