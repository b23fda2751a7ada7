"""Describe, convert, download and featurize recommendation data sets.

    python -m tiny_mmmlp.data describe toyshop
    python -m tiny_mmmlp.data convert --reviews Industrial_and_Scientific_5.json.gz \\
        --meta meta_Industrial_and_Scientific.json.gz --out data/scientific --kcore 5
    python -m tiny_mmmlp.data download --release 2018 --category Industrial_and_Scientific --out data/scientific
    python -m tiny_mmmlp.data features toyshop          # build (or check) the cached feature tables
"""
from __future__ import annotations

import argparse
import sys

from ..cli import OneLineParser, non_negative_int
from ..errors import exit_on_user_error
from .load import SOURCES


CACHE_HELP = ("where generated data and feature tables are kept "
              "(default: $TINY_MMMLP_CACHE or ~/.cache/tiny_mmmlp)")


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m tiny_mmmlp.data", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("describe", help="users, items, interactions, modalities, sequence lengths")
    d.add_argument("source", help=SOURCES)
    d.add_argument("--kcore", type=non_negative_int, default=None,
                   help="k-core filter before describing, e.g. 5 (default: none)")
    d.add_argument("--strict", action="store_true", help="unknown items in .inter are an error")
    d.add_argument("--cache-dir", default=None, help=CACHE_HELP)

    f = sub.add_parser("features", help="build the cached feature tables and print their shapes")
    f.add_argument("source", help=SOURCES)
    f.add_argument("--modalities", default=None, help="comma-separated names (default: all)")
    f.add_argument("--cache-dir", default=None, help=CACHE_HELP)

    c = sub.add_parser("convert", help="raw Amazon reviews + metadata -> RecBole atomic folder")
    c.add_argument("--reviews", required=True, help="2018 JSON(.gz) or 2023 JSONL(.gz) reviews")
    c.add_argument("--meta", default=None, help="metadata: 2018 JSON, 2014 Python literals, 2023 JSONL")
    c.add_argument("--out", required=True, help="output folder (written atomically)")
    c.add_argument("--name", default=None, help="data set name (default: the folder name)")
    c.add_argument("--kcore", type=non_negative_int, default=None, help="k-core filter, e.g. 5")

    from .download import add_download_arguments
    add_download_arguments(sub.add_parser("download", help="fetch an Amazon category and its pictures"))
    return p


@exit_on_user_error
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "describe":
        from .describe import describe
        from .load import load
        print(describe(load(args.source, cache_dir=args.cache_dir, kcore=args.kcore, strict=args.strict)))
    elif args.command == "features":
        from .features import build_features
        from .load import load
        ds = load(args.source, cache_dir=args.cache_dir)
        wanted = args.modalities.split(",") if args.modalities else None
        for name, table in build_features(ds, wanted, cache_dir=args.cache_dir).items():
            print(f"{name:14s} {table.shape[0]:,} x {table.shape[1]}")
    elif args.command == "convert":
        from .amazon_raw import convert
        summary = convert(args.reviews, args.meta, args.out, name=args.name, kcore=args.kcore)
        print(summary)
    elif args.command == "download":
        from .download import run_download
        run_download(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
