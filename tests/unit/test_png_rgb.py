"""The RGB/greyscale PNG encoder decodes right (checked by Pillow); `png_size` spots a PNG
that is not whole."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from place.snapshot.png import encode_png, encode_png_rgb, png_size


def test_rgb_and_grey_decode_to_the_same_pixels() -> None:
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png_rgb(rgb)))
    assert (image.mode, image.size) == ("RGB", (7, 5))
    np.testing.assert_array_equal(np.asarray(image), rgb)
    grey = rgb[:, :, 0].copy()
    image = Image.open(io.BytesIO(encode_png_rgb(grey)))
    assert (image.mode, image.size) == ("L", (7, 5))
    np.testing.assert_array_equal(np.asarray(image), grey)


def test_rgb_refuses_other_shapes() -> None:
    with pytest.raises(ValueError, match="expected uint8"):
        encode_png_rgb(np.zeros((2, 2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="expected uint8"):
        encode_png_rgb(np.zeros((2, 2), dtype=np.float32))


def test_png_size() -> None:
    data = encode_png(np.zeros(12, dtype=np.uint8), 4, 3, ("#000000",))
    assert png_size(data) == (4, 3)
    assert png_size(encode_png_rgb(np.zeros((3, 9, 3), dtype=np.uint8))) == (9, 3)
    assert png_size(data[:-1]) is None  # cut short: no IEND
    assert png_size(data[:-12]) is None
    flipped = bytearray(data)
    flipped[45] ^= 1  # a bit in IDAT
    assert png_size(bytes(flipped)) is None
    assert png_size(b"GIF89a" + data[6:]) is None
    assert png_size(b"") is None
