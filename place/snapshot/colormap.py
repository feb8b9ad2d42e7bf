"""Perceptual colour maps without matplotlib: a few anchor colours, interpolated. Pure.

INFERNO is matplotlib's "inferno" (CC0) sampled at 11 evenly spaced points: black through
purple and orange to pale yellow, its lightness rising steadily, so more reads as brighter
(in greyscale and to colour-blind eyes too). Linear interpolation between anchors this close
differs from the full 256-entry table by a few levels at most.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

INFERNO = (
    "#000004",
    "#160b39",
    "#420a68",
    "#6a176e",
    "#932667",
    "#bc3754",
    "#dd513a",
    "#f37819",
    "#fca50a",
    "#f6d746",
    "#fcffa4",
)


def apply_colormap(values: np.ndarray, anchors: Sequence[str] = INFERNO) -> np.ndarray:
    """RGB (uint8, one more axis of 3) for `values` in [0, 1] (clipped), 0 the first anchor."""
    hexes = "".join(colour.removeprefix("#") for colour in anchors)
    table = np.frombuffer(bytes.fromhex(hexes), dtype=np.uint8).reshape(-1, 3).astype(np.float32)
    where = np.linspace(0.0, 1.0, len(anchors), dtype=np.float32)
    flat = np.clip(values, 0.0, 1.0).astype(np.float32).ravel()
    rgb = np.empty((flat.size, 3), dtype=np.uint8)
    for channel in range(3):
        rgb[:, channel] = np.rint(np.interp(flat, where, table[:, channel]))
    return rgb.reshape(*values.shape, 3)
