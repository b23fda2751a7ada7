"""Fault suite, the one HTTP fetch (download.py): a size cap for every raw file, an overall
deadline instead of one per read, http(s) only (redirects included), and pictures from
public addresses only. Servers run on 127.0.0.1; nothing else is contacted.
"""
import gzip
import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
from faults import assert_one_sentence, call
from local_server import send_body, serving

from tiny_mmmlp.data import download as dl
from tiny_mmmlp.data.__main__ import main as data_main

LINE = json.dumps({"reviewerID": "U1", "asin": "B1", "unixReviewTime": 1}) + "\n"
META = json.dumps({"asin": "B1", "title": "t"}) + "\n"


class Hostile(BaseHTTPRequestHandler):
    hits: list = []
    base = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        Hostile.hits.append(self.path)
        if self.path == "/endless.json":             # no length, 3 MB of valid reviews, then the end
            self.send_response(200)
            self.end_headers()
            for _ in range(3 * 2**20 // (len(LINE) * 1000) + 1):
                self.wfile.write(LINE.encode() * 1000)
        elif self.path == "/trickle.json":           # one byte every 0.2 s: each read is in time
            body = LINE.encode()[:40]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/pic-redirect.jpg":        # the trusted server sends the picture elsewhere
            self.send_response(302)
            self.send_header("Location", Hostile.picture)
            self.end_headers()
        elif self.path == "/to-ftp.json":
            self.send_response(302)
            self.send_header("Location", f"ftp://{self.base.split('//')[1]}/r.json")
            self.end_headers()
        else:
            body = {"/r.json.gz": gzip.compress(LINE.encode() * 3), "/m.json": META.encode(),
                    "/m-local.json": (json.dumps({"asin": "B1", "imageURL": [f"{Hostile.picture}"]}) + "\n").encode(),
                    "/m-redirect.json": (json.dumps({"asin": "B1", "imageURL": [f"{self.base}/pic-redirect.jpg"]})
                                         + "\n").encode(),
                    }.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            send_body(self, body)


@pytest.fixture()
def server():
    with serving(Hostile) as base:
        Hostile.hits, Hostile.base = [], base
        yield base


def _download(base, out, capsys, reviews, meta="/m.json", *extra):
    return call(data_main, ["download", "--reviews-url", base + reviews, "--meta-url", base + meta,
                            "--out", out, "--kcore", "0", "--retries", "1", "--retry-wait", "0", "--quiet",
                            *extra], capsys)


def test_download_caps_a_body_without_end(server, tmp_path, capsys):
    rc, _, err = _download(server, tmp_path / "d", capsys, "/endless.json", "/m.json", "--max-download-mb", "1")
    assert_one_sentence(rc, err, "endless.json", "more than the limit", "--max-download-mb")
    assert not list((tmp_path / "d" / "raw").iterdir())                        # no .part kept


def test_a_trickle_meets_an_overall_deadline(server, tmp_path, capsys):
    rc, _, err = _download(server, tmp_path / "d", capsys, "/trickle.json", "/m.json", "--timeout", "1")
    assert_one_sentence(rc, err, "trickle.json", "slower than")


def test_a_redirect_to_ftp_is_not_followed(server, tmp_path, capsys):
    rc, _, err = _download(server, tmp_path / "d", capsys, "/to-ftp.json")
    assert_one_sentence(rc, err, "to-ftp.json", "redirects to a ftp address")
    assert Hostile.hits == ["/to-ftp.json"]                                    # asked once, never retried


@pytest.mark.parametrize("meta", ["/m-local.json", "/m-redirect.json"])
def test_a_picture_on_a_private_address_is_never_fetched(meta, server, tmp_path, capsys):
    """The raw files' own server is the user's choice; a picture URL in its metadata that
    points anywhere else on this machine or network, at first or by a redirect, is not fetched."""
    with serving(Hostile) as other_base:                                       # another local service
        Hostile.picture = f"{other_base.replace('127.0.0.1', 'localhost')}/secret.jpg"
        rc, _, err = _download(server, tmp_path / "d", capsys, "/r.json.gz", meta)
        assert rc == 0, err
        assert "/secret.jpg" not in Hostile.hits
        assert "not a public address" in (tmp_path / "d" / "images" / "failed.tsv").read_text()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254",
                                     "0.0.0.0", "::1", "fe80::1%eth0", "::ffff:127.0.0.1", "fd00::1", "224.0.0.1",
                                     "100.64.0.1"])
def test_private_loopback_and_link_local_addresses_are_refused(address):
    with pytest.raises(dl.Refused, match="not a public address"):
        dl._check_public("host", address)
    dl._check_public("host", "93.184.216.34")                                  # a public one passes


def test_only_http_and_https_are_opened(tmp_path):
    with pytest.raises(dl.Refused, match="only http and https"):
        dl.fetch("file:///etc/hostname", tmp_path / "x", retries=1, progress=False)
    assert not (tmp_path / "x").exists()
