"""Recommend: the top-k next items for users or a history, as a table, CSV or JSON lines.

    python -m tiny_mmmlp.recommend runs/toyshop-numpy --user U00017
    python -m tiny_mmmlp.recommend runs/toyshop-numpy --items P0001,P0002 --k 5 --picture recs.png
    python -m tiny_mmmlp.recommend runs/toyshop-numpy --users all --format csv --output recs.csv
    python -m tiny_mmmlp.recommend runs/toyshop-numpy --users all --split leave-one-out --format csv --output held.csv

The history of a user is the user's whole sequence in the data the run was trained on (or in
--data, matched to the model's items by raw id); --items needs only the run's model file.
"""
from __future__ import annotations

from .cli import OneLineParser, positive_int
from .errors import UserError, exit_on_user_error
from .exports import FORMATS, read_users, render, visible, write_output
from .held_out import SPLITS, check_split, test_histories
from .progress import show_messages
from .recommender import DataNotFound, load


def build_parser():
    p = OneLineParser(prog="python -m tiny_mmmlp.recommend", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder written by python -m tiny_mmmlp.train (or its model.safetensors)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="one user id of the training data (shown with the user's history)")
    who.add_argument("--users", metavar="all|FILE|ID[,ID...]",
                     help="several users: 'all', a file of user ids (one a line), or comma-separated ids")
    who.add_argument("--items", help="an explicit history: comma-separated item ids, oldest first")
    p.add_argument("--k", type=positive_int, default=10, help="how many items to recommend (default: 10)")
    p.add_argument("--exclude-history", action="store_true", help="never recommend a seen item")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (for people), csv (columns user_id,rank,item_id,score, one row per "
                        "recommendation) or jsonl (one object per user) (default: table)")
    p.add_argument("--output", metavar="FILE", help="write the recommendations here (default: standard output)")
    p.add_argument("--picture", help="also draw the history and the recommendations to this PNG "
                                     "(with --user or --items)")
    p.add_argument("--data", help="the run's data, if it moved since training (or other data "
                                  "with the same items, matched by raw id)")
    p.add_argument("--split", choices=SPLITS, help="with --users: recommend after each tested user's history "
                                                   "less what this split holds out (leave-one-out: the last "
                                                   "item; time: the items from --cutoff on), the lists that "
                                                   "evaluate --recs scores fairly")
    p.add_argument("--cutoff", metavar="DATE|FRACTION", help="with --split time: a date or the fraction of all "
                                                             "interactions before it")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (or progress lines on standard error) while scoring --users")
    return p


# ---- the command -----------------------------------------------------------------------------

def _histories(rec, args) -> list:
    """[(user id or "", history of raw item ids)] that the flags ask for."""
    if args.items is not None:
        items = [s.strip() for s in args.items.split(",") if s.strip()]
        known = set(rec.item_ids)
        unknown = [i for i in items if i not in known]
        if unknown or not items:
            raise UserError(f"--items: unknown item id(s) {', '.join(unknown[:3]) or '(none given)'} "
                            f"(the model knows {len(known)} items)")
        return [("", items)]
    if args.user is not None:
        return [(args.user, rec.user_history(args.user))]
    if args.split is not None:
        ds = rec.dataset()
        rows, histories, _ = test_histories(ds, args.split, args.cutoff, lambda key: "--" + key)
        wanted = None if args.users == "all" else set(read_users(args.users))
        return [(ds.user_ids[u], [rec.item_ids[i - 1] for i in h]) for u, h in zip(rows, histories)
                if wanted is None or ds.user_ids[u] in wanted]
    users = rec.users if args.users == "all" else read_users(args.users)
    return [(u, rec.user_history(u)) for u in users]


def _titles(rec, needed: bool) -> dict:
    """Each item's title from the data; {} where a history of --items has no data to read."""
    try:
        ds = rec.dataset()
    except UserError:
        if needed:
            raise
        return {}
    return {raw: ds.titles[i + 1] for i, raw in enumerate(ds.item_ids)}


def _show(history, recs, rec, titles):
    shown = history[-10:]
    print(f"history ({len(history)} items, most recent last"
          + (f"; the last {len(shown)} shown):" if len(shown) < len(history) else "):"))
    for item in shown:
        print(f"  {visible(item):<14} {visible(titles.get(item, ''))}")
    print(f"top {len(recs)} next items ({rec.model_name}, {rec.meta.get('backend')} run, "
          f"modalities {','.join(rec.meta['modalities'])}):")
    for rank, (item, score) in enumerate(recs, 1):
        print(f"{rank:>3}. {visible(item):<14} {score:8.3f}  {visible(titles.get(item, ''))}")


def _picture(rec, history, recs, path, titles):
    from .gallery import draw_rows
    ds = rec.dataset()
    index = {raw: i + 1 for i, raw in enumerate(rec.item_ids)}
    picture = lambda item: ds.image_paths[index[item]]
    name = lambda item: titles.get(item) or item
    rows = [("history (most recent last)", [(picture(i), name(i)) for i in history[-8:]]),
            (f"top {len(recs)} recommendations",
             [(picture(i), f"{r}. {name(i)}") for r, (i, _) in enumerate(recs, 1)])]
    print(f"wrote {draw_rows(rows, path)}")


@exit_on_user_error(memory_advice="score fewer users at once (--user, or a shorter --users list)")
def main(argv=None):
    args = build_parser().parse_args(argv)
    show_messages()
    if args.picture and args.users is not None:
        raise UserError("--picture: draws one history; give --user or --items, not --users")
    if args.split is not None or args.cutoff is not None:
        if args.users is None:
            raise UserError(f"--{'split' if args.split else 'cutoff'}: goes with --users (all, a file or ids)")
        check_split(args.split or "leave-one-out", args.cutoff, lambda key: "--" + key)
    rec = load(args.run, args.data)
    try:
        asked = _histories(rec, args)
        titles = _titles(rec, args.items is None or bool(args.picture)) if args.format == "table" else {}
    except DataNotFound as err:
        raise UserError(f"{err.core}; give --data where it is now") from None
    scored = rec.top_k([h for _, h in asked], args.k, args.exclude_history,
                       progress=args.users is not None and not args.no_progress)
    if args.format == "table" and args.users is None and args.output is None:
        _show(asked[0][1], scored[0], rec, titles)
    else:
        text = render([(user, recs) for (user, _), recs in zip(asked, scored)], args.format, titles)
        if args.output is None:
            print(text, end="")
        else:
            print(f"wrote {write_output(args.output, text)} ({len(asked)} users)")
    if args.picture:
        _picture(rec, asked[0][1], scored[0], args.picture, titles)


if __name__ == "__main__":
    main()
