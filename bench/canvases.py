"""Generated canvases and placements for the encoding benchmarks: deterministic (seeded), numpy.

- ``image_like``: a detailed, finished-looking canvas of 32 colours, the kind an event ends with:
  flags (stripes), pixel-art sprites (some repeated, as communities copy each other), dithered
  "photos" (gradients through noise, the least compressible part), outlined boxes and blocky
  text on a few background colours. Its zlib sizes are close to what the issue measured on its
  own generated canvas (2000x2000: about 1.3 MB at level 9, 1.6 MB at level 1).
- ``uniform_tick``: one tick's placements at uniformly random pixels, uniformly random colours
  (the worst case for a delta's size).
- ``clustered_tick``: one tick's placements as people draw: short strokes (runs along a row or a
  column, one colour each, lengths 1-16) inside a few dozen active artworks, each artwork with a
  handful of colours. The placements of a tick are spread over the artworks, not in one place.
"""

from __future__ import annotations

import numpy as np

COLORS = 32


def image_like(width: int, height: int, seed: int = 1, colors: int = COLORS) -> np.ndarray:
    """A ``width*height`` uint8 canvas (row-major) that looks like the end of an event."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width), np.uint8)
    area = width * height
    # background: large blocks of a few colours
    for _ in range(max(4, area // 60_000)):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 10, width // 3), rng.integers(height // 10, height // 3)
        canvas[y : y + h, x : x + w] = rng.choice([0, 1, 2, 3, 4, 27, 18, 23])
    # flags: stripes of 2-4 colours
    for _ in range(area // 3_000):
        x, y = rng.integers(0, width - 8), rng.integers(0, height - 8)
        w, h = rng.integers(20, 160), rng.integers(14, 100)
        stripes = rng.integers(0, colors, rng.integers(2, 5))
        region = canvas[y : y + h, x : x + w]
        if region.size == 0:
            continue
        axis = region.shape[0] if rng.random() < 0.6 else region.shape[1]
        band = np.repeat(stripes, -(-axis // stripes.size))[:axis]
        region[:] = band[:, None] if axis == region.shape[0] else band[None, :]
    # sprites: symmetric pixel art with an outline, 40 % of them copies of earlier ones
    sprites: list[np.ndarray] = []
    for _ in range(area // 170):
        if sprites and rng.random() < 0.7:
            sprite = sprites[rng.integers(0, len(sprites))]
        else:
            s = int(rng.integers(4, 16))
            half = rng.choice(4, (s, (s + 1) // 2), p=[0.45, 0.3, 0.15, 0.1])
            shape = np.concatenate([half, half[:, ::-1][:, s % 2 :]], axis=1)
            if rng.random() < 0.5:  # drawn at 2x: blocks of 2x2
                shape = shape.repeat(2, axis=0).repeat(2, axis=1)
            palette = rng.integers(0, colors, 4)
            sprite = palette[shape].astype(np.uint8)
            sprite[0, :] = sprite[-1, :] = sprite[:, 0] = sprite[:, -1] = 4  # black outline
            sprites.append(sprite)
        h, w = sprite.shape
        repeat = int(rng.integers(1, 5)) if rng.random() < 0.3 else 1  # a row of copies
        x, y = rng.integers(0, max(1, width - w * repeat)), rng.integers(0, height - h)
        region = canvas[y : y + h, x : x + w * repeat]
        region[:] = np.tile(sprite, (1, repeat))[: region.shape[0], : region.shape[1]]
    # dithered "photos": a smooth field through noise, 4-8 colours
    for _ in range(max(1, area // 20_000)):
        w, h = rng.integers(40, 160), rng.integers(40, 160)
        x, y = rng.integers(0, max(1, width - w)), rng.integers(0, max(1, height - h))
        shades = rng.integers(0, colors, rng.integers(4, 9))
        gy, gx = np.mgrid[0:h, 0:w]
        field = (np.sin(gx / rng.uniform(6, 30)) + np.cos(gy / rng.uniform(6, 30)) + 2) / 4
        level = np.clip(field + rng.normal(0, 0.12, field.shape), 0, 0.999)
        canvas[y : y + h, x : x + w] = shades[(level * shades.size).astype(int)][
            : canvas[y : y + h, x : x + w].shape[0], : canvas[y : y + h, x : x + w].shape[1]
        ]
    # blocky text: 3x5 glyphs in rows
    for _ in range(area // 6_000):
        x, y = rng.integers(0, width - 80), rng.integers(0, height - 6)
        c = rng.integers(0, colors)
        glyphs = rng.random((5, rng.integers(8, 20) * 4)) < 0.5
        glyphs[:, 3::4] = False  # a blank column between letters
        region = canvas[y : y + 5, x : x + glyphs.shape[1]]
        region[glyphs[: region.shape[0], : region.shape[1]]] = c
    return canvas.ravel()


def uniform_tick(
    rng: np.random.Generator, n: int, size: int, colors: int = COLORS
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct pixels (ascending) anywhere on a canvas of ``size`` pixels, random colours."""
    pixels = np.sort(rng.choice(size, n, replace=False)).astype(np.uint32)
    return pixels, rng.integers(0, colors, n).astype(np.uint8)


def clustered_tick(
    rng: np.random.Generator,
    n: int,
    width: int,
    height: int,
    artworks: int = 40,
    colors: int = COLORS,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct pixels (ascending) drawn as strokes inside ``artworks`` active areas."""
    sizes = rng.integers(24, 120, (artworks, 2))
    corners = rng.integers(0, [max(1, width - 120), max(1, height - 120)], (artworks, 2))
    inks = rng.integers(0, colors, (artworks, 4))
    pixels: dict[int, int] = {}
    while len(pixels) < n:
        k = int(rng.integers(0, artworks))
        (w, h), (x0, y0) = sizes[k], corners[k]
        x, y = x0 + int(rng.integers(0, w)), y0 + int(rng.integers(0, h))
        length = min(16, int(rng.geometric(0.25)))
        c = int(inks[k, rng.integers(0, 4)])
        dx, dy = (1, 0) if rng.random() < 0.7 else (0, 1)
        for i in range(length):
            px, py = x + i * dx, y + i * dy
            if px < width and py < height:
                pixels[py * width + px] = c
    keys = np.fromiter(pixels, np.int64, len(pixels))[:n]
    values = np.fromiter(pixels.values(), np.int64, len(pixels))[:n]
    order = np.argsort(keys)
    return keys[order].astype(np.uint32), values[order].astype(np.uint8)
