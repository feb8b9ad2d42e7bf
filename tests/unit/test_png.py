"""The canvas as PNG: one image pixel per canvas pixel, in the palette's colours."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from place.snapshot.png import encode_png


def test_png_decodes_to_the_canvas_colours() -> None:
    palette = ("#ffffff", "#ff0000", "#0000ff")
    pixels = np.array([0, 1, 2, 1, 0, 2], dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png(pixels, 3, 2, palette))).convert("RGB")
    assert image.size == (3, 2)
    assert [image.getpixel((x, y)) for y in range(2) for x in range(3)] == [
        (255, 255, 255),
        (255, 0, 0),
        (0, 0, 255),
        (255, 0, 0),
        (255, 255, 255),
        (0, 0, 255),
    ]
