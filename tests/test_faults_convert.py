"""Fault suite, convert and the converted cache: a user's folder is never merged into or
half-replaced, and a raw download that fails to convert never stays to fail every rerun.

``data convert --out`` writes a new or empty folder, or with ``--overwrite`` replaces it whole
(files.replacing_folder): no hand-written ``.item`` is replaced beside an old ``.npy``, and an
interruption leaves the old folder as it was. ``data download`` installs its converted pair
with the old ``.inter`` gone first and the new one last.
"""
import gzip
import json

import numpy as np
import pytest
from faults import Tree, assert_one_sentence, call
from test_faults_download import Files, deleted_then_fetched_again, download, server  # noqa: F401 - the fixture

from tiny_mmmlp.data import recbole
from tiny_mmmlp.data.__main__ import main as data_main

CSV = "user_id,item_id,timestamp\n" + "".join(f"u{u},i{(u + j) % 6},{j}\n" for u in range(6) for j in range(4))


@pytest.fixture()
def shop(tmp_path):
    """A hand-made data folder: titles typed by a person, and a feature table beside them."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu0\ti0\t0\n")
    (folder / "shop.item").write_text("item_id:token\ttitle:token_seq\ni0\tmy own careful title\n")
    np.save(folder / "emb.npy", np.ones((1, 4), dtype=np.float32))
    (tmp_path / "events.csv").write_text(CSV)
    return folder


def test_convert_refuses_a_folder_that_holds_files(shop, tmp_path, capsys):
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["convert", "--interactions", tmp_path / "events.csv", "--out", shop], capsys)
    assert_one_sentence(rc, err, f"--out {shop}", "--overwrite")
    tree.assert_unchanged()


def test_convert_overwrite_replaces_the_folder_whole(shop, tmp_path, capsys):
    rc, _, err = call(data_main, ["convert", "--interactions", tmp_path / "events.csv", "--out", shop,
                                  "--overwrite"], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in shop.iterdir()) == ["shop.inter", "shop.item"]      # no stale emb.npy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "shop"]        # no temporary left


def test_convert_overwrite_never_deletes_its_own_input(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "events.csv").write_text(CSV)
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["convert", "--interactions", folder / "events.csv", "--out", folder,
                                  "--overwrite"], capsys)
    assert_one_sentence(rc, err, "events.csv", "choose another folder")
    tree.assert_unchanged()


def test_convert_into_an_empty_folder_is_allowed(tmp_path, capsys):
    (tmp_path / "events.csv").write_text(CSV)
    (tmp_path / "empty").mkdir()
    rc, out, err = call(data_main, ["convert", "--interactions", tmp_path / "events.csv", "--out",
                                    tmp_path / "empty"], capsys)
    assert rc == 0, err
    assert f"{tmp_path / 'empty'}: 6 users" in out and ".tmp" not in out
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["empty.inter", "empty.item"]


@pytest.mark.parametrize("overwrite", [True, False])
def test_an_interrupted_convert_leaves_the_old_folder_or_none(overwrite, shop, tmp_path, monkeypatch, capsys):
    """Ctrl-C after the new .inter is written: the old pair stays (or no folder appears)."""
    written = recbole.write_lines

    def stop_after_inter(path, lines):
        written(path, lines)
        if str(path).endswith(".inter"):
            raise KeyboardInterrupt

    monkeypatch.setattr(recbole, "write_lines", stop_after_inter)
    out = shop if overwrite else tmp_path / "new"
    tree = Tree(tmp_path)
    rc, _, err = call(data_main, ["convert", "--interactions", tmp_path / "events.csv", "--out", out,
                                  *(["--overwrite"] if overwrite else [])], capsys)
    assert rc == 130, err
    tree.assert_unchanged()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "shop"]


def test_download_replaces_the_pair_and_drops_stale_urls(server, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "shop"
    rc, _, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m.json.gz", "--no-images")
    assert rc == 0, err
    assert (out / "image_urls.tsv").is_file()
    Files.files["/raw/m2.json.gz"] = gzip.compress(b'{"asin": "B01", "title": "no picture"}\n')
    (out / "raw" / "r.json.gz").unlink()
    rc, _, err = download(server, out, capsys, "/raw/r.json.gz", "/raw/m2.json.gz", "--no-images")
    assert rc == 0, err
    assert not (out / "image_urls.tsv").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_truncated_download_is_deleted_so_a_rerun_fetches_it(server, tmp_path, capsys):  # noqa: F811
    good = gzip.compress("".join(json.dumps({"reviewerID": f"U{n % 50}", "asin": f"B{n % 70}", "unixReviewTime": n})
                                 + "\n" for n in range(3000)).encode())
    deleted_then_fetched_again(server, tmp_path / "shop", capsys, good[: len(good) // 2], good,   # ends early
                               "r.json.gz", "deleted, so a rerun fetches it again")


def test_a_bad_cached_amazon_download_is_deleted(tmp_path, monkeypatch, capsys):
    """amazon2018:<Category>: a raw file this run fetched that fails to convert is deleted."""
    from tiny_mmmlp import data
    from tiny_mmmlp.data import amazon_source
    from tiny_mmmlp.errors import UserError
    cache = tmp_path / "cache"
    raws = amazon_source.raw_paths("amazon2018", "Industrial_and_Scientific", cache)

    def fake(url, dest, **kw):
        dest.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"reviewerID": "A", "asin": "B", "unixReviewTime": 1}) + "\n{broken\n"
        dest.write_bytes(gzip.compress(body.encode() if "meta" not in dest.name else b"{}\n"))
        return dest

    monkeypatch.setattr(amazon_source, "fetch", fake)
    with pytest.raises(UserError, match="line 2.*deleted, so a rerun fetches it again"):
        data.load("amazon2018:Industrial_and_Scientific", cache_dir=cache, progress=False)
    assert not raws[0].exists()
