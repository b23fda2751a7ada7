"""Convert raw Amazon review releases into the RecBole atomic form.

Supported inputs (each one object a line, plain or gzipped):
- 2018 reviews: ``reviewerID``, ``asin``, ``unixReviewTime`` (seconds); metadata JSON with
  ``asin``, ``title`` (HTML entities), ``brand``, ``category``, ``imageURLHighRes``/``imageURL``.
- 2014 metadata: Python literals (single quotes, ``imUrl``, ``categories`` as lists of lists),
  read with ``ast.literal_eval`` (never ``eval``).
- 2023 reviews: ``user_id``, ``parent_asin``, ``timestamp`` (milliseconds), as JSONL or as the
  5-core benchmark's CSV (header ``user_id,parent_asin,rating,timestamp``); metadata JSONL with
  ``parent_asin``, ``title``, ``main_category``, ``categories``, ``store``, ``images``.

Output: ``<name>.inter``, ``<name>.item`` (title, categories, brand) and ``image_urls.tsv``
(item id, picture URL) for the downloader. Each file is written atomically.
"""
from __future__ import annotations

import ast
import html
import json
import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..files import write_text
from .kcore import kcore_mask
from .recbole import write_atomic_files
from .textfile import csv_fields, iter_lines

MAX_SECONDS = 1e13       # seconds since 1970: a timestamp beyond it is a damaged number
# a line that is not JSON is read as a Python literal only up to this length: the parser's
# memory grows about 500 bytes a character (128 KiB: about 70 MB), and a 2014 record is a few KB
MAX_LITERAL_CHARS = 128 << 10


def parse_object(text: str, path: Path, number: int) -> dict:
    """One line as a dict: JSON first, then a Python literal (2014 metadata)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as err:      # ValueError: also an integer of over 4300 digits
        why = (f"{err.msg} at column {err.colno}" if isinstance(err, json.JSONDecodeError)
               else "nested too deeply" if isinstance(err, RecursionError) else "a number too long to read")
        if len(text) > MAX_LITERAL_CHARS:
            raise UserError(f"{path} line {number}: is not JSON ({why}), and at {len(text):,} characters "
                            f"too long to read as a Python literal (at most {MAX_LITERAL_CHARS:,}).")
        try:
            obj = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise UserError(f"{path} line {number}: is neither JSON nor a Python literal ({why}).") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path} line {number}: expected one object per line, got {type(obj).__name__}.")
    return obj


def _token(value, path: Path, number: int, field: str) -> str:
    """A user or item id: a non-empty string (or integer) without tabs or newlines."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UserError(f"{path} line {number}: {field} is a {type(value).__name__}; expected a string.")
    token = " ".join(str(value).split())
    if not token:
        raise UserError(f"{path} line {number}: {field} is empty.")
    return token


def _seconds(value, scale: float, path: Path, number: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UserError(f"{path} line {number}: {field} is a {type(value).__name__}; expected a number.")
    shown = _shown(value)
    try:
        seconds = float(value) / scale
    except ValueError:
        raise UserError(f"{path} line {number}: {field} {shown} is not a number.") from None
    except OverflowError:                             # an integer too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise UserError(f"{path} line {number}: {field} {shown} is not a finite number of "
                        f"seconds since 1970 (at most {MAX_SECONDS:.0e}).")
    return seconds


def _shown(value) -> str:
    """``value`` for an error sentence: its first 40 characters (an integer's digits counted)."""
    if isinstance(value, int) and abs(value).bit_length() > 13000:   # str() refuses over 4300 digits
        return "(an integer of thousands of digits)"
    text = str(value) if isinstance(value, int) else repr(value)
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text):,} characters)"


class _Spellings:
    """Ids as read (whitespace collapsed): two spellings that collapse to one id are refused."""

    def __init__(self, path: Path):
        self.path, self.seen = path, {}

    def __call__(self, value, number: int, field: str) -> str:
        token = _token(value, self.path, number, field)
        raw = str(value)
        first = self.seen.setdefault(token, raw)
        if first != raw:
            raise UserError(f"{self.path} line {number}: {field} {raw[:40]!r} differs from "
                            f"{first[:40]!r} only in white space; make each id one spelling.")
        return token


def _read_csv_reviews(path: Path, lines, header: str) -> list:
    """The 2023 benchmark CSV: ``user_id,parent_asin,rating,timestamp`` (milliseconds)."""
    names = csv_fields(header, path, 1)
    missing = [f for f in ("user_id", "parent_asin", "timestamp") if f not in names]
    if missing:
        raise UserError(f"{path} line 1: the CSV header lacks {', '.join(missing)} (found {header!r}).")
    u, i, t = (names.index(f) for f in ("user_id", "parent_asin", "timestamp"))
    out = []
    user_id, item_id = _Spellings(path), _Spellings(path)
    for number, text in lines:
        if not text.strip():
            continue
        row = csv_fields(text, path, number)
        if len(row) != len(names):
            raise UserError(f"{path} line {number}: has {len(row)} comma-separated fields but the "
                            f"header has {len(names)}.")
        out.append((user_id(row[u], number, "user_id"), item_id(row[i], number, "parent_asin"),
                    _seconds(row[t], 1000.0, path, number, "timestamp")))
    return out


def read_reviews(path: Path) -> list:
    """``(user, item, seconds)`` triples in file order, from a 2014/2018 or 2023 review file."""
    out = []
    user_id, item_id = _Spellings(path), _Spellings(path)
    lines = iter_lines(path)
    for number, text in lines:
        if number == 1 and text.startswith("user_id,"):
            return _read_csv_reviews(path, lines, text)
        if not text.strip():
            continue
        r = parse_object(text, path, number)
        try:
            if "reviewerID" in r:
                out.append((user_id(r["reviewerID"], number, "reviewerID"),
                            item_id(r["asin"], number, "asin"),
                            _seconds(r["unixReviewTime"], 1.0, path, number, "unixReviewTime")))
            else:
                item = r.get("parent_asin") or r["asin"]
                out.append((user_id(r["user_id"], number, "user_id"),
                            item_id(item, number, "parent_asin"),
                            _seconds(r["timestamp"], 1000.0, path, number, "timestamp")))
        except KeyError:
            raise UserError(f"{path} line {number}: a review needs reviewerID, asin and "
                            f"unixReviewTime (2018) or user_id, parent_asin and timestamp (2023).") from None
    return out


def _first_image(m: dict) -> str:
    """The first picture URL, if it is http(s) (never file:// or other schemes from data)."""
    candidates = []
    for key in ("imageURLHighRes", "imageURL"):
        urls = m.get(key)
        if isinstance(urls, list) and urls:
            candidates.append(urls[0])
    candidates.append(m.get("imUrl"))
    for image in m.get("images") or []:
        if isinstance(image, dict):
            candidates.append(image.get("large") or image.get("hi_res") or image.get("thumb"))
    for url in candidates:
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url.split() == [url]:
            return url
    return ""


def _categories(m: dict) -> list:
    raw = m.get("category") or m.get("categories") or []
    flat = [c for group in raw for c in (group if isinstance(group, list) else [group])]
    if m.get("main_category"):
        flat = [m["main_category"]] + flat
    seen = dict.fromkeys("_".join(html.unescape(str(c)).split()) for c in flat if str(c).strip())
    return list(seen)


def read_metadata(path: Path, wanted: set | None = None) -> dict:
    """item id -> ``{"title", "categories", "brand", "image"}``, for the ``wanted`` items (default all)."""
    meta = {}
    for number, text in iter_lines(path):
        if not text.strip():
            continue
        m = parse_object(text, path, number)
        item = m.get("parent_asin") or m.get("asin")
        if not item:
            raise UserError(f"{path} line {number}: metadata needs an asin (2018) or parent_asin (2023).")
        token = _token(item, path, number, "asin")
        if wanted is not None and token not in wanted:
            continue
        try:
            meta[token] = {
                "title": " ".join(html.unescape(str(m.get("title") or "")).split()),
                "categories": " ".join(_categories(m)),
                "brand": "_".join(html.unescape(str(m.get("brand") or m.get("store") or "")).split()),
                "image": _first_image(m),
            }
        except (TypeError, AttributeError, ValueError):
            raise UserError(f"{path} line {number}: a metadata field has the wrong JSON type "
                            f"(category, categories and images must be lists).") from None
    return meta


def convert(reviews, meta, out, name: str | None = None, kcore: int | None = None) -> str:
    """Convert raw files into ``out/<name>.inter`` + ``.item``; returns a one-line summary."""
    from .safe_names import check_name
    reviews, out = Path(reviews), Path(out)
    name = check_name(name or out.name)
    triples = read_reviews(reviews)
    user_index, item_index = {}, {}
    users = np.array([user_index.setdefault(u, len(user_index)) for u, _, _ in triples], dtype=np.int64)
    items = np.array([item_index.setdefault(i, len(item_index)) for _, i, _ in triples], dtype=np.int64)
    keep = kcore_mask(users, items, kcore) if len(triples) else np.zeros(0, dtype=bool)
    if not keep.any():
        what = f" after the {kcore}-core filter" if kcore and kcore > 1 else ""
        raise UserError(f"{reviews}: no reviews left{what}.")
    kept = [t for t, k in zip(triples, keep) if k]
    item_ids = list(dict.fromkeys(i for _, i, _ in kept))
    metadata = read_metadata(Path(meta), wanted=set(item_ids)) if meta else {}
    blank = {"title": "", "categories": "", "brand": "", "image": ""}
    info = [metadata.get(i, blank) for i in item_ids]
    header = [("item_id", "token")]
    columns = [("title", "token_seq"), ("categories", "token_seq"), ("brand", "token")]
    header += [(f, t) for f, t in columns if any(x[f] for x in info)]
    rows = [[i] + [x[f] for f, _ in header[1:]] for i, x in zip(item_ids, info)]
    out.mkdir(parents=True, exist_ok=True)
    write_atomic_files(out, name, kept, rows, header)
    urls = [f"{i}\t{x['image']}" for i, x in zip(item_ids, info) if x["image"]]
    if urls:
        write_text(out / "image_urls.tsv", "\n".join(urls) + "\n")
    return (f"{out}: {len(set(u for u, _, _ in kept)):,} users, {len(item_ids):,} items, "
            f"{len(kept):,} interactions, {len(urls):,} picture URLs")
