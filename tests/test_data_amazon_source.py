"""amazon2018:<Category> and amazon2023:<Category> end to end against a local server (never the network).

The server on 127.0.0.1 stands in for the McAuley lab's (``$TINY_MMMLP_AMAZON_MIRROR``) and
serves small files in the real formats: 2018 5-core reviews and metadata as gzipped JSON lines,
2023's 5-core benchmark CSV and metadata JSONL, and one picture per product except one (404).
It answers Range requests and HEAD, and can cut a response short once (the client resumes).
"""
import gzip
import io
import json
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
from local_server import serving
from PIL import Image
from small_model import small

from tiny_mmmlp import data
from tiny_mmmlp.data import amazon_source
from tiny_mmmlp.data.__main__ import main as data_main
from tiny_mmmlp.errors import UserError
from tiny_mmmlp.train import main as train_main

CATEGORY = "Industrial_and_Scientific"
N_USERS, N_ITEMS = 14, 8
ITEMS = [f"B0{i}" for i in range(N_ITEMS)]
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]


def purchases():
    """(user, item, day) rows: every user buys 6 of the 8 items, so all survive the 5-core."""
    rows = []
    for u in range(N_USERS):
        for k in range(6):
            rows.append((f"A{u:02d}", ITEMS[(u + k) % N_ITEMS], 1_500_000_000 + 86400 * (10 * k + u % 3)))
    return rows[::-1]                                       # out of time order on purpose


def files_2018(host):
    reviews = "".join(json.dumps({"overall": 5.0, "verified": True, "reviewerID": u, "asin": i,
                                  "reviewText": "good", "summary": "ok", "unixReviewTime": t}) + "\n"
                      for u, i, t in purchases())
    meta = "".join(json.dumps({"asin": i, "title": f"{c} beaker &amp; stand", "brand": "Pyrex",
                               "category": ["Industrial & Scientific", "Lab Glassware"],
                               "imageURL": [f"http://{host}/small/{i}.jpg"],
                               "imageURLHighRes": [f"http://{host}/img/{i}.jpg"]}) + "\n"
                   for i, c in zip(ITEMS, COLOURS))
    return {f"/amazon_v2/categoryFilesSmall/{CATEGORY}_5.json.gz": gzip.compress(reviews.encode()),
            f"/amazon_v2/metaFiles2/meta_{CATEGORY}.json.gz": gzip.compress(meta.encode())}


def files_2023(host):
    reviews = "user_id,parent_asin,rating,timestamp\n" + "".join(
        f"{u},{i},5.0,{t * 1000}\n" for u, i, t in purchases())
    meta = "".join(json.dumps({"main_category": "Industrial & Scientific", "title": f"{c} caliper",
                               "store": "Mitutoyo", "categories": ["Measuring"], "parent_asin": i,
                               "images": [{"thumb": f"http://{host}/t/{i}.jpg", "large": f"http://{host}/img/{i}.jpg",
                                           "variant": "MAIN", "hi_res": None}]}) + "\n"
                   for i, c in zip(ITEMS, COLOURS))
    return {f"/amazon_2023/benchmark/5core/rating_only/{CATEGORY}.csv.gz": gzip.compress(reviews.encode()),
            f"/amazon_2023/raw/meta_categories/meta_{CATEGORY}.jsonl.gz": gzip.compress(meta.encode())}


def picture(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


class Shop(BaseHTTPRequestHandler):
    files: dict = {}
    log: list = []
    cut_once: set = set()

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        Shop.log.append(("HEAD", self.path, None))
        if self.path not in Shop.files:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(Shop.files[self.path])))
        self.end_headers()

    def do_GET(self):
        rng = self.headers.get("Range")
        Shop.log.append(("GET", self.path, rng))
        if self.path not in Shop.files:
            self.send_error(404)
            return
        body = Shop.files[self.path]
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body) - start))
        if rng:                                           # as HTTP servers answer a range
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if self.path in Shop.cut_once:                    # promise everything, send half, hang up
            Shop.cut_once.discard(self.path)
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.close_connection = True
            return
        try:
            self.wfile.write(body[start:])
        except (BrokenPipeError, ConnectionResetError):   # the client refused the rest
            self.close_connection = True


@pytest.fixture()
def server(monkeypatch, tmp_path):
    with serving(Shop) as base:
        host = base.removeprefix("http://")
        Shop.files = {**files_2018(host), **files_2023(host)}
        Shop.files.update({f"/img/{i}.jpg": picture(c) for i, c in zip(ITEMS, COLOURS) if i != "B03"})  # B03: 404
        Shop.log, Shop.cut_once = [], set()
        monkeypatch.setenv(amazon_source.MIRROR_ENV, base)
        monkeypatch.setenv("TINY_MMMLP_CACHE", str(tmp_path / "cache"))
        yield host


def gets(prefix=""):
    return [(p, r) for m, p, r in Shop.log if m == "GET" and p.startswith(prefix)]


@pytest.mark.parametrize("release", ["amazon2018", "amazon2023"])
def test_source_downloads_resumes_converts_fetches_pictures_then_reads_the_cache(server, tmp_path, release):
    source = f"{release}:{CATEGORY}"
    reviews_path, meta_path = (p.split(server, 1)[1] for p in amazon_source.urls(release, CATEGORY))
    Shop.cut_once = {reviews_path}                          # the reviews arrive in two pieces
    raw = amazon_source.raw_paths(release, CATEGORY)
    raw[1].parent.mkdir(parents=True)
    raw[1].with_name(raw[1].name + ".part").write_bytes(Shop.files[meta_path][:20])   # an earlier try
    with pytest.warns(UserWarning, match=r"1 of 8 pictures could not be fetched"):
        ds = data.load(source, pictures=True, progress=False)
    assert [r for p, r in gets(reviews_path)] == [None, gets(reviews_path)[1][1]] and gets(reviews_path)[1][1]
    assert gets(meta_path) == [(meta_path, "bytes=20-")]    # resumed, not restarted
    assert ds.name == f"{release}-{CATEGORY}" and (ds.n_users, ds.n_items, ds.n_interactions) == (14, 8, 84)
    assert {"title", "categories", "brand"} <= set(ds.item_fields)
    assert "&amp;" not in " ".join(ds.titles) and ds.titles[1].split()[0] in COLOURS
    times = {(u, i): t for u, i, t in purchases()}          # each sequence in time order
    for user, seq in zip(ds.user_ids, ds.sequences):
        stamps = [times[(user, ds.item_ids[i - 1])] for i in seq]
        assert stamps == sorted(stamps)
    assert sum(p is not None for p in ds.image_paths) == 7
    assert (ds.folder / "images" / "failed.tsv").read_text().startswith("B03\t")
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob(".*.tmp"))

    Shop.log.clear()                                        # the second use reads the cache only
    again = data.load(source, pictures=True, progress=False)
    assert Shop.log == [] and again.n_interactions == ds.n_interactions
    assert "image" in data.available_modalities(again)


def test_describe_shows_the_plan_and_fetches_nothing_until_asked(server, capsys):
    source = f"amazon2018:{CATEGORY}"
    assert data_main(["describe", source]) == 0
    out = capsys.readouterr().out
    sizes = [len(Shop.files[p.split(server, 1)[1]]) for p in amazon_source.urls("amazon2018", CATEGORY)]
    assert f"{sum(sizes) / 1e6:,.1f} MB as the server states them" in out and "add --fetch" in out
    assert gets() == []                                     # HEAD requests only
    assert data_main(["describe", source, "--fetch", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.index("metadata      http") < out.index("users         14")     # the plan came first


def test_a_file_too_large_or_not_reviews_is_refused_and_nothing_is_kept(server, tmp_path, capsys):
    source = f"amazon2018:{CATEGORY}"
    reviews_path = amazon_source.urls("amazon2018", CATEGORY)[0].split(server, 1)[1]
    good = Shop.files[reviews_path]
    Shop.files[reviews_path] = b"\0" * 1_500_000            # more than --max-download-mb 1
    with pytest.raises(SystemExit) as stop:
        data_main(["features", source, "--max-download-mb", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "refused" in err[0] and "--max-download-mb" in err[0]
    assert not list(tmp_path.rglob("*_5.json.gz*"))

    Shop.files[reviews_path] = b"<html><body>Service unavailable</body></html>"
    with pytest.raises(SystemExit) as stop:
        data_main(["features", source, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "not reviews or metadata" in err[0]
    assert not list(tmp_path.rglob("*_5.json.gz*"))         # so a rerun fetches it again

    Shop.files[reviews_path] = good
    assert data_main(["features", source, "--modalities", "brand", "--no-progress"]) == 0
    assert "brand" in capsys.readouterr().out


def test_offline_ends_in_one_sentence(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(amazon_source.MIRROR_ENV, "http://no-such-host.invalid")
    monkeypatch.setenv("TINY_MMMLP_CACHE", str(tmp_path))
    with pytest.raises(SystemExit) as stop:
        train_main(["--data", f"amazon2023:{CATEGORY}", "--no-progress", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1
    assert "needs the network once" in err[0] and "--data toyshop works offline" in err[0]
    assert not (tmp_path / "run").exists()


def test_unknown_category_names_the_close_one():
    with pytest.raises(UserError, match="did you mean amazon2018:Industrial_and_Scientific"):
        data.load("amazon2018:industrial_and_scientific")


def test_train_runs_on_the_built_in_source(server, tmp_path):
    train_main(small("--modalities", "id,brand", "--epochs", "1", "--batch-size", "32",
                     "--out", str(tmp_path / "run"), data=f"amazon2018:{CATEGORY}"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"] == f"amazon2018:{CATEGORY}" and 0.0 <= metrics["test"]["NDCG@10"] <= 1.0
    assert np.isfinite(metrics["history"][0]["loss"])
