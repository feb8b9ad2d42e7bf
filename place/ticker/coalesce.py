"""Folding a tick's placements into one delta: each pixel once, the last write wins. Pure numpy."""

from __future__ import annotations

import numpy as np

# One record per stream entry, as ticker_read.lua packs it: a placement is a 1x1 rectangle,
# an admin wipe a larger one.
RECORD = np.dtype([("x", "<u2"), ("y", "<u2"), ("w", "<u2"), ("h", "<u2"), ("c", "u1")])


def coalesce(records: bytes, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices (uint32, ascending, each once) and their final colours (uint8).

    Rectangles are clipped to the canvas; records wholly outside it (placed before a shrink
    that the snapshot already folded in) are dropped.
    """
    entries = np.frombuffer(records, dtype=RECORD)
    if entries.size == 0:
        return np.empty(0, np.uint32), np.empty(0, np.uint8)
    if np.all((entries["w"] == 1) & (entries["h"] == 1)):
        x, y, c = entries["x"], entries["y"], entries["c"]
    else:
        x, y, c = _expand_rectangles(entries)
    inside = (x < width) & (y < height)
    pixels = y[inside].astype(np.uint32) * np.uint32(width) + x[inside]
    colors = c[inside]
    # np.unique keeps the first occurrence; reversed, the first is the last written
    unique, first = np.unique(pixels[::-1], return_index=True)
    return unique.astype(np.uint32), colors[::-1][first].astype(np.uint8)


def _expand_rectangles(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pixel of every record, in stream order (only admin wipes take this path)."""
    xs, ys, cs = [], [], []
    for x, y, w, h, c in entries.tolist():
        grid_y, grid_x = np.mgrid[y : y + h, x : x + w]
        xs.append(grid_x.ravel())
        ys.append(grid_y.ravel())
        cs.append(np.full(w * h, c, np.uint8))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(cs)
