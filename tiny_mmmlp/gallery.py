"""A picture of a user's history and recommendations: rows of product tiles with captions."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .files import write_bytes

TILE, CAPTION, PAD = 128, 44, 8


def _font(size=11):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                                  # Pillow < 10.1 has one fixed-size font
        return ImageFont.load_default()


def product_tile(path, title: str) -> Image.Image:
    """The product's picture fitted into a square tile, or a grey placeholder naming it."""
    tile = Image.new("RGB", (TILE, TILE), (236, 236, 236))
    try:
        from .data.images import open_picture
        with open_picture(path) as img:
            img = img.convert("RGB")
            img.thumbnail((TILE, TILE))
            tile.paste(img, ((TILE - img.width) // 2, (TILE - img.height) // 2))
    except (OSError, ValueError, TypeError, AttributeError, Image.DecompressionBombError):  # unreadable
        draw = ImageDraw.Draw(tile)
        draw.rectangle([4, 4, TILE - 5, TILE - 5], outline=(170, 170, 170))
        draw.text((10, 10), "no picture", fill=(120, 120, 120), font=_font())
        for i, line in enumerate(textwrap.wrap(title, 18)[:5]):
            draw.text((10, 32 + 15 * i), line, fill=(60, 60, 60), font=_font())
    return tile


def draw_rows(rows, path, columns=8):
    """Draw labelled rows of tiles and save a PNG atomically.

    rows: list of (label, [(picture_path or None, caption), ...]).
    """
    font, head = _font(), _font(14)
    lines = []                                         # (label, chunk of tiles) per drawn line
    for label, tiles in rows:
        chunks = [tiles[i:i + columns] for i in range(0, len(tiles), columns)] or [[]]
        lines += [(label if i == 0 else "", chunk) for i, chunk in enumerate(chunks)]
    width = PAD + columns * (TILE + PAD)
    line_h = 22 + TILE + CAPTION + PAD
    canvas = Image.new("RGB", (width, PAD + line_h * len(lines)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (label, chunk) in enumerate(lines):
        y = PAD + r * line_h
        draw.text((PAD, y), label, fill=(0, 0, 0), font=head)
        for c, (picture, caption) in enumerate(chunk):
            x = PAD + c * (TILE + PAD)
            canvas.paste(product_tile(picture, caption), (x, y + 22))
            for i, text in enumerate(textwrap.wrap(caption, 22)[:3]):
                draw.text((x, y + 24 + TILE + 13 * i), text, fill=(40, 40, 40), font=font)
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    write_bytes(Path(path), buf.getvalue())
    return Path(path)
