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


def encode_png_rgb(image: np.ndarray) -> bytes:
    """An 8-bit PNG of an image that is not palette indices: (height, width, 3) uint8 as RGB
    (colour type 2), or (height, width) uint8 as greyscale (colour type 0). The heatmap's."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.shape[2:] not in ((), (3,)):
        raise ValueError(f"expected uint8 (h, w) or (h, w, 3), got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    channels = 3 if image.ndim == 3 else 1
    rows = np.zeros((height, width * channels + 1), dtype=np.uint8)  # filter byte 0 per row
    rows[:, 1:] = image.reshape(height, width * channels)
    colour_type = 2 if channels == 3 else 0
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a whole, intact PNG, or None for anything else: not a PNG, cut
    short (an upload that stopped half-way), or a chunk whose checksum does not match."""
    if not data.startswith(_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    offset = len(_SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        end = offset + 8 + length
        if end + 4 > len(data):
            return None
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(data[offset + 4 : end]) != crc:
            return None
        if data[offset + 4 : offset + 8] == b"IEND":
            width, height = struct.unpack_from(">II", data, 16)
            return (width, height) if width and height and end + 4 == len(data) else None
        offset = end + 4
    return None
