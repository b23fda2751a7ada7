"""``describe``: the numbers a user checks first about a data set."""
from __future__ import annotations

import numpy as np

from . import image_encoders, text
from .features import modality_widths


def describe(ds, image_encoder: str = image_encoders.DEFAULT, text_encoder: str = text.DEFAULT) -> str:
    """A short report: users, items, interactions, modalities with widths, sequence lengths."""
    lengths = np.array([len(s) for s in ds.sequences], dtype=np.int64)
    widths = modality_widths(ds, image_encoder, text_encoder)
    modal = ", ".join(["id"] + [f"{name} ({width})" for name, width in widths.items()])
    images = sum(p is not None for p in ds.image_paths)
    lines = [
        f"data set      {ds.name}  ({ds.folder})",
        f"users         {ds.n_users:,}",
        f"items         {ds.n_items:,}",
        f"interactions  {ds.n_interactions:,}",
        f"modalities    {modal}",
        f"seq length    min {lengths.min()}  median {np.median(lengths):g}  mean {lengths.mean():.2f}"
        f"  p90 {np.percentile(lengths, 90):g}  max {lengths.max()}",
        f"density       {ds.n_interactions / (ds.n_users * ds.n_items):.5f}",
    ]
    if "image" in widths:
        lines.append(f"pictures      {images:,} of {ds.n_items:,} items, encoded by "
                     f"{image_encoders.resolve(image_encoder)}")
    if "text" in widths:
        lines.append(f"text encoder  {text.resolve(text_encoder)}")
    if ds.n_dropped:
        lines.append(f"dropped       {ds.n_dropped:,} interactions with items missing from .item")
    return "\n".join(lines)
