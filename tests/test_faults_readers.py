"""Fault suite, the readers of files people hand over (textfile.py, amazon_raw.py, images.py):
each is bounded before it reads, and every problem is one sentence naming the file and line.

A line that is not JSON is read as a Python literal only up to 128 KiB (the parser's memory
grows about 500 bytes a character); CR-only line ends, a quote left open and a field over the
csv module's limit name the line; a gzip stream that inflates over 100 times (past 64 MiB)
is refused before its rows fill memory; a picture claiming more than 25 million pixels is
refused before it is decoded.
"""
import gzip
import io
import json
import struct
import zlib

import pytest
from faults import assert_one_sentence, call, run_measured
from PIL import Image

from tiny_mmmlp.data import images
from tiny_mmmlp.data.__main__ import main as data_main

REVIEWS = "".join(json.dumps({"reviewerID": f"U{u}", "asin": f"B{(u + j) % 5}", "unixReviewTime": j}) + "\n"
                  for u in range(4) for j in range(3))


def test_a_long_python_literal_is_refused_in_bounded_memory(tmp_path):
    """A 1.5 MB line of Python literal (about 750 MB to parse) is refused before ast sees it."""
    (tmp_path / "r.json").write_text(REVIEWS)
    line = "{'asin': 'B1', 'related': [" + "1," * 750_000 + "]}\n"
    (tmp_path / "m.json.gz").write_bytes(gzip.compress(line.encode()))
    rc, err, peak = run_measured("tiny_mmmlp.data.__main__", ["convert", "--reviews", "r.json", "--meta",
                                                             "m.json.gz", "--out", "out"], cwd=tmp_path)
    assert_one_sentence(rc, err.replace(err.rstrip().splitlines()[-1], ""), "m.json.gz line 1",
                        "too long to read as a Python literal")
    assert peak < 300, f"peak memory {peak} MiB"
    assert not (tmp_path / "out").exists()


def test_a_short_python_literal_is_still_read(tmp_path, capsys):
    (tmp_path / "r.json").write_text(REVIEWS)
    (tmp_path / "m.json").write_text("{'asin': 'B1', 'title': 'a \\'quoted\\' thing', 'categories': [['A', 'B']]}\n")
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.json", "--meta", tmp_path / "m.json",
                                  "--out", tmp_path / "out"], capsys)
    assert rc == 0, err
    assert "a 'quoted' thing" in (tmp_path / "out" / "out.item").read_text()


CSV_CASES = {
    "cr-only": ("user_id,item_id,timestamp\ru1,i1,1\ru1,i2,2\r", "line 1", "carriage return"),
    "long-field": ('user_id,item_id,timestamp\nu1,"' + "x" * 140_000 + '",1\n', "line 2", "longer than 131,072"),
    "quoted-newline": ('user_id,item_id,timestamp\nu1,"i\n1",1\n', "line 2", "a quoted field runs past"),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_faults_name_the_line(case, tmp_path, capsys):
    body, line, words = CSV_CASES[case]
    (tmp_path / "e.csv").write_bytes(body.encode())
    rc, _, err = call(data_main, ["convert", "--interactions", tmp_path / "e.csv", "--out", tmp_path / "o"], capsys)
    assert_one_sentence(rc, err, f"e.csv {line}", words)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case", ["cr-only", "long-field"])
def test_the_2023_review_csv_names_the_line_too(case, tmp_path, capsys):
    body = CSV_CASES[case][0].replace("user_id,item_id,timestamp", "user_id,parent_asin,rating,timestamp")
    body = body.replace(",1\n", ",5,1\n").replace(",1\r", ",5,1\r").replace(",2\r", ",5,2\r")
    (tmp_path / "r.csv").write_bytes(body.encode())
    rc, _, err = call(data_main, ["convert", "--reviews", tmp_path / "r.csv", "--out", tmp_path / "o"], capsys)
    assert_one_sentence(rc, err, "r.csv line", CSV_CASES[case][2])


def test_a_gzip_of_valid_lines_that_inflates_too_far_is_refused(tmp_path):
    """Valid reviews padded with spaces: about 160 times smaller gzipped (real review files: 5 to
    20 times). Refused at 64 MiB inflated, before its rows fill memory."""
    line = lambda n: json.dumps({"reviewerID": f"U{n % 997}", "asin": f"B{n % 1013}", "unixReviewTime": n,  # noqa: E731
                                 "reviewText": " " * 2000}) + "\n"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    blob = b"".join(packer.compress("".join(line(n) for n in range(k, k + 1000)).encode())
                    for k in range(0, 100_000, 1000)) + packer.flush()           # about 200 MB inflated
    assert 100 < 200e6 / len(blob) < 1000
    (tmp_path / "r.json.gz").write_bytes(blob)
    rc, err, peak = run_measured("tiny_mmmlp.data.__main__", ["convert", "--reviews", "r.json.gz", "--out", "out"],
                                 cwd=tmp_path)
    assert_one_sentence(rc, err.replace(err.rstrip().splitlines()[-1], ""), "r.json.gz line", "inflates over 100")
    assert peak < 500, f"peak memory {peak} MiB"


def _huge_png(path, side=12000):
    """A small PNG whose header claims side x side pixels (under Pillow's own bomb limit)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    blob = bytearray(buf.getvalue())
    ihdr = blob[12:29]
    ihdr[4:12] = struct.pack(">II", side, side)
    blob[12:29] = ihdr
    blob[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(blob))
    return path


@pytest.mark.parametrize("reader", ["load_square", "efficientnet"])
def test_a_picture_of_too_many_pixels_is_refused_before_decoding(reader, tmp_path):
    path = _huge_png(tmp_path / "p.png")
    read = images.load_square if reader == "load_square" else __import__(
        "tiny_mmmlp.data.efficientnet", fromlist=["picture_array"]).picture_array
    with pytest.raises(Image.DecompressionBombError, match="12000 x 12000 pixels"):
        read(path)


def test_ids_that_differ_only_in_white_space_are_not_merged_silently(tmp_path, capsys):
    (tmp_path / "e.csv").write_text("user_id,item_id,timestamp\nu1,i1,1\nu1 ,i2,2\nu2,i1,3\n")
    rc, _, err = call(data_main, ["convert", "--interactions", tmp_path / "e.csv", "--out", tmp_path / "o"], capsys)
    assert_one_sentence(rc, err, "e.csv line 3", "'u1 '", "only in white space")
