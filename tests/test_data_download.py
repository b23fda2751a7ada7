"""The downloader against a local HTTP server on 127.0.0.1 (never the real network).

The server supports Range requests and misbehaves on purpose: a reviews file whose first
response is cut off mid-body (the client must resume), a picture that fails once with 503
(the client must retry), a missing picture (404) and a picture that is not an image (both
recorded in images/failed.tsv, never fatal).
"""
import gzip
import io
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from local_server import serving
from PIL import Image

from tiny_mmmlp import data
from tiny_mmmlp.data.__main__ import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"


def png_bytes(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 12), colour).save(buf, format="PNG")
    return buf.getvalue()


class Shop(BaseHTTPRequestHandler):
    files: dict = {}
    log: list = []
    fail_once: set = set()
    cut_once: set = set()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        path, rng = self.path, self.headers.get("Range")
        Shop.log.append((path, rng))
        if path in Shop.fail_once:
            Shop.fail_once.discard(path)
            self.send_error(503)
            return
        if path not in Shop.files:
            self.send_error(404)
            return
        body = Shop.files[path]
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body) - start))
        if rng:                                       # as HTTP servers answer a range
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if path in Shop.cut_once:                     # promise everything, send half, hang up
            Shop.cut_once.discard(path)
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server():
    with serving(Shop) as base:
        meta = (FIXTURES / "meta_2018.json").read_text().replace("HOST", base.removeprefix("http://"))
        Shop.files = {
            "/raw/reviews_5.json.gz": gzip.compress((FIXTURES / "reviews_2018.json").read_bytes()),
            "/raw/meta.json.gz": gzip.compress(meta.encode()),
            "/img/B01.jpg": png_bytes("red"), "/img/B02.jpg": png_bytes("blue"),
            "/img/B04.jpg": b"<html>not a picture</html>", "/img/B05.jpg": png_bytes("green"),
        }  # B03 is missing (404)
        Shop.log, Shop.fail_once, Shop.cut_once = [], {"/img/B05.jpg"}, {"/raw/reviews_5.json.gz"}
        yield base


def run(base, out, *extra):
    return main(["download", "--reviews-url", f"{base}/raw/reviews_5.json.gz", "--meta-url",
                 f"{base}/raw/meta.json.gz", "--out", str(out), "--kcore", "0", "--retries", "3",
                 "--retry-wait", "0.01", "--workers", "2", "--quiet", *extra])


def test_download_resumes_retries_and_records_failed_pictures(server, tmp_path, capsys):
    out = tmp_path / "sci"
    (out / "raw").mkdir(parents=True)
    meta = Shop.files["/raw/meta.json.gz"]
    (out / "raw" / "meta.json.gz.part").write_bytes(meta[:10])      # an interrupted earlier run
    assert run(server, out) == 0
    assert ("/raw/meta.json.gz", "bytes=10-") in Shop.log             # resumed, not restarted
    review_ranges = [r for p, r in Shop.log if p == "/raw/reviews_5.json.gz"]
    assert review_ranges[0] is None and review_ranges[1].startswith("bytes=")   # cut, then resumed
    assert (out / "raw" / "reviews_5.json.gz").read_bytes() == Shop.files["/raw/reviews_5.json.gz"]
    assert not list(out.rglob("*.part")) and not list(out.rglob(".*.tmp"))
    failed = (out / "images" / "failed.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in failed] == ["B03", "B04"]
    assert "HTTP 404" in failed[0] and "not a readable picture" in failed[1]
    assert sorted(p.name for p in (out / "images").glob("*.jpg")) == ["B01.jpg", "B02.jpg", "B05.jpg"]
    assert "3 pictures; 2 failed" in capsys.readouterr().out

    ds = data.load(out)
    assert ds.n_interactions == 11 and data.available_modalities(ds)[:2] == ["image", "text"]
    with pytest.warns(UserWarning, match="2 of 5 items have a missing or unreadable picture"):
        data.build_features(ds, ["image"], cache_dir=tmp_path / "cache", progress=False)

    Shop.log.clear()                                                  # a second run fetches nothing new
    assert run(server, out) == 0
    assert sorted(p for p, _ in Shop.log) == ["/img/B03.jpg", "/img/B04.jpg"]     # 404 is not retried


def test_download_failure_of_raw_file_is_one_line(server, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["download", "--reviews-url", f"{server}/raw/nothing.json.gz", "--meta-url",
              f"{server}/raw/meta.json.gz", "--out", str(tmp_path / "x"), "--retry-wait", "0", "--quiet"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing.json.gz: HTTP 404" in err[0]
