"""`place snapshot heatmap`: where the players placed, over the whole archive, as a PNG.

What counts: every placement adds one to its pixel. Admin wipes (rows wider or taller than
one pixel) do not: they are moderation, not play, and one wipe of a large region would lift
the whole region above the background of the map. (A 1x1 wipe cannot be told from a
placement in the archive and counts as one.)

Extent: the largest canvas the archive saw (the widest and the tallest of its chunks'
configurations), so placements made before the canvas shrank still show; one image pixel per
canvas pixel, pixels that never existed black like pixels nobody placed on.

Colour: log(1 + count) / log(1 + hottest) through inferno. Counts span orders of magnitude (a
contested pixel sees thousands of placements, most see a handful): on a linear scale the map
is a few white dots on black. Nobody placed: black; the hottest pixel: the brightest colour.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from place.snapshot.archive import Chunk
from place.snapshot.colormap import apply_colormap
from place.snapshot.history import EmptyArchive, chunk_keys, read_history
from place.snapshot.outfile import OutputError, atomic_output
from place.snapshot.png import encode_png_rgb
from place.store import Store


def make_heatmap(store: Store, out: str) -> str:
    """Write the heatmap of every archived placement to `out`; the line the CLI prints."""
    with atomic_output(out) as temporary:  # fails now, not after the download, if unwritable
        counts, placements, wipes = count_placements(read_history(store, chunk_keys(store)))
        if not placements:
            raise EmptyArchive(f"no placements in the archive at {store.url}")
        try:
            temporary.write_bytes(encode_png_rgb(heat_colours(counts)))
        except OSError as error:
            raise OutputError(f"cannot write {out}: {error.strerror}") from None
    height, width = counts.shape
    y, x = np.unravel_index(int(np.argmax(counts)), counts.shape)
    left_out = f" ({wipes} admin wipe{'s' if wipes != 1 else ''} not counted)" if wipes else ""
    return (
        f"wrote {out}: {width}x{height}, {placements} placements{left_out},"
        f" hottest pixel {x},{y} with {int(counts[y, x])}"
    )


def count_placements(chunks: Iterable[Chunk]) -> tuple[np.ndarray, int, int]:
    """Placements per pixel ((height, width) uint32 over the largest canvas seen), how many
    placements were counted, how many wipes were not."""
    counts = np.zeros((0, 0), dtype=np.uint32)
    placements = wipes = 0
    for chunk in chunks:
        if not chunk.rows:
            continue
        rows = np.array([(row.x, row.y, row.w, row.h) for row in chunk.rows], dtype=np.int64)
        xs, ys, ws, hs = rows.T
        single = (ws == 1) & (hs == 1) & (xs >= 0) & (ys >= 0)
        wipes += int(np.count_nonzero((ws > 1) | (hs > 1)))
        xs, ys = xs[single], ys[single]
        if not xs.size:
            continue
        height = max(counts.shape[0], chunk.config.height, int(ys.max()) + 1)
        width = max(counts.shape[1], chunk.config.width, int(xs.max()) + 1)
        if (height, width) != counts.shape:
            grown = np.zeros((height, width), dtype=np.uint32)
            grown[: counts.shape[0], : counts.shape[1]] = counts
            counts = grown
        np.add.at(counts, (ys, xs), 1)
        placements += int(xs.size)
    return counts, placements, wipes


def heat_colours(counts: np.ndarray) -> np.ndarray:
    """RGB (height, width, 3) uint8: log-scaled counts through inferno, hottest brightest."""
    hottest = int(counts.max()) if counts.size else 0
    scaled = np.log1p(counts.astype(np.float32)) / np.float32(np.log1p(max(hottest, 1)))
    return apply_colormap(scaled)
