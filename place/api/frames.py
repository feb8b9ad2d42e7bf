"""Websocket frames (RFC 6455) written and read by hand on the hot paths. Pure: no I/O.

Server to client: a frame from the server is not masked, so the same bytes are valid on every
connection: the hub encodes a delta once and writes it to each player's transport, instead of
going through the ASGI layers once per player.

Client to server: `client_frame` finds whole frames in the bytes a player sent, so that a pod can
take a placement straight from the socket (`place.api.hub.FastReader`) instead of through the
websocket library, the ASGI queue and a task switch per message.
"""

from __future__ import annotations

import struct

try:
    from websockets.speedups import apply_mask  # C; ships with websockets, which uvicorn uses
except ImportError:  # pragma: no cover (a platform without the C extension)
    from websockets.utils import apply_mask

_TEXT = 0x81  # FIN + text
_BINARY = 0x82  # FIN + binary


def _header(first: int, size: int) -> bytes:
    if size < 126:
        return bytes((first, size))
    if size < 1 << 16:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


_SHORT_TEXT = [bytes((_TEXT, size)) for size in range(126)]  # the header of every short text


def text_frame(payload: bytes) -> bytes:
    """A complete text frame carrying `payload` (UTF-8 JSON)."""
    size = len(payload)
    if size < 126:  # an answer to a placement, a tick
        return _SHORT_TEXT[size] + payload
    return _header(_TEXT, size) + payload


def binary_frame(payload: bytes) -> bytes:
    """A complete binary frame carrying `payload` (a snapshot or a delta)."""
    return _header(_BINARY, len(payload)) + payload


# --- Client-to-server frames --------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def client_frame(data: bytes, start: int) -> tuple[int, int, bool, int, int] | None:
    """The client frame that begins at `data[start]`: (end, opcode, fin, payload start, payload
    length), or None while it is incomplete. A client frame is always masked (RFC 6455 5.3): the
    4-byte mask key sits just before the payload; `unmask` applies it."""
    available = len(data) - start
    if available < 2:
        return None
    first, second = data[start], data[start + 1]
    size = second & 0x7F
    header = 2
    if size == 126:
        if available < 4:
            return None
        size = (data[start + 2] << 8) | data[start + 3]
        header = 4
    elif size == 127:
        if available < 10:
            return None
        size = int.from_bytes(data[start + 2 : start + 10], "big")
        header = 10
    if second & 0x80:
        header += 4
    end = start + header + size
    if end > len(data):
        return None
    return end, first & 0x0F, bool(first & 0x80), start + header, size


def unmask(data: bytes, payload_start: int, size: int) -> bytes:
    """The payload of a masked client frame (see `client_frame`)."""
    key = data[payload_start - 4 : payload_start]
    return apply_mask(data[payload_start : payload_start + size], key)
