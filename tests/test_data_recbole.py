"""Loading RecBole atomic folders and sequence files, and every bad-input case of issue 3.

Each bad file must end in one sentence naming the file (and line), exit code 2, no traceback.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tiny_mmmlp import data
from tiny_mmmlp.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
INTER = "user_id:token\titem_id:token\ttimestamp:float\n"


def make_set(folder: Path, inter: str, item: str | None = None, name: str = "shop") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.inter").write_text(inter)
    if item is not None:
        (folder / f"{name}.item").write_text(item)
    return folder


GOOD_INTER = INTER + "u1\ta\t3\nu1\tb\t1\nu1\tc\t1\nu2\tc\t5\nu2\ta\t6\nu2\tb\t7\n"
GOOD_ITEM = "item_id:token\ttitle:token_seq\tcolor:token\nb\tBlue bag\tblue\na\tRed mug\tred\nc\tRed cap\tred\nz\tUnsold\tgreen\n"


def test_load_orders_by_time_and_ties_keep_file_order(tmp_path):
    ds = data.load(make_set(tmp_path / "shop", GOOD_INTER, GOOD_ITEM))
    assert ds.name == "shop" and ds.user_ids == ["u1", "u2"]
    assert ds.item_ids == ["b", "a", "c", "z"]          # .item order, unsold items kept
    raw = [[ds.item_ids[i - 1] for i in s] for s in ds.sequences]
    assert raw == [["b", "c", "a"], ["c", "a", "b"]]     # b and c tie at t=1: file order
    assert all(s.dtype == np.int64 for s in ds.sequences)
    assert ds.titles == ["", "Blue bag", "Red mug", "Red cap", "Unsold"]
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 4, 6)
    assert data.available_modalities(ds) == ["text", "color"]
    feats = data.build_features(ds, ["color"], cache_dir=tmp_path / "cache", progress=False)
    assert feats["color"].shape == (5, 3) and feats["color"][0].sum() == 0
    assert feats["color"][2].tolist() == [0, 0, 1]       # sorted vocabulary: blue, green, red


def test_without_item_file_and_kcore(tmp_path):
    inter = INTER + "".join(f"u{u}\ti{i}\t{i}\n" for u in range(4) for i in range(3)) + "u9\tlonely\t0\n"
    ds = data.load(make_set(tmp_path / "s", inter))
    assert ds.n_items == 4 and ds.titles[4] == "lonely" and data.available_modalities(ds) == []
    ds = data.load(tmp_path / "s", kcore=2)
    assert ds.n_users == 4 and ds.n_items == 3 and "lonely" not in ds.item_ids


def test_sequence_file(tmp_path):
    path = tmp_path / "seqs.txt"
    path.write_text("1 10 11 12\n2 11 12 13 10\n\n3 13 10\n4 99 10\n")
    ds = data.load(path)
    assert ds.name == "seqs" and ds.user_ids == ["1", "2", "3", "4"]
    assert ds.item_ids == ["10", "11", "12", "13", "99"]
    assert [s.tolist() for s in ds.sequences] == [[1, 2, 3], [2, 3, 4, 1], [4, 1], [5, 1]]
    filtered = data.load(path, kcore=2)      # 99 is bought once, then user 4 has one item
    assert filtered.user_ids == ["1", "2", "3"] and filtered.n_items == 4


def test_unknown_item_dropped_and_counted_or_strict_error(tmp_path):
    folder = make_set(tmp_path / "shop", GOOD_INTER + "u2\tghost\t9\n", GOOD_ITEM)
    with pytest.warns(UserWarning, match="dropped 1 interaction"):
        ds = data.load(folder)
    assert ds.n_dropped == 1 and ds.n_interactions == 6
    with pytest.raises(UserError, match=r"shop\.inter line 8: item 'ghost' is not in"):
        data.load(folder, strict=True)


def test_npy_matrix_read_in_item_order(tmp_path):
    folder = make_set(tmp_path / "shop", GOOD_INTER, GOOD_ITEM)
    np.save(folder / "clip.npy", np.arange(8, dtype=np.float32).reshape(4, 2))
    ds = data.load(folder, kcore=2)          # drops unsold item z: rows must follow item ids
    feats = data.build_features(ds, ["clip"], cache_dir=tmp_path / "c", progress=False)
    assert data.modality_widths(ds)["clip"] == 2
    assert feats["clip"].tolist() == [[0, 0], [0, 1], [2, 3], [4, 5]]


def _bad_cases(tmp: Path):
    """(name, folder or file, flags, expected text in the message)."""
    yield "header", make_set(tmp / "h", "user_id:token\ttimestamp:float\nu\t1\n"), [], "h/shop.inter line 1: header lacks the column(s) item_id"
    yield "fields", make_set(tmp / "f", INTER + "u\ta\t1\nu\tb\n"), [], "f/shop.inter line 3: has 2 tab-separated fields but the header has 3"
    yield "unknown", make_set(tmp / "u", INTER + "u\ta\t1\nu\tq\t2\n", "item_id:token\na\n"), ["--strict"], "u/shop.inter line 3: item 'q' is not in"
    folder = make_set(tmp / "n", INTER)
    (folder / "shop.inter").write_bytes(INTER.encode() + b"u\ta\t1\nu\tcaf\xe9\t2\n")
    yield "utf8", folder, [], "n/shop.inter line 3: byte 0xe9 at column 6 is not valid UTF-8"
    yield "empty", make_set(tmp / "e", INTER + "u\ta\t1\nv\tb\t2\n"), ["--kcore", "2"], "e/shop.inter: no interactions left after the 2-core filter"
    yield "no rows", make_set(tmp / "z", INTER), [], "z/shop.inter: no interactions left"
    folder = make_set(tmp / "m", INTER + "u\ta\t1\n", "item_id:token\na\nb\n")
    np.save(folder / "vec.npy", np.zeros((3, 4), dtype=np.float32))
    yield "npy rows", folder, [], "m/vec.npy: has 3 rows but shop.item lists 2 items"
    seq = tmp / "seqs.txt"
    seq.write_text("1 a b\n2\n")
    yield "sequence", seq, [], "seqs.txt line 2: has 1 field"
    meta_bad = tmp / "timestamp"
    yield "timestamp", make_set(meta_bad, INTER + "u\ta\tyesterday\n"), [], "timestamp/shop.inter line 2: timestamp value 'yesterday' is not a number"


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    for name, source, flags, expected in _bad_cases(tmp_path):
        command = "features" if name == "npy rows" else "describe"
        proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.data", command, str(source), *flags,
                               "--cache-dir", str(tmp_path / "cache")],
                              capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, (name, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, (name, proc.stderr)
        assert expected in lines[0], (name, lines[0])


def test_unknown_modality_and_missing_source(tmp_path):
    ds = data.load(make_set(tmp_path / "shop", GOOD_INTER, GOOD_ITEM))
    with pytest.raises(UserError, match="--modalities: image not found"):
        data.build_features(ds, ["id", "image"], cache_dir=tmp_path)
    with pytest.raises(UserError, match="no such data set"):
        data.load(tmp_path / "nowhere")
