"""Fault suite, download command, against a local HTTP server on 127.0.0.1 only.

Hostile item ids and URLs in the metadata, error pages served as data, pictures that are
not pictures (or decompression bombs), files already in the way, bad flags.
"""
import gzip
import io
import json
import struct
import zlib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from faults import Tree, assert_one_sentence, call
from local_server import send_body, serving
from PIL import Image

from tiny_mmmlp.data.__main__ import main as data_main
from tiny_mmmlp.data.safe_names import safe_stem

HOSTILE = ["../../../evil", "/tmp/tiny_mmmlp_fault_evil", "..", "a/b", "B01"]


def png(colour="red", size=(10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def bomb() -> bytes:
    blob = bytearray(png())
    ihdr = blob[12:29]
    ihdr[4:12] = struct.pack(">II", 40000, 40000)
    blob[12:29] = ihdr
    blob[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(blob)


class Files(BaseHTTPRequestHandler):
    files: dict = {}
    ranges = "ignore"    # how a Range request is answered: ignore (200), whole-206, 416-total, 416-none

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = Files.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.headers.get("Range") and Files.ranges != "ignore":
            if Files.ranges == "whole-206":          # a 206 that ignores the range asked for
                self.send_response(206)
                self.send_header("Content-Range", f"bytes 0-{len(body) - 1}/{len(body)}")
            else:                                    # 416: "nothing past what you have"
                self.send_response(416)
                if Files.ranges == "416-total":
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        else:
            self.send_response(200)
        send_body(self, body)


@pytest.fixture()
def server():
    with serving(Files) as base:
        reviews = "".join(json.dumps({"reviewerID": f"U{u}", "asin": a, "unixReviewTime": t}) + "\n"
                          for u in range(2) for t, a in enumerate(HOSTILE))
        meta = "".join(json.dumps({"asin": a, "title": f"thing {i}",
                                   "imageURLHighRes": [f"{base}/img/{i}.jpg"]}) + "\n"
                       for i, a in enumerate(HOSTILE))
        Files.files = {"/raw/r.json.gz": gzip.compress(reviews.encode()),
                       "/raw/m.json.gz": gzip.compress(meta.encode()),
                       "/img/0.jpg": png("red"), "/img/1.jpg": png("blue"), "/img/2.jpg": bomb(),
                       "/img/3.jpg": b"<html>no</html>", "/img/4.jpg": png("green")}
        Files.ranges = "ignore"
        yield base


def download(base, out, capsys, reviews="/raw/r.json.gz", meta="/raw/m.json.gz", *extra):
    return call(data_main, ["download", "--reviews-url", base + reviews, "--meta-url", base + meta,
                            "--out", out, "--kcore", "0", "--retries", "2", "--retry-wait", "0",
                            "--workers", "2", "--quiet", *extra], capsys)


def test_hostile_item_ids_never_leave_the_images_folder(server, tmp_path, capsys):
    out = tmp_path / "shop"
    tree = Tree(tmp_path, ignore=[out])
    rc, stdout, err = download(server, out, capsys)
    assert rc == 0, err
    tree.assert_unchanged()
    assert not Path("/tmp/tiny_mmmlp_fault_evil.jpg").exists()
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == sorted([f"{safe_stem(HOSTILE[0])}.jpg", f"{safe_stem(HOSTILE[1])}.jpg", "B01.jpg",
                            "failed.tsv", "manifest.tsv"])
    manifest = (out / "images" / "manifest.tsv").read_text().splitlines()[1:]
    assert sorted(line.split("\t")[0] for line in manifest) == sorted([HOSTILE[0], HOSTILE[1], "B01"])
    failed = (out / "images" / "failed.tsv").read_text()
    assert "DecompressionBombError" in failed and "not a readable picture" in failed
    from tiny_mmmlp import data
    ds = data.load(out)                                      # the loader finds the hashed names
    assert sum(p is not None for p in ds.image_paths) == 3


def test_a_file_already_there_is_never_deleted(server, tmp_path, capsys):
    out = tmp_path / "shop"
    (out / "images").mkdir(parents=True)
    mine = out / "images" / "B01.jpg"
    mine.write_bytes(b"my own notes, not a picture")
    rc, _, err = download(server, out, capsys)
    assert rc == 0, err
    assert mine.read_bytes() == b"my own notes, not a picture"
    assert "left in place" in (out / "images" / "failed.tsv").read_text()


def test_an_error_page_is_refused_and_not_kept(server, tmp_path, capsys):
    out = tmp_path / "shop"
    good = Files.files["/raw/r.json.gz"]
    Files.files["/raw/r.json.gz"] = b"<html><body>Service unavailable</body></html>"
    rc, _, err = download(server, out, capsys)
    assert_one_sentence(rc, err, "r.json.gz", "not reviews")
    assert not (out / "raw" / "r.json.gz").exists()
    Files.files["/raw/r.json.gz"] = good                       # the rerun fetches it again
    rc, _, err = download(server, out, capsys)
    assert rc == 0, err


def test_a_bad_raw_file_from_before_is_left_in_place(server, tmp_path, capsys):
    out = tmp_path / "shop"
    (out / "raw").mkdir(parents=True)
    (out / "raw" / "r.json.gz").write_bytes(b"<html>old error page</html>")
    rc, _, err = download(server, out, capsys)
    assert_one_sentence(rc, err, "left in place")
    assert (out / "raw" / "r.json.gz").read_bytes() == b"<html>old error page</html>"


def test_hostile_raw_file_name_stays_in_raw(server, tmp_path, capsys):
    Files.files["/raw/..%2F..%2Fevil"] = Files.files["/raw/r.json.gz"]
    out = tmp_path / "shop"
    tree = Tree(tmp_path, ignore=[out])
    rc, _, err = download(server, out, capsys, "/raw/..%2F..%2Fevil", "/raw/m.json.gz", "--no-images")
    assert rc == 0, err
    tree.assert_unchanged()
    assert (out / "raw" / safe_stem("..%2F..%2Fevil")).is_file()


def test_file_urls_in_metadata_are_never_fetched(server, tmp_path, capsys):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png("black"))
    meta = json.dumps({"asin": "B01", "imageURLHighRes": [f"file://{secret}"]}) + "\n"
    Files.files["/raw/m.json.gz"] = gzip.compress(meta.encode())
    out = tmp_path / "shop"
    rc, _, err = download(server, out, capsys)
    assert rc == 0, err
    assert not (out / "image_urls.tsv").exists() and not (out / "images" / "B01.jpg").exists()


@pytest.mark.parametrize("flags,word", [(["--timeout", "-1"], "--timeout"), (["--workers", "0"], "--workers"),
                                        (["--retries", "0"], "--retries"), (["--max-images", "-1"], "--max-images"),
                                        (["--retry-wait", "nan"], "--retry-wait"), (["--kcore", "-5"], "--kcore")])
def test_bad_download_flags(flags, word, server, tmp_path, capsys):
    rc, _, err = download(server, tmp_path / "shop", capsys, "/raw/r.json.gz", "/raw/m.json.gz", *flags)
    assert_one_sentence(rc, err, word)
    assert not (tmp_path / "shop").exists()


def test_a_url_urllib_cannot_open_is_one_sentence(tmp_path, capsys):
    rc, _, err = call(data_main, ["download", "--reviews-url", "notaurl", "--meta-url", "alsonot",
                                  "--out", tmp_path / "shop", "--retry-wait", "0", "--quiet"], capsys)
    assert_one_sentence(rc, err, "notaurl")


# ---- range replies, bodies that are not what they claim ------------------------------------

def _partial_download(out: Path, body: bytes, keep: int) -> Path:
    """``out/raw/r.json.gz.part`` holding the first ``keep`` bytes of ``body`` (an interrupted run)."""
    (out / "raw").mkdir(parents=True)
    part = out / "raw" / "r.json.gz.part"
    part.write_bytes(body[:keep])
    return part


@pytest.mark.parametrize("ranges", ["whole-206", "416-total", "416-none"])
def test_a_range_reply_that_does_not_fit_the_part_file_starts_over(ranges, server, tmp_path, capsys):
    out = tmp_path / "shop"
    body = Files.files["/raw/r.json.gz"]
    part = _partial_download(out, body, 20)
    Files.ranges = ranges
    rc, stdout, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m.json.gz", "--no-images")
    assert rc == 0, err
    assert (out / "raw" / "r.json.gz").read_bytes() == body and not part.exists()
    assert "10 interactions" in stdout                       # not 20 of them, nor a cut file


def test_a_416_for_a_complete_part_file_finishes_it(server, tmp_path, capsys):
    out = tmp_path / "shop"
    body = Files.files["/raw/r.json.gz"]
    _partial_download(out, body, len(body))
    Files.ranges = "416-total"
    rc, stdout, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m.json.gz", "--no-images")
    assert rc == 0 and "10 interactions" in stdout, err
    assert (out / "raw" / "r.json.gz").read_bytes() == body


def deleted_then_fetched_again(server, out, capsys, bad: bytes, good: bytes, *said):
    """A raw reviews file this run fetched that fails to convert (``bad``) is deleted, in one
    sentence saying ``said``; a rerun, the server now serving ``good``, fetches and converts it."""
    Files.files["/raw/r.json.gz"] = bad
    rc, _, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m.json.gz", "--no-images")
    assert_one_sentence(rc, err, *said)
    assert not (out / "raw" / "r.json.gz").exists()
    Files.files["/raw/r.json.gz"] = good
    rc, _, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m.json.gz", "--no-images")
    assert rc == 0, err


def test_a_body_that_turns_to_junk_is_deleted_so_a_rerun_fetches_it(server, tmp_path, capsys):
    good = Files.files["/raw/r.json.gz"]
    junk = gzip.compress(gzip.decompress(good) + b"x" * 5000 + b"\n")
    deleted_then_fetched_again(server, tmp_path / "shop", capsys, junk, good, "r.json.gz line 11",
                               "rerun fetches it again")


def test_a_picture_followed_by_junk_is_refused_and_removed(server, tmp_path, capsys):
    Files.files["/img/0.jpg"] = png("red") + bytes(3 << 20)
    out = tmp_path / "shop"
    rc, _, err = download(server, out, capsys)
    assert rc == 0, err
    first = out / "images" / f"{safe_stem(HOSTILE[0])}.jpg"
    assert not first.exists()
    assert "bytes after the image" in (out / "images" / "failed.tsv").read_text()
    assert (out / "images" / "B01.jpg").is_file()              # the honest pictures are kept
