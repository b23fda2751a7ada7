"""The documentation: a README short enough to read, links that lead somewhere, and text that
speaks of the software (no issue numbers or work-session ordinals in any file outside tests/)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
ORDINALS = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
            "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
            "[0-9]+th")
NARRATION = re.compile(rf"issue [0-9]+|\b({ORDINALS}) session", re.IGNORECASE)
TEXT = {".py", ".md", ".toml", ".sh", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".json"}
SKIP = {".git", "tests", "runs", "out", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache",
        ".hypothesis", ".ipynb_checkpoints", "node_modules"}


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_of_the_repository(page):
    missing = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue                                   # https:, mailto:, an anchor on the page
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def _project_files():
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP or p.endswith(".egg-info") for p in parts[:-1]) or parts[0] in SKIP:
            continue
        if path.is_file() and path.suffix in TEXT:
            yield path


def test_no_file_outside_tests_narrates_the_work():
    found = []
    for path in _project_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if NARRATION.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not found, "text that narrates the work instead of describing the software:\n" + "\n".join(found)


def test_the_narration_pattern_catches_what_it_is_for():
    assert NARRATION.search("as issue 12 asked") and NARRATION.search("the Fourteenth session's runs")
    assert NARRATION.search("in the 19th session")
    assert not NARRATION.search("start_new_session=True") and not NARRATION.search("users buy in sessions")
