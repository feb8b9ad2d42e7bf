"""The heatmap's counting and colours, and the colour map, without a store."""

from __future__ import annotations

import numpy as np

from place.config import LiveConfig
from place.snapshot.archive import Chunk, Row
from place.snapshot.colormap import INFERNO, apply_colormap
from place.snapshot.heatmap import count_placements, heat_colours

PALETTE = ("#ffffff", "#000000")


def chunk(width: int, height: int, *rows: tuple[int, int, int, int]) -> Chunk:
    config = LiveConfig(width, height, PALETTE, cooldown_ms=0, open=True)
    made = [Row((i, 0), i, "p", x, y, w, h, 1) for i, (x, y, w, h) in enumerate(rows)]
    return Chunk((0, 0), (len(rows), 0), 0, config, made)


def test_counts_placements_not_wipes_on_the_largest_canvas() -> None:
    counts, placements, wipes = count_placements(
        [
            chunk(4, 3, (1, 1, 1, 1), (1, 1, 1, 1), (0, 0, 4, 3), (3, 2, 1, 1)),
            chunk(2, 2),  # a chunk whose rows were all seen before
            chunk(6, 2, (5, 0, 1, 1), (1, 1, 1, 1)),  # wider but shorter: both extents kept
        ]
    )
    assert (placements, wipes) == (5, 1)
    assert counts.shape == (3, 6)
    expected = np.zeros((3, 6), dtype=np.uint32)
    expected[1, 1], expected[2, 3], expected[0, 5] = 3, 1, 1
    np.testing.assert_array_equal(counts, expected)


def test_nothing_to_count() -> None:
    counts, placements, wipes = count_placements([chunk(3, 3, (0, 0, 3, 3))])
    assert (counts.size, placements, wipes) == (0, 0, 1)


def test_hottest_is_brightest_and_nothing_is_black() -> None:
    counts = np.array([[0, 1, 10], [100, 1000, 3]], dtype=np.uint32)
    image = heat_colours(counts)
    assert image.shape == (2, 3, 3) and image.dtype == np.uint8
    assert tuple(image[1, 1]) == (252, 255, 164)  # inferno's last anchor
    assert tuple(image[0, 0]) == (0, 0, 4)  # its first
    order = np.argsort(counts.ravel())
    lightness = image.reshape(-1, 3).astype(int) @ np.array([299, 587, 114])
    assert list(np.argsort(lightness)) == list(order)  # log scale keeps the order


def test_colormap_hits_its_anchors_and_rises_in_lightness() -> None:
    anchors = np.linspace(0, 1, len(INFERNO))
    hexes = ["#" + bytes(colour).hex() for colour in apply_colormap(anchors)]
    assert hexes == list(INFERNO)
    ramp = apply_colormap(np.linspace(0, 1, 256)).astype(int)
    lightness = ramp @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(lightness) > -0.5)  # never darker by more than rounding
    assert tuple(apply_colormap(np.array([-1.0, 2.0]))[1]) == (252, 255, 164)  # clipped
