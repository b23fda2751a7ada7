"""toyshop: a generated shop whose titles and pictures really predict what users buy next.

Products: categories x attributes (colour, pattern, size, material, brand). Each product
has a title made from its category's vocabulary and its attributes, and a Pillow picture
(toyshop_pictures.py) whose shape, colour and texture show the same attributes.

Users buy in sessions driven by rules that the side information reveals:
- the next category is the complement of the last one (mug -> teapot, t-shirt -> sneakers),
  the same category again, or one of the user's favourite categories;
- inside that category, products matching the colour of the last purchase (matching sets),
  the user's favourite colour and favourite pattern are much more likely;
- popularity follows a long tail (Zipf), so many products are bought rarely and are only
  predictable through their title and picture.

Generated once per (size, version) into ``<cache>/datasets/<source>@<version>/`` in the
RecBole atomic form (``.inter``, ``.item``, ``images/<item_id>.png``), built in a temporary
folder and renamed, so an interrupted run leaves nothing behind.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import building_folder, default_cache_dir
from .recbole import write_atomic_files
from .toyshop_pictures import COLOURS, PATTERNS, draw_product

VERSION = "v3"  # bump when the recipe or sizes change (a new cache folder)
CATEGORIES = {  # noun -> (materials, complementary categories)
    "mug": (("ceramic", "enamel", "stoneware"), ("teapot", "notebook")),
    "teapot": (("ceramic", "glass", "cast-iron"), ("mug", "cushion")),
    "t-shirt": (("cotton", "linen", "organic-cotton"), ("sneakers", "backpack")),
    "sneakers": (("canvas", "leather", "mesh"), ("t-shirt", "bottle")),
    "backpack": (("nylon", "canvas", "polyester"), ("bottle", "notebook")),
    "bottle": (("steel", "plastic", "glass"), ("backpack", "sneakers")),
    "notebook": (("paper", "recycled", "hardcover"), ("pen", "lamp")),
    "pen": (("metal", "bamboo", "resin"), ("notebook", "mug")),
    "lamp": (("brass", "wooden", "paper"), ("cushion", "notebook")),
    "cushion": (("velvet", "wool", "cotton"), ("lamp", "teapot")),
}
PATTERN_WORDS = {"plain": "solid", "striped": "striped", "dotted": "polka-dot", "checked": "checked"}
FLUFF = ("classic", "modern", "everyday", "premium", "cozy", "minimal", "vintage", "sturdy")
BRANDS = ("Nordby", "Kaleo", "Mirabel", "Otto&Co", "Pebble", "Sunfield", "Tamar", "Wren",
          "Yuki", "Zephyr", "Brightly", "Alder")
# source -> (categories, products, users, mean extra length, max length, side fields). toyshop
# has the paper's three modalities (IDs, pictures, titles) and is sized for a first run of about
# a minute; toyshop-tiny, for tests, also has the category and brand as token fields.
SIZES = {
    "toyshop": (10, 150, 600, 6.0, 30, False),
    "toyshop-tiny": (8, 120, 150, 4.0, 12, True),
}


def ensure_toyshop(source: str = "toyshop", cache_dir=None) -> Path:
    """Folder holding the generated ``source`` data set, generating it on first use."""
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "datasets" / f"{source}@{VERSION}"
    if not (folder / f"{source}.inter").is_file():
        with building_folder(folder) as tmp:
            generate_toyshop(tmp, source)
    return folder


def make_catalog(n_categories: int, n_products: int, rng) -> dict:
    """Product attributes as arrays of length V, plus titles and a popularity weight."""
    cats = list(CATEGORIES)[:n_categories]
    colours, patterns = list(COLOURS), list(PATTERNS)
    cat = np.arange(n_products) % n_categories                          # (V,) balanced categories
    colour = rng.integers(0, len(colours), n_products)
    pattern = rng.integers(0, len(patterns), n_products)
    large = rng.random(n_products) < 0.5
    material = rng.integers(0, 3, n_products)
    brand = rng.integers(0, len(BRANDS), n_products)
    fluff = rng.integers(0, len(FLUFF), n_products)
    rank = rng.permutation(n_products)
    log_pop = -1.1 * np.log1p(rank)                                     # Zipf long tail
    titles = []
    for i in range(n_products):
        noun = cats[cat[i]]
        words = [BRANDS[brand[i]], FLUFF[fluff[i]], "large" if large[i] else "small",
                 colours[colour[i]], PATTERN_WORDS[patterns[pattern[i]]],
                 CATEGORIES[noun][0][material[i]], noun]
        titles.append(" ".join(words))
    return dict(cats=cats, cat=cat, colour=colour, pattern=pattern, large=large, brand=brand,
                log_pop=log_pop, titles=titles)


def simulate_users(catalog: dict, n_users: int, mean_extra: float, max_len: int, rng) -> list:
    """Purchase sequences (lists of product indices 0..V-1), generated all users at once."""
    cat, colour, pattern = catalog["cat"], catalog["colour"], catalog["pattern"]
    n_cat, V = len(catalog["cats"]), len(cat)
    complement = np.array([[catalog["cats"].index(c) if c in catalog["cats"] else k
                            for c in CATEGORIES[name][1]] for k, name in enumerate(catalog["cats"])])
    lengths = np.minimum(4 + rng.geometric(1.0 / mean_extra, n_users), max_len)   # (U,)
    fav_cats = rng.integers(0, n_cat, (n_users, 2))                     # (U, 2)
    fav_colour = rng.integers(0, len(COLOURS), n_users)
    fav_pattern = rng.integers(0, len(PATTERNS), n_users)
    bought = np.zeros((n_users, V), dtype=bool)
    seqs = np.full((n_users, lengths.max()), -1, dtype=np.int64)
    last = np.full(n_users, -1)
    for t in range(lengths.max()):
        users = np.flatnonzero(lengths > t)                             # (A,) still shopping
        A = len(users)
        fav = fav_cats[users, rng.integers(0, 2, A)]
        if t == 0:
            next_cat = fav
        else:
            prev = last[users]
            roll = rng.random(A)
            comp = complement[cat[prev], rng.integers(0, 2, A)]
            next_cat = np.where(roll < 0.5, comp, np.where(roll < 0.75, cat[prev], fav))
        logit = catalog["log_pop"][None, :].repeat(A, axis=0)           # (A, V)
        logit += 1.0 * (colour[None, :] == fav_colour[users, None])
        logit += 1.0 * (pattern[None, :] == fav_pattern[users, None])
        if t > 0:
            logit += 2.0 * (colour[None, :] == colour[last[users], None])
        allowed = ~bought[users] & (cat[None, :] == next_cat[:, None])
        stuck = ~allowed.any(axis=1)                                    # category sold out
        allowed[stuck] = ~bought[users[stuck]]
        logit = np.where(allowed, logit, -np.inf)
        choice = np.argmax(logit + rng.gumbel(size=logit.shape), axis=1)  # Gumbel-max sampling
        seqs[users, t] = choice
        bought[users, choice] = True
        last[users] = choice
    return [seqs[u, :lengths[u]] for u in range(n_users)]


def generate_toyshop(folder: Path, source: str = "toyshop", seed: int = 0) -> None:
    """Write ``source``.inter, ``source``.item and ``images/`` into ``folder``."""
    n_cat, n_products, n_users, mean_extra, max_len, side_fields = SIZES[source]
    rng = np.random.default_rng(seed)
    catalog = make_catalog(n_cat, n_products, rng)
    seqs = simulate_users(catalog, n_users, mean_extra, max_len, rng)
    item_ids = [f"P{i:04d}" for i in range(n_products)]
    interactions = []
    start = rng.integers(1_600_000_000, 1_650_000_000, n_users)
    for u, seq in enumerate(seqs):
        times = start[u] + np.cumsum(rng.integers(3600, 30 * 86400, len(seq)))
        interactions += [(f"U{u:05d}", item_ids[i], float(ts)) for i, ts in zip(seq, times)]
    colours, cats = list(COLOURS), catalog["cats"]
    items = [(item_ids[i], catalog["titles"][i], cats[catalog["cat"][i]], BRANDS[catalog["brand"][i]])
             for i in range(n_products)]
    header = [("item_id", "token"), ("title", "token_seq"), ("category", "token"), ("brand", "token")]
    if not side_fields:
        items, header = [row[:2] for row in items], header[:2]
    write_atomic_files(folder, source, interactions, items, header)
    (Path(folder) / "images").mkdir(exist_ok=True)
    for i in range(n_products):
        picture = draw_product(cats[catalog["cat"][i]], colours[catalog["colour"][i]],
                               PATTERNS[catalog["pattern"][i]], bool(catalog["large"][i]), seed * 100003 + i)
        picture.save(Path(folder) / "images" / f"{item_ids[i]}.png", optimize=False, compress_level=1)
