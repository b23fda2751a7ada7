"""Pillow drawings of toyshop products: the shape shows the category, the fill its colour,
the texture its pattern, the scale its size. Small random jitter keeps pictures distinct.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

PICTURE_SIZE = 96
COLOURS = {  # name -> RGB
    "red": (214, 40, 40), "orange": (245, 140, 30), "yellow": (240, 210, 40),
    "green": (60, 170, 70), "teal": (30, 160, 160), "blue": (40, 90, 210),
    "purple": (130, 60, 180), "black": (40, 40, 40),
}
PATTERNS = ("plain", "striped", "dotted", "checked")


def _outline(category: str, s: float, cx: float, cy: float) -> list:
    """Drawing commands ``(kind, coords)`` for one category, scaled by s around (cx, cy)."""
    def P(*pts):  # points given in a 100 x 100 box centred at (50, 50)
        return [(cx + (x - 50) * s, cy + (y - 50) * s) for x, y in pts]
    shapes = {
        "mug": [("rect", P((22, 25), (68, 80))), ("ring", P((60, 38), (86, 66)))],
        "teapot": [("ellipse", P((20, 35), (75, 82))), ("poly", P((72, 55), (92, 35), (95, 40), (75, 68))),
                   ("ellipse", P((38, 24), (58, 38)))],
        "t-shirt": [("poly", P((30, 18), (70, 18), (92, 35), (80, 48), (72, 40), (72, 85), (28, 85),
                               (28, 40), (20, 48), (8, 35)))],
        "sneakers": [("poly", P((8, 62), (12, 40), (35, 42), (55, 55), (90, 60), (92, 75), (8, 75)))],
        "backpack": [("rect", P((25, 25), (75, 88))), ("ring", P((38, 10), (62, 32))),
                     ("rect", P((35, 58), (65, 80)))],
        "bottle": [("rect", P((38, 25), (62, 90))), ("rect", P((43, 10), (57, 25)))],
        "lamp": [("poly", P((30, 15), (70, 15), (82, 45), (18, 45))), ("rect", P((47, 45), (53, 80))),
                 ("rect", P((30, 80), (70, 88)))],
        "cushion": [("poly", P((50, 10), (90, 50), (50, 90), (10, 50)))],
        "notebook": [("rect", P((28, 12), (76, 88))), ("rect", P((22, 12), (30, 88)))],
        "pen": [("poly", P((15, 80), (75, 20), (85, 30), (25, 90))), ("poly", P((15, 80), (25, 90), (8, 95)))],
    }
    return shapes[category]


def _pattern_layer(colour: tuple, pattern: str, size: int, rng) -> Image.Image:
    """An RGB tile of the product colour carrying the pattern's texture."""
    base = np.array(colour, dtype=np.float64)
    light = tuple(int(v) for v in np.clip(base * 0.45 + 140, 0, 255))
    layer = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(layer)
    step = int(rng.integers(9, 13))
    if pattern == "striped":
        for x in range(-size, size, step):
            draw.line([(x, 0), (x + size, size)], fill=light, width=step // 3)
    elif pattern == "dotted":
        for y in range(step // 2, size, step):
            for x in range(step // 2, size, step):
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=light)
    elif pattern == "checked":
        for y in range(0, size, step):
            for x in range(0, size, step):
                if (x // step + y // step) % 2 == 0:
                    draw.rectangle([x, y, x + step - 1, y + step - 1], fill=light)
    return layer


def draw_product(category: str, colour: str, pattern: str, large: bool, seed: int) -> Image.Image:
    """Draw one product picture (PICTURE_SIZE x PICTURE_SIZE RGB)."""
    rng = np.random.default_rng(seed)
    S = PICTURE_SIZE
    tint = int(rng.integers(235, 256))
    picture = Image.new("RGB", (S, S), (tint, tint, int(rng.integers(225, 256))))
    mask = Image.new("L", (S, S), 0)
    draw_mask = ImageDraw.Draw(mask)
    scale = (0.95 if large else 0.62) * S / 100 * float(rng.uniform(0.93, 1.05))
    cx, cy = S / 2 + rng.uniform(-4, 4), S / 2 + rng.uniform(-4, 4)
    for kind, pts in _outline(category, scale, cx, cy):
        if kind == "rect":
            draw_mask.rectangle(pts, fill=255)
        elif kind == "ellipse":
            draw_mask.ellipse(pts, fill=255)
        elif kind == "ring":
            draw_mask.ellipse(pts, outline=255, width=max(2, int(5 * scale)))
        else:
            draw_mask.polygon(pts, fill=255)
    picture.paste(_pattern_layer(COLOURS[colour], pattern, S, rng), (0, 0), mask)
    return picture
