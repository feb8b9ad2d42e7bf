"""Folding a tick's placements: each pixel once, the last write wins."""

from __future__ import annotations

import numpy as np

from place.ticker.coalesce import RECORD, coalesce


def records(*rows: tuple[int, int, int, int, int]) -> bytes:
    return np.array(list(rows), dtype=RECORD).tobytes()


def test_last_write_per_pixel_wins() -> None:
    data = records((1, 0, 1, 1, 5), (2, 0, 1, 1, 6), (1, 0, 1, 1, 7))
    pixels, colors = coalesce(data, width=10, height=10)
    assert pixels.tolist() == [1, 2]
    assert colors.tolist() == [7, 6]
    assert pixels.dtype == np.uint32 and colors.dtype == np.uint8


def test_nothing_in_nothing_out() -> None:
    pixels, colors = coalesce(b"", 10, 10)
    assert pixels.size == 0 and colors.size == 0


def test_a_wipe_covers_its_rectangle_and_later_placements_win_over_it() -> None:
    data = records((0, 0, 1, 1, 3), (0, 0, 2, 2, 9), (1, 1, 1, 1, 4))
    pixels, colors = coalesce(data, width=4, height=4)
    assert dict(zip(pixels.tolist(), colors.tolist(), strict=True)) == {0: 9, 1: 9, 4: 9, 5: 4}


def test_placements_outside_a_shrunk_canvas_are_dropped() -> None:
    data = records((9, 0, 1, 1, 1), (1, 1, 1, 1, 2), (3, 3, 2, 2, 5))
    pixels, colors = coalesce(data, width=4, height=4)
    assert dict(zip(pixels.tolist(), colors.tolist(), strict=True)) == {5: 2, 15: 5}


def test_four_thousand_placements_coalesce_to_unique_pixels() -> None:
    rng = np.random.default_rng(1)
    rows = np.zeros(4000, dtype=RECORD)
    rows["x"], rows["y"] = rng.integers(0, 50, 4000), rng.integers(0, 50, 4000)
    rows["w"], rows["h"], rows["c"] = 1, 1, rng.integers(0, 32, 4000)
    pixels, colors = coalesce(rows.tobytes(), 50, 50)
    expected: dict[int, int] = {}
    for row in rows.tolist():
        expected[row[1] * 50 + row[0]] = row[4]
    assert dict(zip(pixels.tolist(), colors.tolist(), strict=True)) == expected
