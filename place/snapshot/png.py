"""PNG encoding of a canvas: one image pixel per canvas pixel, the palette as PLTE. Pure."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode_png(pixels: np.ndarray, width: int, height: int, palette: Sequence[str]) -> bytes:
    """An 8-bit indexed-colour PNG of `pixels` (palette indices, row-major)."""
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # filter byte 0 (none) per row
    rows[:, 1:] = pixels.reshape(height, width)
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    colours = bytes.fromhex("".join(color[1:] for color in palette))
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", colours),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
