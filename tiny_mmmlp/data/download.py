"""Download an Amazon review category (2018 or 2023 release) and its product pictures.

    python -m tiny_mmmlp.data download --release 2018 --category Industrial_and_Scientific --out data/sci

Steps: fetch the 5-core review file (2023: the benchmark's rating-only CSV) and the metadata files into ``<out>/raw/`` (progress bar, retries,
resume with HTTP Range from ``*.part`` files, renamed into place only when complete), convert
them into ``<out>/<name>.inter`` + ``.item`` (amazon_raw.py), then fetch every item's picture
into ``<out>/images/<safe_stem(item_id)>.jpg`` (safe_names.py: an id like ``../x`` is hashed,
never used as a path) and list them in ``<out>/images/manifest.tsv`` (item id, file, URL).
A picture that cannot be fetched is listed in ``<out>/images/failed.tsv`` and never stops
the run; the downloader deletes only files that it created in this run. A raw file that
is not reviews or metadata (an HTML error page, say) is refused and, if this run fetched
it, deleted, so a rerun fetches it again. Every URL can be overridden by a flag.
"""
from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ..cli import non_negative_int, positive_int, seconds
from ..errors import UserError
from ..files import write_text
from ..progress import bar
from .images import open_picture
from .safe_names import safe_stem
from .textfile import first_bytes

HOME = "https://mcauleylab.ucsd.edu/public_datasets/data"
# (reviews, metadata) below HOME: the 5-core review files (2023: the benchmark's rating-only CSV)
PATHS = {
    "2018": ("amazon_v2/categoryFilesSmall/{category}_5.json.gz", "amazon_v2/metaFiles2/meta_{category}.json.gz"),
    "2023": ("amazon_2023/benchmark/5core/rating_only/{category}.csv.gz",
             "amazon_2023/raw/meta_categories/meta_{category}.jsonl.gz"),
}
URLS = {release: tuple(f"{HOME}/{p}" for p in paths) for release, paths in PATHS.items()}
RETRYABLE_HTTP = {408, 429, 500, 502, 503, 504}
MAX_DOWNLOAD_MB = 2048            # per raw file; larger metadata files are refused unless raised
MIN_RATE = 16 << 10               # bytes a second: after --timeout seconds, a slower transfer is stopped
SCHEMES = ("http", "https")       # the only ones fetched, redirects included
MAX_WAIT = 3600.0                 # --retry-wait and --timeout: at most an hour
PICTURE_MAX_BYTES = 20 << 20      # a product picture larger than 20 MB is refused
PICTURE_SLACK_BYTES = 1 << 20     # and one larger than twice its raw pixels plus this (metadata)


class FetchError(Exception):
    """A URL could not be fetched after all retries; ``status`` is the HTTP status, None if no answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class TooLarge(FetchError):
    """The server offers (or sent) more bytes than the caller allows: refused, never retried."""


class Refused(FetchError):
    """An address that is never fetched (a scheme other than http(s), a private address for a
    picture), at first or after a redirect: refused, never retried."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) addresses only (urllib's own also follows ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl)).scheme.lower()
        if scheme not in SCHEMES:
            raise Refused(f"{req.full_url}: redirects to a {scheme or 'schemeless'} address; only http and "
                          f"https are fetched")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _check_public(host: str, address: str) -> None:
    """Refuse ``address`` (what ``host`` resolved to) unless it is a public internet address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise Refused(f"{host} is {ip}, not a public address; pictures are fetched from public addresses only")


def _trusted_pairs(netlocs) -> set:
    """{(host, port)} of the netlocs given (no port: the http and https ones)."""
    pairs = set()
    for netloc in netlocs:
        parts = urllib.parse.urlsplit(f"//{netloc}")
        pairs |= {(parts.hostname, p) for p in ([parts.port] if parts.port else [80, 443])}
    return pairs


def _public_connection(base, trusted: set):
    class Public(base):
        """A connection whose host must resolve to, and connect to, public addresses only
        (a host of ``trusted``, the server the user chose, aside)."""

        def connect(self):
            if (self.host, self.port) in trusted:
                return super().connect()
            for *_, sockaddr in socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM):
                _check_public(self.host, sockaddr[0])
            super().connect()
            if not getattr(self, "_tunnel_host", None):       # through a proxy the peer is the proxy
                _check_public(self.host, self.sock.getpeername()[0])
    return Public


class _PublicHTTP(urllib.request.HTTPHandler):
    def __init__(self, trusted: set):
        super().__init__()
        self.trusted = trusted

    def http_open(self, req):
        return self.do_open(_public_connection(http.client.HTTPConnection, self.trusted), req)


class _PublicHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, trusted: set):
        super().__init__()
        self.trusted = trusted

    def https_open(self, req):
        return self.do_open(_public_connection(http.client.HTTPSConnection, self.trusted), req,
                            context=self._context)


def opener(public_only: bool = False, trusted: tuple = ()):
    """The one way this package opens a URL: http(s) only, redirects included; ``public_only``:
    every host, the first and each one redirected to, must resolve to public addresses (a
    picture URL from someone else's metadata never reaches this machine's loopback, the local
    network or a cloud metadata service), except the ``trusted`` netlocs (host[:port])."""
    pairs = _trusted_pairs(trusted)
    handlers = [_Redirects()] + ([_PublicHTTP(pairs), _PublicHTTPS(pairs)] if public_only else [])
    return urllib.request.build_opener(*handlers)


def open_url(url: str, timeout: float, public_only: bool = False, trusted: tuple = (), **request):
    """``opener(public_only, trusted).open`` of ``url`` (a ``Request`` with these keywords),
    refusing any scheme but http(s) before a byte is sent."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"{url}: only http and https addresses are fetched, not {scheme or 'a bare name'}")
    headers = {"User-Agent": "tiny_mmmlp", **request.pop("headers", {})}
    return opener(public_only, trusted).open(urllib.request.Request(url, headers=headers, **request),
                                             timeout=timeout)


def add_download_arguments(p) -> None:
    p.add_argument("--release", choices=sorted(URLS), default="2018",
                   help="which Amazon reviews release to fetch (default: 2018)")
    p.add_argument("--category", default=None, help="e.g. Industrial_and_Scientific (2018), All_Beauty (2023)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default=None, help="data set name (default: the folder name)")
    p.add_argument("--reviews-url", default=None, help="override the reviews file URL")
    p.add_argument("--meta-url", default=None, help="override the metadata file URL")
    p.add_argument("--kcore", type=non_negative_int, default=5, help="k-core filter after download (0 = none; default 5)")
    p.add_argument("--max-download-mb", type=positive_int, default=MAX_DOWNLOAD_MB,
                   help=f"refuse a raw file larger than this many MB (default {MAX_DOWNLOAD_MB})")
    p.add_argument("--no-images", action="store_true", help="skip the product pictures")
    p.add_argument("--max-images", type=non_negative_int, default=None, help="fetch at most this many pictures")
    p.add_argument("--workers", type=positive_int, default=8, help="parallel picture downloads (default 8)")
    p.add_argument("--retries", type=positive_int, default=4, help="attempts per file (default 4)")
    p.add_argument("--retry-wait", type=seconds(MAX_WAIT), default=2.0,
                   help="seconds before the first retry, doubling after each (default 2)")
    p.add_argument("--timeout", type=seconds(MAX_WAIT, positive=True), default=60.0,
                   help="seconds a file may wait for the server before its bytes flow (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _refuse(url: str, part: Path, size: int, max_bytes: int) -> None:
    part.unlink(missing_ok=True)
    raise TooLarge(f"{url}: {size:,} bytes, more than the limit of {max_bytes:,}", status=None)


def _content_range(response_or_error) -> tuple[int | None, int | None]:
    """(first byte, total size) from a ``Content-Range`` header (``bytes A-B/N`` or ``bytes */N``)."""
    header = (response_or_error.headers.get("Content-Range") or "").strip()
    unit, _, spec = header.partition(" ")
    if unit != "bytes":
        return None, None
    span, _, total = spec.partition("/")
    start = span.split("-")[0]
    return (int(start) if start.isdigit() else None), (int(total) if total.isdigit() else None)


def _fetch_once(url: str, dest: Path, timeout: float, progress: bool, max_bytes: int | None,
                public_only: bool = False, trusted: tuple = ()) -> None:
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    again = lambda: _fetch_once(url, dest, timeout, progress, max_bytes, public_only, trusted)   # noqa: E731
    try:
        response = open_url(url, timeout, public_only, trusted,
                            headers={"Range": f"bytes={offset}-"} if offset else {})
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:      # nothing past the .part: complete only if the sizes agree
            _, total = _content_range(err)
            err.close()
            if total == offset:
                os.replace(part, dest)
                return
            part.unlink(missing_ok=True)      # the .part is not a prefix of this file: start over
            return again()
        raise
    with response:
        total = None
        if response.status == 206:
            start, total = _content_range(response)
            if start != offset:              # a range other than the one asked for: never append it
                part.unlink(missing_ok=True)
                if offset == 0:
                    raise http.client.HTTPException(f"the server sent bytes from {start}, not from 0")
                response.close()
                return again()
        else:
            offset = 0                       # server ignored Range: start over
        length = response.headers.get("Content-Length")
        if total is None and length is not None and length.isdigit():
            total = offset + int(length)
        if max_bytes is not None and total is not None and total > max_bytes:
            _refuse(url, part, total, max_bytes)
        with open(part, "ab" if offset else "wb") as f, \
                bar(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name,
                    enabled=progress) as shown:
            written, start = offset, time.monotonic()
            while chunk := response.read1(1 << 16):      # what arrived, without waiting for 64 KiB
                written += len(chunk)
                elapsed = time.monotonic() - start
                if elapsed > timeout + (written - offset) / MIN_RATE:     # a trickle: the deadline is overall
                    raise TimeoutError(f"{written - offset:,} bytes in {elapsed:.0f} s, slower than "
                                       f"{MIN_RATE // 1024} KiB/s")
                if max_bytes is not None and written > max_bytes:   # a server that lied or said nothing
                    f.close()
                    _refuse(url, part, written, max_bytes)
                f.write(chunk)
                shown.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size > total:   # more than the server said the file holds
        part.unlink(missing_ok=True)
        raise http.client.HTTPException(f"the server sent {size:,} bytes of a {total:,}-byte file")
    if total is not None and size < total:
        raise http.client.IncompleteRead(b"", total - size)
    os.replace(part, dest)


def fetch(url: str, dest: Path, retries: int = 4, wait: float = 2.0, timeout: float = 60.0,
          progress: bool = True, max_bytes: int | None = None, public_only: bool = False,
          trusted: tuple = ()) -> Path:
    """Download ``url`` to ``dest`` unless it exists; resume, retry with doubling waits.

    ``max_bytes`` bounds the file: a larger one is refused (``TooLarge``) before or while it
    arrives, and its ``.part`` file is deleted. ``timeout`` bounds each wait for the server,
    and the whole transfer too: after ``timeout`` seconds it must average ``MIN_RATE`` (a
    server that trickles a byte at a time is stopped). Only http(s) is fetched, redirects
    included; ``public_only``: only from public addresses (``Refused`` otherwise), the
    ``trusted`` netlocs aside.
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    status = None
    for attempt in range(1, max(retries, 1) + 1):
        try:
            _fetch_once(url, dest, timeout, progress, max_bytes, public_only, trusted)
            return dest
        except (TooLarge, Refused):
            raise
        except urllib.error.HTTPError as err:
            reason, status = f"HTTP {err.code}", err.code
            if err.code not in RETRYABLE_HTTP:
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = str(getattr(err, "reason", err)) or type(err).__name__
            if isinstance(getattr(err, "reason", None), socket.gaierror):
                break                            # the host's name does not resolve: offline
        except ValueError as err:                # not a URL urllib can open: no retry
            reason = str(err)
            break
        if attempt < retries:
            time.sleep(wait * 2 ** (attempt - 1))
    raise FetchError(f"{url}: {reason}", status)


def remote_size(url: str, timeout: float = 10.0) -> int | None:
    """The size the server states for ``url`` (a HEAD request), or None if it says nothing."""
    with open_url(url, timeout, method="HEAD") as response:
        length = response.headers.get("Content-Length")
    return int(length) if length is not None and length.isdigit() else None


def _fetch_picture(item: str, url: str, folder: Path, retries: int, retry_wait: float,
                   timeout: float, trusted: tuple = ()) -> str | None:
    """Fetch one picture; returns None on success or the reason it failed. Only from a public
    address, unless its host is one of ``trusted`` (the server the raw files came from)."""
    dest = picture_path(folder, item, url)
    existed = dest.exists()
    try:
        fetch(url, dest, retries, retry_wait, timeout, progress=False, max_bytes=PICTURE_MAX_BYTES,
              public_only=True, trusted=trusted)        # redirects to elsewhere are checked too
        with open_picture(dest) as im:
            im.verify()
            width, height, bands = im.width, im.height, len(im.getbands())
        bound = 2 * width * height * bands + PICTURE_SLACK_BYTES
        if dest.stat().st_size > bound:
            raise _Oversized(f"{dest.stat().st_size:,} bytes for a {width}x{height} picture "
                             f"(at most {bound:,}: bytes after the image)")
        return None
    except FetchError as err:
        return str(err)
    except _Oversized as err:
        if existed:
            return f"{dest.name} was already there and holds {err} (left in place)"
        dest.unlink(missing_ok=True)
        return f"not a picture alone: {err}"
    except Exception as err:  # noqa: BLE001 - a bad picture is recorded, never fatal
        if existed:                  # not ours: never delete a file this run did not create
            return f"{dest.name} was already there and is not a readable picture (left in place)"
        dest.unlink(missing_ok=True)
        return f"not a readable picture ({type(err).__name__})"


class _Oversized(Exception):
    """A picture file larger than its decoded pixels can explain."""


def picture_path(folder: Path, item: str, url: str) -> Path:
    """``folder/<safe_stem(item)>.jpg|jpeg|png``: always a direct child of ``folder``."""
    suffix = Path(url.split("?")[0]).suffix.lower()
    return folder / f"{safe_stem(item)}{suffix if suffix in ('.jpg', '.jpeg', '.png') else '.jpg'}"


def fetch_pictures(out: Path, max_images: int | None = None, workers: int = 8, retries: int = 4,
                   retry_wait: float = 2.0, timeout: float = 60.0, progress: bool = True,
                   trusted_from: tuple = ()) -> tuple[int, int]:
    """Fetch every picture listed in ``out/image_urls.tsv`` (at most ``max_images``, each at
    most ``PICTURE_MAX_BYTES``); returns (fetched, failed). A failure never stops the rest.
    A picture is fetched from a public address only, unless its host is that of one of the
    URLs ``trusted_from`` (the raw files' own server, which the user chose)."""
    trusted = tuple(urllib.parse.urlsplit(u).netloc for u in trusted_from)
    out = Path(out)
    listing = out / "image_urls.tsv"
    if not listing.is_file():
        return 0, 0
    pairs = [line.split("\t", 1) for line in listing.read_text("utf-8").splitlines() if "\t" in line]
    pairs = pairs[:max_images] if max_images is not None else pairs
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        jobs = {pool.submit(_fetch_picture, item, url, folder, retries, retry_wait, timeout, trusted): (item, url)
                for item, url in pairs}
        for job in bar(as_completed(jobs), total=len(jobs), desc="pictures", unit="img",
                       enabled=progress):
            if (reason := job.result()) is not None:
                failures.append((*jobs[job], reason))
    failures.sort()
    write_text(folder / "failed.tsv", "".join(f"{i}\t{u}\t{r}\n" for i, u, r in failures))
    failed = {i for i, _, _ in failures}
    write_text(folder / "manifest.tsv", "item_id\tfile\turl\n" + "".join(
        f"{i}\t{picture_path(folder, i, u).name}\t{u}\n" for i, u in pairs if i not in failed))
    return len(pairs) - len(failures), len(failures)


def check_raw_file(path: Path, url: str, created: bool) -> None:
    """Refuse a raw file that is not one JSON object or Python literal a line, nor the 2023
    benchmark's ``user_id,parent_asin,...`` CSV (an HTML error page, say)."""
    head = first_bytes(path, 256).lstrip()
    if head[:1] == b"{" or head.startswith(b"user_id,"):
        return
    what = repr(head[:20].decode("utf-8", "replace")) if head else "nothing"
    if created:
        path.unlink(missing_ok=True)
        raise UserError(f"{url}: the server sent {what}, not reviews or metadata (one JSON object "
                        f"a line, or a user_id,parent_asin CSV); nothing was kept, so a rerun fetches it again.")
    raise UserError(f"{path}: starts with {what}, not reviews or metadata; it was not written by "
                    f"this run, so it is left in place: delete it and rerun.")


@contextlib.contextmanager
def naming_bad_raw_files(files: list, created: list):
    """Around a conversion of raw files: one it refuses (the error names it) is deleted if this
    run fetched it, so a rerun fetches it again; else the sentence says to delete it. A cache
    never keeps a truncated or damaged download that fails the same way on every rerun."""
    try:
        yield
    except UserError as err:
        text = str(err)
        bad = [f for f in files if text.startswith((f"{f} line ", f"{f}: cannot be read"))]  # not a filter's
        if not bad:
            raise
        if created[files.index(bad[0])]:
            bad[0].unlink(missing_ok=True)
            what = "it was deleted, so a rerun fetches it again"
        else:
            what = f"it was not fetched by this run: delete {bad[0]} and rerun to fetch it again"
        raise UserError(f"{text.rstrip('.')}; {what}.") from None


def install_together(tmp: Path, out: Path) -> None:
    """Move the converted files of ``tmp`` into ``out`` so that a reader never sees a new
    ``.inter`` beside an old ``.item``: the old ``.inter`` goes first, the new one comes last
    (an interruption in between leaves no data set, never a mismatched one)."""
    new = sorted(tmp.iterdir(), key=lambda p: p.suffix == ".inter")
    for old in [out / p.name for p in new if p.suffix == ".inter"] + [out / "image_urls.tsv"]:
        if old.is_file() and not old.is_symlink():
            old.unlink()
    for path in new:
        os.replace(path, out / path.name)


def run_download(args) -> None:
    """The ``download`` command: raw files, conversion, pictures."""
    from .amazon_raw import convert

    if not (args.reviews_url and args.meta_url) and not args.category:
        raise UserError("--category is required unless both --reviews-url and --meta-url are given.")
    reviews_url = args.reviews_url or URLS[args.release][0].format(category=args.category)
    meta_url = args.meta_url or URLS[args.release][1].format(category=args.category)
    out = Path(args.out)
    raw = out / "raw"
    files, created = [], []
    for url in (reviews_url, meta_url):
        dest = raw / safe_stem(Path(url.split("?")[0]).name)
        existed = dest.exists()
        created.append(not existed)
        try:
            files.append(fetch(url, dest, args.retries, args.retry_wait, args.timeout, not args.quiet,
                               max_bytes=args.max_download_mb * 1_000_000))
        except TooLarge as err:
            raise UserError(f"refused {err} (--max-download-mb {args.max_download_mb:,}; raise it to allow "
                            f"the file); nothing of it was kept.") from None
        except FetchError as err:
            raise UserError(f"could not download {err} (after {args.retries} tries; rerun to resume).") from None
        check_raw_file(dest, url, created=not existed)
    with naming_bad_raw_files(files, created), tempfile.TemporaryDirectory(dir=out, prefix=".converting.") as tmp:
        summary = convert(files[0], files[1], tmp, name=args.name or out.resolve().name, kcore=args.kcore or None)
        install_together(Path(tmp), out)
    summary = summary.replace(str(tmp), str(out))
    print(summary)
    if not args.no_images:
        fetched, failed = fetch_pictures(out, args.max_images, args.workers, args.retries, args.retry_wait,
                                         args.timeout, progress=not args.quiet, trusted_from=(reviews_url, meta_url))
        note = f"; {failed:,} failed, listed in {out / 'images' / 'failed.tsv'}" if failed else ""
        print(f"{out / 'images'}: {fetched:,} pictures{note}")
