"""Raw Amazon releases (2018 JSON, 2014 Python-literal metadata, 2023 JSONL) -> atomic form,
and the exact counts of the three shared real sets."""
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_mmmlp import data
from tiny_mmmlp.data.amazon_raw import convert
from tiny_mmmlp.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon"


def gz(src: Path, dest: Path) -> Path:
    with open(src, "rb") as f, gzip.open(dest, "wb") as g:
        shutil.copyfileobj(f, g)
    return dest


@pytest.mark.parametrize("release", ["2018", "2014", "2023"])
def test_convert_releases(tmp_path, release):
    reviews = {"2018": "reviews_2018.json", "2014": "reviews_2018.json", "2023": "reviews_2023.jsonl"}[release]
    meta = {"2018": "meta_2018.json", "2014": "meta_2014.txt", "2023": "meta_2023.jsonl"}[release]
    reviews = gz(FIXTURES / reviews, tmp_path / f"{reviews}.gz")
    summary = convert(reviews, FIXTURES / meta, tmp_path / "sci", kcore=None)
    assert "4 users, 5 items, 11 interactions, 5 picture URLs" in summary
    ds = data.load(tmp_path / "sci")
    assert ds.name == "sci" and ds.n_interactions == 11
    a1 = [ds.item_ids[i - 1] for i in ds.sequences[ds.user_ids.index("A1")]]
    assert a1 == ["B01", "B02", "B03", "B04"]                       # B02 and B03 tie: file order
    a2 = [ds.item_ids[i - 1] for i in ds.sequences[ds.user_ids.index("A2")]]
    assert a2 == ["B02", "B01", "B03"]
    assert ds.titles[ds.item_ids.index("B01") + 1] == "Beaker Set 50ml & 100ml"   # &amp; unescaped
    assert "text" in data.available_modalities(ds) and "categories" in data.available_modalities(ds)
    urls = (tmp_path / "sci" / "image_urls.tsv").read_text().splitlines()
    assert urls[0] == "B01\thttp://HOST/img/B01.jpg"


def test_convert_kcore_and_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.data", "convert", "--reviews",
                           str(FIXTURES / "reviews_2018.json"), "--meta", str(FIXTURES / "meta_2018.json"),
                           "--out", str(tmp_path / "k"), "--kcore", "2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    ds = data.load(tmp_path / "k")
    assert ds.user_ids == ["A1", "A2", "A3"] and ds.item_ids == ["B01", "B02", "B03", "B04"]
    assert ds.n_interactions == 10                                  # A4 and B05 (one review) are gone
    proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.data", "convert", "--reviews",
                           str(FIXTURES / "reviews_2018.json"), "--out", str(tmp_path / "e"), "--kcore", "9"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "reviews_2018.json: no reviews left after the 9-core filter" in proc.stderr


def test_bad_raw_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"reviewerID": "A", "asin": "B", "unixReviewTime": 1}\n{"reviewerID": "A", "asin"\n')
    with pytest.raises(UserError, match=r"bad.json line 2: is neither JSON nor a Python literal"):
        convert(bad, None, tmp_path / "o")
    bad.write_text('{"reviewerID": "A", "unixReviewTime": 1}\n')
    with pytest.raises(UserError, match=r"bad.json line 1: a review needs reviewerID, asin"):
        convert(bad, None, tmp_path / "o")
    bad.write_bytes(b'{"reviewerID": "A", "asin": "B\xff", "unixReviewTime": 1}\n')
    with pytest.raises(UserError, match=r"bad.json line 1: byte 0xff"):
        convert(bad, None, tmp_path / "o")


EXPECTED = {  # name: (users, items, interactions, modalities)
    "scientific": (8442, 4385, 59384, ["text"]),
    "instruments": (17112, 6250, 136226, ["image_codes", "text_codes"]),
    "beauty": (22363, 12101, 198502, []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_amazon_sets_exact_counts(name):
    if not (SHARED / name).is_dir():
        pytest.skip(f"{SHARED / name} is absent")
    ds = data.load(SHARED / name)
    users, items, interactions, modalities = EXPECTED[name]
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (users, items, interactions)
    assert data.available_modalities(ds) == modalities
    assert min(len(s) for s in ds.sequences) >= 5
    if name == "instruments":
        widths = data.modality_widths(ds)
        assert widths["image_codes"] > 4 and widths["text_codes"] > 4
        sp = data.split_leave_one_out(ds)
        assert len(sp.test_target) == users and data.n_train_examples(sp.train) == interactions - 3 * users
