"""Amazon review categories as built-in sources: ``amazon2018:<Category>``, ``amazon2023:<Category>``.

    ds = data.load("amazon2018:Industrial_and_Scientific")            # reviews + metadata, once
    ds = data.load("amazon2018:Industrial_and_Scientific", pictures=True)   # and one picture per item

The first use downloads the category's 5-core review file and its metadata file
(download.py: progress bar, resumed from ``.part`` files, refused above ``max_download_mb``,
checked to be reviews or metadata) into ``<cache>/downloads/<release>/``, converts them
(amazon_raw.py: 5-core filter, chronological order, title, categories and brand as side
fields, picture URLs) into ``<cache>/datasets/<release>-<Category>@<VERSION>/`` (built in a
temporary folder and renamed), and every later use reads that folder without the network.
``pictures=True`` also fetches the pictures into its ``images/`` folder; failures are counted,
listed in ``images/failed.tsv`` and reported, never fatal.

``$TINY_MMMLP_AMAZON_MIRROR`` replaces the server's address (a mirror, or a local test server).
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import warnings
from pathlib import Path

from ..errors import UserError
from ..files import building_folder, default_cache_dir
from .download import (
    HOME,
    MAX_DOWNLOAD_MB,
    PATHS,
    FetchError,
    Refused,
    TooLarge,
    check_raw_file,
    fetch,
    fetch_pictures,
    naming_bad_raw_files,
    remote_size,
)

VERSION = "v1"                 # bump when the conversion changes (a new cache folder)
MIRROR_ENV = "TINY_MMMLP_AMAZON_MIRROR"
RELEASES = {"amazon2018": "2018", "amazon2023": "2023"}
MAX_PICTURES = 20000           # pictures fetched per data set at most
KCORE = 5
CATEGORIES = {
    "amazon2018": (
        "AMAZON_FASHION", "All_Beauty", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Books",
        "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music",
        "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food", "Home_and_Kitchen",
        "Industrial_and_Scientific", "Kindle_Store", "Luxury_Beauty", "Magazine_Subscriptions",
        "Movies_and_TV", "Musical_Instruments", "Office_Products", "Patio_Lawn_and_Garden",
        "Pet_Supplies", "Prime_Pantry", "Software", "Sports_and_Outdoors",
        "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games"),
    "amazon2023": (
        "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive",
        "Baby_Products", "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl",
        "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics",
        "Gift_Cards", "Grocery_and_Gourmet_Food", "Handmade_Products", "Health_and_Household",
        "Health_and_Personal_Care", "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store",
        "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
        "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
        "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games"),
}
# compressed sizes in bytes (reviews, metadata) as recorded by a third party's download of the
# 2018 files; the server's own figure (a HEAD request) is shown instead whenever it answers
KNOWN_SIZES = {
    ("amazon2018", "Industrial_and_Scientific"): (11_000_000, 83_750_000),
    ("amazon2018", "Office_Products"): (111_790_000, 514_240_000),
}
NAMES = "amazon2018:<Category> or amazon2023:<Category>"


def parse_source(source) -> tuple[str, str] | None:
    """``("amazon2018", "Industrial_and_Scientific")`` for an Amazon source name, else None.

    A name that starts like one but names no known category is a ``UserError``.
    """
    release, sep, category = str(source).partition(":")
    if not sep or release not in RELEASES:
        return None
    if category not in CATEGORIES[release]:
        close = [c for c in CATEGORIES[release] if c.lower() == category.lower()]
        hint = f"did you mean {release}:{close[0]}?" if close else \
            f"the categories are {', '.join(CATEGORIES[release])}."
        raise UserError(f"{source}: {release} has no category {category!r}; {hint}")
    return release, category


def urls(release: str, category: str) -> tuple[str, str]:
    """(reviews URL, metadata URL), below ``$TINY_MMMLP_AMAZON_MIRROR`` when it is set."""
    home = os.environ.get(MIRROR_ENV, "").rstrip("/") or HOME
    return tuple(f"{home}/{p.format(category=category)}" for p in PATHS[RELEASES[release]])


def raw_paths(release: str, category: str, cache_dir=None) -> list:
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "downloads" / release
    return [folder / Path(urllib.parse.urlsplit(u).path).name for u in urls(release, category)]


def dataset_folder(release: str, category: str, cache_dir=None) -> Path:
    root = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "datasets"
    return root / f"{release}-{category}@{VERSION}"


def is_ready(source: str, cache_dir=None) -> bool:
    """Whether the category is downloaded and converted already (nothing to fetch but pictures)."""
    release, category = parse_source(source)
    return (dataset_folder(release, category, cache_dir) / f"{release}-{category}.inter").is_file()


def reachable(source: str, timeout: float = 5.0, cache_dir=None) -> bool:
    """Whether the category is in the cache already or its server answers now (a HEAD request)."""
    if is_ready(source, cache_dir):
        return True
    release, category = parse_source(source)
    try:
        remote_size(urls(release, category)[0], timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


def _mb(n: int | None) -> str:
    return "size unknown" if n is None else f"{n / 1e6:,.1f} MB"


def sizes(release: str, category: str, ask_server: bool = True) -> tuple[list, str]:
    """The two files' sizes in bytes (None where unknown) and where the figures come from."""
    if ask_server:
        try:
            found = [remote_size(u, timeout=10) for u in urls(release, category)]
            if all(s is not None for s in found):
                return found, "as the server states them"
        except (urllib.error.URLError, OSError, ValueError):
            pass
    known = KNOWN_SIZES.get((release, category))
    if known and not os.environ.get(MIRROR_ENV):
        return list(known), ("as an earlier download recorded them (the server did not answer)"
                             if ask_server else "as an earlier download recorded them")
    return [None, None], "unknown until the server is reached"


def describe_plan(source: str, cache_dir=None, ask_server: bool = True,
                  max_download_mb: int = MAX_DOWNLOAD_MB) -> str:
    """What ``load(source)`` will fetch and where it goes, before anything is fetched."""
    release, category = parse_source(source)
    folder = dataset_folder(release, category, cache_dir)
    done = is_ready(source, cache_dir)
    raw = raw_paths(release, category, cache_dir)
    found, origin = ([None, None], "") if done else sizes(release, category, ask_server)
    lines = [f"source        {source}: Amazon reviews {RELEASES[release]}, the {category} category"]
    for what, url, path, size in zip(("reviews", "metadata"), urls(release, category), raw, found):
        state = "in the cache" if path.is_file() else _mb(size)
        lines.append(f"{what:13s} {url}  ({state})")
    if not done:
        total = sum(s for s in found if s is not None)
        lines.append(f"download      {_mb(total) if all(found) else 'size unknown'} {origin}; each file "
                     f"at most {max_download_mb:,} MB (--max-download-mb), resumed if interrupted")
    lines.append(f"raw files     {raw[0].parent}")
    lines.append(f"converted     {folder}  ({'ready' if done else 'not yet'}; {KCORE}-core, "
                 f"chronological, title / categories / brand as side fields)")
    lines.append(f"pictures      one per item with pictures=True / --pictures, at most {MAX_PICTURES:,}, "
                 f"{_picture_state(folder)}")
    return "\n".join(lines)


def _picture_state(folder: Path) -> str:
    images = folder / "images"
    if (images / "manifest.tsv").is_file():
        n = sum(1 for p in images.iterdir() if p.suffix in (".jpg", ".jpeg", ".png"))
        return f"{n:,} fetched into {images}"
    return "not fetched yet"


def _offline(source, release, category, reason, cache_dir) -> UserError:
    found, _ = sizes(release, category, ask_server=False)
    size = f"about {_mb(sum(found))}" if all(found) else "its reviews and metadata files"
    return UserError(f"{source}: cannot reach the server ({reason}); this data set needs the network "
                     f"once, to download {size} into {raw_paths(release, category, cache_dir)[0].parent}, "
                     f"and works offline after that, while --data toyshop works offline now.")


def _download(source, release, category, cache_dir, progress, max_download_mb) -> tuple[list, list]:
    """(raw files, whether this call fetched each)."""
    out, created = [], []
    for url, dest in zip(urls(release, category), raw_paths(release, category, cache_dir)):
        existed = dest.exists()
        try:
            fetch(url, dest, retries=3, wait=2.0, timeout=60.0, progress=progress,
                  max_bytes=max_download_mb * 1_000_000)
        except TooLarge as err:
            raise UserError(f"{source}: refused {err} ({max_download_mb:,} MB; raise max_download_mb, "
                            f"--max-download-mb, to allow it); nothing of it was kept.") from None
        except Refused as err:
            raise UserError(f"{source}: refused {err}.") from None
        except FetchError as err:
            if err.status is None and not dest.with_name(dest.name + ".part").exists():
                raise _offline(source, release, category, str(err).split(": ", 1)[-1], cache_dir) from None
            raise UserError(f"{source}: could not download {err}; rerun to resume "
                            f"(what has arrived is kept in {dest.parent}).") from None
        check_raw_file(dest, url, created=not existed)
        out.append(dest)
        created.append(not existed)
    return out, created


def ensure_amazon(source: str, cache_dir=None, pictures: bool = False, progress: bool = True,
                  max_download_mb: int = MAX_DOWNLOAD_MB) -> tuple[Path, str]:
    """(folder, data set name) of the converted category, downloading and converting it once."""
    from .amazon_raw import convert

    release, category = parse_source(source)
    folder = dataset_folder(release, category, cache_dir)
    name = f"{release}-{category}"
    if not (folder / f"{name}.inter").is_file():
        (reviews, meta), created = _download(source, release, category, cache_dir, progress, max_download_mb)
        if progress:
            print(f"{source}: converting (5-core, chronological) ...", file=sys.stderr)
        with naming_bad_raw_files([reviews, meta], created), building_folder(folder) as tmp:
            summary = convert(reviews, meta, tmp, name=name, kcore=KCORE)
        if progress:
            print(summary.replace(str(tmp), str(folder)), file=sys.stderr)
    if pictures and not (folder / "images" / "manifest.tsv").is_file():
        fetched, failed = fetch_pictures(folder, max_images=MAX_PICTURES, workers=8, retries=2,
                                         retry_wait=1.0, timeout=30.0, progress=progress,
                                         trusted_from=urls(release, category))
        if failed:
            warnings.warn(f"{source}: {failed:,} of {fetched + failed:,} pictures could not be fetched "
                          f"(listed in {folder / 'images' / 'failed.tsv'}); those items have no picture.")
        elif progress:
            print(f"{source}: {fetched:,} pictures in {folder / 'images'}", file=sys.stderr)
    return folder, name
