"""Describe, convert, download and featurize recommendation data sets.

    python -m tiny_mmmlp.data describe toyshop
    python -m tiny_mmmlp.data describe amazon2018:Industrial_and_Scientific   # what it will fetch
    python -m tiny_mmmlp.data describe amazon2018:Industrial_and_Scientific --fetch --pictures
    python -m tiny_mmmlp.data convert --reviews Industrial_and_Scientific_5.json.gz \\
        --meta meta_Industrial_and_Scientific.json.gz --out data/scientific --kcore 5
    python -m tiny_mmmlp.data download --release 2018 --category Industrial_and_Scientific --out data/scientific
    python -m tiny_mmmlp.data features toyshop          # build (or check) the cached feature tables
    python -m tiny_mmmlp.data features toyshop --image-encoder handmade --text-encoder hashed-bow
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import OneLineParser, non_negative_int, positive_int
from ..errors import UserError, exit_on_user_error
from ..progress import show_messages
from . import image_encoders, text
from .amazon_source import MAX_DOWNLOAD_MB, parse_source
from .load import SOURCES

CACHE_HELP = ("where generated and downloaded data sets and feature tables are kept "
              "(default: $TINY_MMMLP_CACHE or ~/.cache/tiny_mmmlp)")


IMAGE_ENCODER_HELP = image_encoders.HELP + " (default: auto)"
TEXT_ENCODER_HELP = text.HELP + " (default: auto)"


def add_source_arguments(p) -> None:
    """The flags every subcommand that loads a source shares."""
    p.add_argument("source", help=SOURCES)
    p.add_argument("--cache-dir", default=None, help=CACHE_HELP)
    p.add_argument("--pictures", action="store_true",
                   help="Amazon sources: also fetch one picture per item (once, into the cache)")
    p.add_argument("--max-download-mb", type=positive_int, default=MAX_DOWNLOAD_MB,
                   help=f"Amazon sources: refuse a raw file larger than this (default {MAX_DOWNLOAD_MB})")
    p.add_argument("--image-encoder", default="auto", help=IMAGE_ENCODER_HELP)
    p.add_argument("--text-encoder", default="auto", help=TEXT_ENCODER_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m tiny_mmmlp.data", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("describe", help="users, items, interactions, modalities, sequence lengths; "
                                        "for an Amazon source, first what it fetches")
    add_source_arguments(d)
    d.add_argument("--fetch", action="store_true",
                   help="Amazon sources: download what the plan shows, then describe the data set")
    d.add_argument("--kcore", type=non_negative_int, default=None,
                   help="k-core filter before describing, e.g. 5 (default: none)")
    d.add_argument("--strict", action="store_true", help="unknown items in .inter are an error")

    f = sub.add_parser("features", help="build the cached feature tables and print their shapes")
    add_source_arguments(f)
    f.add_argument("--modalities", default=None, help="comma-separated names (default: all)")

    c = sub.add_parser("convert", help="raw Amazon reviews + metadata, or a CSV/TSV of interactions -> "
                                       "RecBole atomic folder")
    given = c.add_mutually_exclusive_group(required=True)
    given.add_argument("--reviews", help="2018 JSON(.gz) or 2023 JSONL(.gz) reviews")
    given.add_argument("--interactions", help="a CSV or TSV with a header naming user_id, item_id and "
                                              "(optionally) timestamp columns, as pandas writes it")
    c.add_argument("--meta", default=None, help="metadata: 2018 JSON, 2014 Python literals, 2023 JSONL")
    c.add_argument("--out", required=True, help="output folder: a new or empty one (its files appear "
                                                "together, or none of them)")
    c.add_argument("--overwrite", action="store_true", help="replace a --out folder that holds files, "
                                                            "and everything in it")
    c.add_argument("--name", default=None, help="data set name (default: the folder name)")
    c.add_argument("--kcore", type=non_negative_int, default=None, help="k-core filter, e.g. 5")

    from .download import add_download_arguments
    add_download_arguments(sub.add_parser("download", help="fetch an Amazon category and its pictures"))
    return p


@exit_on_user_error
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    show_messages()
    if args.command in ("describe", "features"):
        from .load import load
        if parse_source(args.source) is not None:
            from .amazon_source import describe_plan, is_ready
            ready = is_ready(args.source, args.cache_dir)
            if args.command == "describe":
                print(describe_plan(args.source, args.cache_dir, max_download_mb=args.max_download_mb))
                if not ready and not args.fetch:
                    print(f"\nnothing is fetched yet: add --fetch (and --pictures) to download it, or use "
                          f"--data {args.source} with any command")
                    return 0
                print()
        ds = load(args.source, cache_dir=args.cache_dir, kcore=getattr(args, "kcore", None),
                  strict=getattr(args, "strict", False), pictures=args.pictures,
                  progress=not args.no_progress, max_download_mb=args.max_download_mb)
        if args.command == "describe":
            from .describe import describe
            print(describe(ds, args.image_encoder, args.text_encoder))
        else:
            from .features import build_features
            wanted = args.modalities.split(",") if args.modalities else None
            tables = build_features(ds, wanted, cache_dir=args.cache_dir, progress=not args.no_progress,
                                    image_encoder=args.image_encoder, text_encoder=args.text_encoder)
            for name, table in tables.items():
                print(f"{name:14s} {table.shape[0]:,} x {table.shape[1]}")
    elif args.command == "convert":
        from ..files import replacing_folder
        from .amazon_raw import convert
        from .interactions_table import convert_table
        from .safe_names import check_name
        if args.interactions and args.meta:
            raise UserError("--meta goes with --reviews; a CSV of interactions has no metadata file")
        name = check_name(args.name or Path(args.out).resolve().name, "--name")
        inputs = [args.interactions, args.reviews, args.meta]
        with replacing_folder(Path(args.out), args.overwrite, inputs=inputs) as tmp:   # all files or none
            summary = (convert_table(args.interactions, tmp, name=name, kcore=args.kcore) if args.interactions
                       else convert(args.reviews, args.meta, tmp, name=name, kcore=args.kcore))
        print(summary.replace(str(tmp), str(args.out)))
    elif args.command == "download":
        from .download import run_download
        run_download(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
