"""Fault suite, model files read as bounded as they are checked (model_file.py), and a model
file received from someone else that never starts a download by itself (recommender.py)."""
import json
from http.server import BaseHTTPRequestHandler

import pytest
from faults import assert_one_sentence, call, run_measured
from local_server import serving
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import tiny_mmmlp
from tiny_mmmlp.errors import UserError
from tiny_mmmlp.evaluate import main as evaluate_main
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main


def test_bytes_after_the_tensors_are_refused(run, capsys):
    with open(run / MODEL_FILE, "ab") as f:
        f.write(b"\0" * 1000)
    rc, _, err = call(recommend_main, [run, "--items", "x"], capsys)
    assert_one_sentence(rc, err, str(run / MODEL_FILE), "1,000 bytes after its tensors")


def test_only_the_bytes_the_header_implies_are_read(run):
    """A model file with a 2 GiB tail (sparse: no disk) is refused without reading the tail."""
    with open(run / MODEL_FILE, "r+b") as f:
        f.truncate(f.seek(0, 2) + (2 << 30))
    rc, err, peak = run_measured("tiny_mmmlp.recommend", [run, "--items", "x"], cwd=run.parent)
    assert peak < 500, f"peak memory {peak} MiB"
    assert_one_sentence(rc, err.replace(err.rstrip().splitlines()[-1], ""), "after its tensors")


class Watch(BaseHTTPRequestHandler):
    hits: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Watch.hits.append(self.path)
        self.send_error(404)

    do_HEAD = do_GET


@pytest.fixture()
def amazon_run(run, tmp_path, monkeypatch):
    """The run's model file, edited to name an Amazon source as its data; the mirror is a
    local server that records every request."""
    model = run / MODEL_FILE
    with safe_open(str(model), framework="np") as f:
        metadata = dict(f.metadata())
    meta = json.loads(metadata["run"])
    meta["data"] = "amazon2018:Industrial_and_Scientific"
    metadata["run"] = json.dumps(meta)
    save_file(load_file(str(model)), str(model), metadata=metadata)
    with serving(Watch) as base:
        Watch.hits = []
        monkeypatch.setenv("TINY_MMMLP_AMAZON_MIRROR", base)
        monkeypatch.setenv("TINY_MMMLP_CACHE", str(tmp_path / "cache"))
        yield run


@pytest.mark.parametrize("command", ["recommend", "evaluate"])
def test_a_model_naming_an_amazon_source_never_downloads(command, amazon_run, tmp_path, capsys):
    argv = [amazon_run, "--user", "U1"] if command == "recommend" else [amazon_run]
    rc, _, err = call(recommend_main if command == "recommend" else evaluate_main, argv, capsys)
    assert_one_sentence(rc, err, "amazon2018:Industrial_and_Scientific", "does not fetch data by itself")
    assert Watch.hits == [] and not (tmp_path / "cache" / "downloads").exists()


def test_the_api_never_downloads_for_a_model_either(amazon_run, tmp_path):
    rec = tiny_mmmlp.load(amazon_run)
    with pytest.raises(UserError, match="does not fetch data by itself"):
        rec.evaluate()
    assert Watch.hits == []


def test_a_model_file_of_the_wrong_model_type_is_one_short_sentence(run, capsys):
    """MMMLP weights under a model file that says sasrec: torch's state-dict message runs to
    kilobytes; the sentence keeps its first line."""
    pytest.importorskip("torch")
    model = run / MODEL_FILE
    with safe_open(str(model), framework="np") as f:
        metadata = dict(f.metadata())
    meta = json.loads(metadata["run"])
    meta.update(model="sasrec", encoder={"layers": 1, "heads": 1})
    metadata["run"] = json.dumps(meta)
    save_file(load_file(str(model)), str(model), metadata=metadata)
    item = tiny_mmmlp.load(run).item_ids[0]
    rc, _, err = call(recommend_main, [run, "--items", item], capsys)
    assert_one_sentence(rc, err, str(model), "does not fit sasrec")
    assert len(err) < 600 and err.count("\n") == 1, err
