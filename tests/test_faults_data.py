"""Fault suite, data commands (convert, describe, features): malformed, corrupt and hostile files."""
import gzip
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from faults import Tree, assert_one_sentence, call, good_inter, good_item, write_atomic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tiny_mmmlp.data.__main__ import main as data_main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
HYP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _gz_with_flipped_body(text: str) -> bytes:
    blob = bytearray(gzip.compress(text.encode()))
    for at in range(12, len(blob) - 8, 7):                 # the deflate stream, not the header
        blob[at] ^= 0x55
    return bytes(blob)


REVIEW = {"reviewerID": "A1", "asin": "B01", "unixReviewTime": 100}
CONVERT_FAULTS = {
    "missing-file": (None, "no such file"),
    "truncated-gz": (gzip.compress((FIXTURES / "reviews_2018.json").read_bytes())[:60], "cannot be read"),
    "corrupt-deflate": (_gz_with_flipped_body((FIXTURES / "reviews_2018.json").read_text() * 20), "reviews.json"),
    "not-utf8": (b'{"reviewerID": "A\xff"}\n', "UTF-8"),
    "not-json": (b"<html>503</html>\n", "line 1"),
    "deeply-nested": (("[" * 100000).encode() + b"\n", "line 1"),
    "list-not-object": (b"[1, 2]\n", "line 1"),
    "id-is-a-dict": (json.dumps({**REVIEW, "asin": {"a": 1}}).encode() + b"\n", "asin"),
    "empty-id": (json.dumps({**REVIEW, "reviewerID": "  "}).encode() + b"\n", "reviewerID"),
    "nan-time": (json.dumps({**REVIEW, "unixReviewTime": "nan"}).encode() + b"\n", "unixReviewTime"),
    "inf-time": (b'{"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1e999}\n', "unixReviewTime"),
    "missing-field": (json.dumps({"reviewerID": "A1"}).encode() + b"\n", "line 1"),
    "400-digit-time": (json.dumps({**REVIEW, "unixReviewTime": int("9" * 400)}).encode() + b"\n", "unixReviewTime"),
    "400-digit-time-2023": (json.dumps({"user_id": "A1", "parent_asin": "B01", "timestamp": int("9" * 400)})
                            .encode() + b"\n", "timestamp"),
    "400-digit-time-2014": (b"{'reviewerID': 'A1', 'asin': 'B01', 'unixReviewTime': " + b"9" * 400 + b"}\n",
                            "unixReviewTime"),
    "400-digit-time-csv": (b"user_id,parent_asin,rating,timestamp\nA1,B01,5," + b"9" * 400 + b"\n", "line 2"),
    "5000-digit-integer": (b'{"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1, "helpful": '
                           + b"7" * 5000 + b"}\n", "line 1"),
    "whitespace-variant-ids": (b'{"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1}\n'
                               b'{"reviewerID": "A1 ", "asin": "B02", "unixReviewTime": 2}\n', "line 2"),
    "line-over-the-cap": (gzip.compress(b'{"reviewerID": "' + b"A" * (3 << 20) + b'"}\n'), "line 1"),
}


@pytest.mark.parametrize("case", list(CONVERT_FAULTS))
def test_convert_bad_reviews(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tiny_mmmlp.data.textfile.MAX_LINE_BYTES", 1 << 20)     # 1 MiB lines here
    blob, word = CONVERT_FAULTS[case]
    reviews = tmp_path / "reviews.json"
    if blob is not None:
        reviews.write_bytes(blob)
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["convert", "--reviews", reviews, "--out", tmp_path / "out"], capsys)
    assert_one_sentence(rc, err, word)
    tree.assert_unchanged()


@pytest.mark.parametrize("field,value", [("category", 5), ("images", 7), ("categories", [1, [2, {"a": 3}]]),
                                         ("asin", ["B01"])])
def test_convert_metadata_of_the_wrong_json_type(field, value, tmp_path, capsys):
    reviews = tmp_path / "r.json"
    reviews.write_text((FIXTURES / "reviews_2018.json").read_text())
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"asin": "B01", "title": "t", field: value}) + "\n")
    rc, _, err = call(data_main, ["convert", "--reviews", reviews, "--meta", meta, "--out", tmp_path / "o"], capsys)
    if rc == 0:                    # a nested list of odd values is flattened to strings: fine
        assert field == "categories" and "Traceback" not in err
    else:
        assert_one_sentence(rc, err, "m.json line 1")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                           max_leaves=10)


@HYP
@given(review=st.fixed_dictionaries({}, optional={"reviewerID": json_values, "asin": json_values,
                                                  "unixReviewTime": json_values, "user_id": json_values,
                                                  "parent_asin": json_values, "timestamp": json_values}),
       meta=st.dictionaries(st.sampled_from(["asin", "title", "category", "brand", "imageURL", "images",
                                             "main_category", "store"]), json_values))
def test_convert_any_json_record_is_converted_or_refused(review, meta, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("hyp")
    (folder / "r.json").write_text(json.dumps(review) + "\n")
    (folder / "m.json").write_text(json.dumps(meta) + "\n")
    rc, _, err = call(data_main, ["convert", "--reviews", folder / "r.json", "--meta", folder / "m.json",
                                  "--out", folder / "out"], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert_one_sentence(rc, err)
    assert {p.name for p in folder.iterdir()} <= {"r.json", "m.json", "out"}


def test_convert_hostile_ids_stay_in_out(tmp_path, capsys):
    lines = [{"reviewerID": f"A{u}", "asin": a, "unixReviewTime": t}
             for u in range(3) for t, a in enumerate(["../../../evil", "/tmp/evil", "B\tx\ny"])]
    (tmp_path / "r.json").write_text("".join(json.dumps(x) + "\n" for x in lines))
    tree = Tree(tmp_path, ignore=[tmp_path / "out"])
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.json", "--out", tmp_path / "out"], capsys)
    assert rc == 0, err
    tree.assert_unchanged()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["out.inter", "out.item"]
    rc, out, err = call(data_main, ["describe", tmp_path / "out"], capsys)
    assert rc == 0 and "items         3" in out


@pytest.mark.parametrize("where", ["out-is-file", "read-only"])
def test_convert_output_faults(where, tmp_path, capsys):
    (tmp_path / "r.json").write_text((FIXTURES / "reviews_2018.json").read_text())
    (tmp_path / "f").write_text("mine")
    out = tmp_path / "f" if where == "out-is-file" else (
        Path("/proc/self/x") if os.geteuid() == 0 else tmp_path / "ro" / "x")
    if where == "read-only" and os.geteuid() != 0:
        out.parent.mkdir()
        out.parent.chmod(0o555)
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.json", "--out", out], capsys)
    assert_one_sentence(rc, err)
    tree.assert_unchanged()


# ---- describe / features on RecBole folders -----------------------------------------------

def _bomb_png(path: Path):
    """A tiny PNG whose header claims 40000 x 40000 pixels (Pillow's decompression-bomb guard)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    blob = bytearray(buf.getvalue())
    ihdr = blob[12:29]                                              # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", 40000, 40000)
    blob[12:29] = ihdr
    blob[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(blob))


def _npy_with_header(path: Path, old: bytes, new: bytes):
    """A (10, 2) float32 .npy whose header text has ``old`` replaced by ``new``."""
    buf = io.BytesIO()
    np.save(buf, np.ones((10, 2), np.float32))
    path.write_bytes(buf.getvalue().replace(old, new, 1))


DESCRIBE_FAULTS = {
    "empty-inter": (lambda f: write_atomic(f, ""), "line 1"),
    "bad-header": (lambda f: write_atomic(f, "user_id\titem_id\n"), "header"),
    "missing-column": (lambda f: write_atomic(f, "user_id:token\ttimestamp:float\nu\t1\n"), "item_id"),
    "ragged-row": (lambda f: write_atomic(f, good_inter() + "u1\ti1\n"), "line 50"),
    "nan-timestamp": (lambda f: write_atomic(f, good_inter().replace("\t3\n", "\tNaN\n", 1)), "timestamp"),
    "duplicate-item": (lambda f: write_atomic(f, good_inter(), good_item() + "i1\tagain\tc0\n"), "listed twice"),
    "npy-rows": (lambda f: (write_atomic(f, good_inter(), good_item()),
                            np.save(f / "e.npy", np.ones((3, 2), np.float32))), "e.npy"),
    "npy-corrupt": (lambda f: (write_atomic(f, good_inter(), good_item()),
                               (f / "e.npy").write_bytes(b"\x93NUMPY garbage")), "e.npy"),
    "npy-bad-header": (lambda f: (write_atomic(f, good_inter(), good_item()),            # "(10, 2(, }":
                                  _npy_with_header(f / "e.npy", b"), }", b"(, }")), "e.npy"),  # TokenError
    "npy-inf": (lambda f: (write_atomic(f, good_inter(), good_item()),
                           np.save(f / "e.npy", np.full((10, 2), np.inf, np.float32))), "e.npy"),
    "float-seq-text": (lambda f: write_atomic(f, good_inter(), good_item(
        extra_header="\tv:float_seq", extra=lambda i: "\t1 x" if i == 2 else "\t1 2")), "d.item line 4"),
    "float-seq-too-big": (lambda f: write_atomic(f, good_inter(), good_item(
        extra_header="\tv:float_seq", extra=lambda i: "\t1 1e300" if i == 0 else "\t1 2")), "d.item line 2"),
    "not-utf8": (lambda f: (f.mkdir(parents=True), (f / "d.inter").write_bytes(b"user_id:token\xff\n")), "UTF-8"),
    "two-item-id-columns": (lambda f: write_atomic(f, "user_id:token\titem_id:token\titem_id:token\nu\ti1\ti2\n"),
                            "d.inter line 1"),
    "two-title-columns": (lambda f: write_atomic(f, good_inter(), good_item(
        extra_header="\ttitle:token_seq", extra=lambda i: "\tother")), "d.item line 1"),
    "empty-user-id": (lambda f: write_atomic(f, good_inter().replace("u3\t", " \t", 1)), "user_id is empty"),
    "empty-item-id": (lambda f: write_atomic(f, good_inter(), good_item().replace("i4\t", "\t", 1)),
                      "d.item line 6"),
    "no-such-source": (lambda f: None, "no such data set"),
}


@pytest.mark.parametrize("case", list(DESCRIBE_FAULTS))
def test_describe_bad_folder(case, tmp_path, capsys):
    make, word = DESCRIBE_FAULTS[case]
    folder = tmp_path / "data"
    make(folder)
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["describe", folder], capsys)
    assert_one_sentence(rc, err, word)
    tree.assert_unchanged()


@HYP
@given(body=st.lists(st.sampled_from(list("ui01\t\n:.-e") + ["nan", "inf", "token", "float", "item_id",
                                                            "user_id", "timestamp"]), max_size=60).map("".join))
def test_describe_any_inter_file_is_read_or_refused(body, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("hyp")
    (folder / "d.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + body)
    rc, _, err = call(data_main, ["describe", folder], capsys)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:
        assert_one_sentence(rc, err)


def test_unreadable_pictures_are_counted_not_fatal(tmp_path, capsys):
    folder = write_atomic(tmp_path / "data", good_inter(), good_item())
    images = folder / "images"
    images.mkdir()
    _bomb_png(images / "i0.png")                                    # DecompressionBombError
    (images / "i1.png").mkdir()                                     # a folder named like a picture
    (images / "i2.png").symlink_to(tmp_path / "nowhere.png")        # a broken link
    (images / "i3.jpg").write_bytes(b"not a jpeg")
    Image.new("RGB", (8, 8), "red").save(images / "i4.png")
    rc, out, err = call(data_main, ["describe", folder], capsys)
    assert rc == 0 and "pictures      3 of 10" in out, err         # the folder and the broken link are skipped
    with pytest.warns(UserWarning, match="9 of 10 items"):           # only i4 is a readable picture
        rc, out, err = call(data_main, ["features", folder, "--modalities", "image",
                                        "--cache-dir", tmp_path / "cache"], capsys)
    assert rc == 0 and "image" in out and "Traceback" not in err


def test_features_hostile_field_name_stays_in_the_cache(tmp_path, capsys):
    folder = write_atomic(tmp_path / "data", good_inter(), good_item(
        extra_header="\t../../../../evil:token_seq", extra=lambda i: f"\tx{i % 2}"))
    cache = tmp_path / "a" / "b" / "cache"
    tree = Tree(tmp_path, ignore=[cache])
    rc, out, err = call(data_main, ["features", folder, "--cache-dir", cache,
                                    "--modalities", "colour,../../../../evil"], capsys)
    assert rc == 0 and "../../../../evil" in out, err
    tree.assert_unchanged()
    assert [p.parent for p in cache.rglob("*.npy")] == [cache / "features"] * 2


@pytest.mark.parametrize("argv,word", [(["features", "toyshop-tiny", "--modalities", "smell"], "smell"),
                                       (["describe", "toyshop-tiny", "--kcore", "-2"], "--kcore"),
                                       (["frobnicate"], "frobnicate")])
def test_bad_data_flags(argv, word, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, _, err = call(data_main, argv, capsys)
    assert_one_sentence(rc, err, word)
    assert not list(tmp_path.iterdir())


# ---- each file read as what it is, bounded, and its numbers checked ------------------------

def test_a_byte_order_mark_is_dropped_in_every_reader(tmp_path, capsys):
    bom = "\ufeff"
    folder = write_atomic(tmp_path / "data", bom + good_inter(), bom + good_item())
    rc, out, err = call(data_main, ["describe", folder], capsys)
    assert rc == 0 and "items         10" in out, err
    (tmp_path / "r.json").write_text(bom + (FIXTURES / "reviews_2018.json").read_text(), encoding="utf-8")
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.json", "--out", tmp_path / "o"], capsys)
    assert rc == 0, err
    sequences = tmp_path / "seq.txt"
    sequences.write_text(bom + "u1 i1 i2 i3\nu2 i2 i3 i1\n", encoding="utf-8")
    from tiny_mmmlp.data.load import load_sequence_file
    assert load_sequence_file(sequences).user_ids == ["u1", "u2"]


def test_a_one_line_gz_bomb_stays_small(tmp_path):
    """400 KB of gzip that inflates to 400 MB of one line: refused at 64 MiB, well under 500 MB."""
    from faults import run_measured, zeros_bomb
    deflate = zeros_bomb(b'{"reviewerID": "', 400 << 20)
    (tmp_path / "r.json.gz").write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflate
                                         + bytes(8))        # a wrong trailer: never reached
    rc, err, peak = run_measured("tiny_mmmlp.data.__main__", ["convert", "--reviews", "r.json.gz",
                                                             "--out", "out"], cwd=tmp_path)
    assert_one_sentence(rc, err.replace(err.rstrip().splitlines()[-1], ""), "r.json.gz line 1")
    assert peak < 500, f"peak memory {peak} MiB"
    assert not (tmp_path / "out").exists()


def test_a_gzip_stream_that_inflates_too_far_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tiny_mmmlp.data.textfile.MAX_GZIP_FREE", 1 << 16)
    line = json.dumps({**REVIEW, "note": " " * 4000}) + "\n"
    (tmp_path / "r.json.gz").write_bytes(gzip.compress((line * 400).encode()))     # about 150 times
    monkeypatch.setattr("tiny_mmmlp.data.textfile.MAX_GZIP_RATIO", 20)
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.json.gz", "--out", tmp_path / "o"], capsys)
    assert_one_sentence(rc, err, "r.json.gz line", "inflates")


def test_titles_are_cut_before_either_encoder(monkeypatch):
    from tiny_mmmlp.data import sentence_models, text
    title = "word " * 200000                                    # a megabyte of title
    cut = text.encode_texts([title, "short"], progress=False, encoder="hashed-bow")
    assert np.array_equal(cut, text.hashed_bow([title[:text.MAX_TITLE_CHARS], "short"]))
    seen = []

    class Model:
        def encode(self, texts, **_):
            seen.extend(texts)
            return np.ones((len(texts), 3), np.float32)

    monkeypatch.setattr(sentence_models, "load_model", lambda *a, **k: Model())
    monkeypatch.setattr(sentence_models, "width", lambda model: 3)
    text.encode_texts([title, "short"], progress=False, encoder="some-sentence-model")
    assert [len(t) for t in seen] == [text.MAX_TITLE_CHARS, 5]


def _cached_table(cache: Path) -> Path:
    [path] = (cache / "features").glob("*colour*.npy")
    return path


def test_a_feature_cache_of_the_wrong_shape_is_rebuilt_and_nan_refused(tmp_path, capsys):
    folder = write_atomic(tmp_path / "data", good_inter(), good_item())
    cache = tmp_path / "cache"
    argv = ["features", folder, "--modalities", "colour", "--cache-dir", cache]
    rc, _, err = call(data_main, argv, capsys)
    assert rc == 0, err
    path = _cached_table(cache)
    good = np.load(path)
    np.save(path, np.ones((3, 2), np.float32))                  # the wrong shape: rebuilt
    rc, _, err = call(data_main, argv, capsys)
    assert rc == 0, err
    assert np.array_equal(np.load(path), good)
    bad = good.copy()
    bad[2, 0] = np.nan
    np.save(path, bad)
    rc, _, err = call(data_main, argv, capsys)
    assert_one_sentence(rc, err, path.name, "NaN")


def test_negatives_above_the_item_count_are_refused_and_ten_items_warned(tmp_path, monkeypatch, capsys):
    from faults import MODEL_FLAGS

    from tiny_mmmlp.train import main as train_main
    monkeypatch.chdir(tmp_path)
    folder = write_atomic(tmp_path / "data", good_inter(), good_item())          # 10 items
    argv = ["--data", folder, "--modalities", "id", *MODEL_FLAGS]
    rc, _, err = call(train_main, [*argv, "--negatives", "11", "--out", tmp_path / "r1"], capsys)
    assert_one_sentence(rc, err, "--negatives 11", "10 items")
    assert not (tmp_path / "r1").exists()
    with pytest.warns(UserWarning, match="HR@10 is 1.0"):
        rc, _, err = call(train_main, [*argv, "--negatives", "10", "--out", tmp_path / "r2"], capsys)
    assert rc == 0, err
