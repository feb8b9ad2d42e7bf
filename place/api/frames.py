"""Server-to-client websocket frames (RFC 6455), encoded once and written to many sockets.

A frame from the server is not masked, so the same bytes are valid on every connection: the hub
encodes a delta once and writes it to each player's transport, instead of going through the ASGI
layers once per player. Pure: no I/O.
"""

from __future__ import annotations

import struct

_TEXT = 0x81  # FIN + text
_BINARY = 0x82  # FIN + binary


def _header(first: int, size: int) -> bytes:
    if size < 126:
        return bytes((first, size))
    if size < 1 << 16:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


def text_frame(payload: bytes) -> bytes:
    """A complete text frame carrying `payload` (UTF-8 JSON)."""
    return _header(_TEXT, len(payload)) + payload


def binary_frame(payload: bytes) -> bytes:
    """A complete binary frame carrying `payload` (a snapshot or a delta)."""
    return _header(_BINARY, len(payload)) + payload
