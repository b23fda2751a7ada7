"""The course grader's inputs and outputs: what a user or a student can hand it ends in one
sentence and exit code 2 (never a traceback or a hang), and what crosses the process
boundary is plain data only.
"""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tiny_mmmlp.course import kit as kits
from tiny_mmmlp.course import plain
from tiny_mmmlp.course.__main__ import main
from tiny_mmmlp.course.report import one_line, table


def fails_in_one_sentence(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert stop.value.code == 2 and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""                    # nothing was graded
    return captured.err


@pytest.fixture
def kit(tmp_path):
    folder = tmp_path / "kit"
    (folder / "tiny_mmmlp").mkdir(parents=True)
    (folder / "tiny_mmmlp" / "__init__.py").write_text("")
    return folder


@pytest.mark.parametrize("content, says", [
    ("5", "is not a course manifest"),
    ("null", "is not a course manifest"),
    ("[" * 30_000 + "]" * 30_000, "is not valid JSON (or is nested too deeply)"),
    ('{"exercises": 5}', '"exercises" should be a list'),
    ('{"exercises": null}', '"exercises" should be a list'),
    ('{"exercises": []}', "lists no exercises"),
    ('{"exercises": [3, 3]}', "lists exercise 3 twice"),
    ('{"exercises": [[[[1]]]]}', "lists exercise list, which this course does not have"),
    ('{"exercises": [true]}', "lists exercise true, which this course does not have"),
    ('{"exercises": [99]}', "lists exercise 99, which this course does not have"),
    ("\udcff not utf-8", "is not valid JSON"),
])
@pytest.mark.parametrize("command", [["grade"], ["solve", "--all"]])
def test_a_bad_course_json_is_one_sentence(kit, content, says, command, capsys):
    (kit / "course.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    err = fails_in_one_sentence([command[0], kit, *command[1:]], capsys)
    assert says in err and "course.json" in err


def test_a_fifo_named_course_json_does_not_hang(kit):
    os.mkfifo(kit / "course.json")
    for command in (["grade"], ["solve", "--all"]):
        proc = subprocess.run([sys.executable, "-m", "tiny_mmmlp.course", command[0], str(kit), *command[1:]],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "course.json: it is not a regular file" in proc.stderr


def test_bad_output_paths_are_reported_before_grading(tmp_path, capsys):
    kits.new(tmp_path / "hw", [3])
    hw = tmp_path / "hw"
    err = fails_in_one_sentence(["grade", hw, "--exercises", "3", "--json", tmp_path / "no" / "r.json"], capsys)
    assert "--json" in err and "does not exist" in err
    err = fails_in_one_sentence(["grade", hw, "--exercises", "3", "--gradescope", tmp_path], capsys)
    assert "--gradescope" in err and "is a folder" in err
    err = fails_in_one_sentence(["grade", hw, "--json", tmp_path / "a.json", "--gradescope",
                                 tmp_path / "a.json"], capsys)
    assert "name the same file" in err
    err = fails_in_one_sentence(["grade", hw, "--manifest", tmp_path / "missing.json"], capsys)
    assert "missing.json: cannot open it" in err


# ------------------------------------------------------------------ the boundary format


def test_plain_round_trip(tmp_path):
    tree = {"results": [{"value": (np.arange(6.0).reshape(2, 3), None, [1, 2.5, True, "text"])},
                        {"raised": "ValueError: no"}],
            "odd": object(), "strings": np.array(["a", "b"]), "objects": np.array([None, 1], dtype=object)}
    plain.save(tmp_path / "t.npz", tree)
    back = plain.load(tmp_path / "t.npz")
    value = back["results"][0]["value"]
    assert isinstance(value, tuple) and np.array_equal(value[0], tree["results"][0]["value"][0])
    assert value[1] is None and value[2] == [1, 2.5, True, "text"]
    assert back["results"][1] == {"raised": "ValueError: no"}
    assert [plain.type_name(back[k]) for k in ("odd", "strings", "objects")] == ["object", "ndarray", "ndarray"]
    assert not (tmp_path / "t.npz.part").exists()


def _npz(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


TREE = _npy(np.frombuffer(b'["array", "a0"]', dtype=np.uint8))


@pytest.mark.parametrize("name, data, says", [
    ("garbage", b'{"passed": true}', "not an .npz file"),
    ("pickled", _npz({"__tree__.npy": TREE, "a0.npy": _npy(np.array([{"x": 1}], dtype=object), True)}),
     "not an array of numbers"),
    ("compressed", _npz({"__tree__.npy": TREE, "a0.npy": _npy(np.zeros(3))}, zipfile.ZIP_DEFLATED), "compressed"),
    ("lying header", _npz({"__tree__.npy": TREE, "a0.npy": _npy(np.zeros(3))[:-8]}), "shorter than its header"),
    ("no tree", _npz({"a0.npy": _npy(np.zeros(3))}), "holds no tree"),
    ("deep tree", _npz({"__tree__.npy": _npy(np.frombuffer(b'["list", [' * 40 + b'["none"]' + b']]' * 40,
                                                           dtype=np.uint8))}), "nested more than"),
])
def test_plain_load_refuses_what_it_did_not_write(tmp_path, name, data, says):
    path = tmp_path / "x.npz"
    path.write_bytes(data)
    with pytest.raises(plain.Unreadable, match=says):
        plain.load(path)


def test_plain_load_refuses_links_fifos_and_big_files(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"\0" * 2048)
    for name, says in (("fifo", "not a regular file"), ("link", "cannot open it"), ("big", "more than 1024")):
        with pytest.raises(plain.Unreadable, match=says):
            plain.load(tmp_path / name, max_bytes=1024)


# ------------------------------------------------------------------ honest output


def test_messages_are_one_line_with_control_characters_escaped():
    sneaky = "X\n\x1b[8mtotal: 13/13 points\x1b[0m\r\u202eevil\u2028"
    line = one_line(sneaky)
    assert line == "X\\n\\x1b[8mtotal: 13/13 points\\x1b[0m\\r\\u202eevil\\u2028"
    assert len(one_line("é" * 1000)) == 400
    result = {"exercise": 3, "function": "f", "points": 2, "passed": False, "message": sneaky, "flags": [sneaky]}
    lines = table([result], notes=[sneaky]).splitlines()
    assert len(lines) == 5 and [line for line in lines if line.startswith("total:")] == [lines[-1]]
    assert json.dumps(lines).count("\\u001b") == 0
