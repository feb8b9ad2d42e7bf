"""The wire format: every frame between players and pods, and between the ticker and pods.

Pure functions and plain data, no I/O. Integers are little-endian, as the contract fixes them:

    snapshot  0x01 00 00 00 | u32 seq | u16 width | u16 height | zlib(width*height u8, row-major)
    delta     0x02 00 00 00 | u32 seq | u32 n | n x u32 pixel (y*width+x) | n x u8 colour

Text frames are JSON objects with a type field `t` (see the contract for each).

The bus (ticker -> pods, over Redis pub/sub) carries two kinds of message:

    delta     b"D" | f64 published (Unix s) | u32 previous tick's duration (us) | the delta frame
    notice    a JSON object: {"t":"tick","seq":N} heartbeat, {"t":"snapshot",...} a new snapshot

A pod forwards the delta frame to its players byte for byte.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from typing import Any

import numpy as np
import orjson

from place.config import LiveConfig
from place.errors import ProtocolError
from place.status import ERROR_MESSAGES, ErrorCode

SNAPSHOT = 0x01
DELTA = 0x02
PROTOCOL_VERSION = 1

_SNAPSHOT_HEADER = struct.Struct("<B3xIHH")  # kind, seq, width, height: 12 bytes
_DELTA_HEADER = struct.Struct("<B3xII")  # kind, seq, n: 12 bytes
_BUS_DELTA_HEADER = struct.Struct("<cdI")  # b"D", published, tick_us: 13 bytes
_PIXEL = np.dtype("<u4")
_JSON_INTEGER_MAX = 2**53  # larger integers do not survive a JavaScript client


# --- Player -> pod -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclasses.dataclass(frozen=True, slots=True)
class Place:
    id: Any
    x: int
    y: int
    c: int


@dataclasses.dataclass(frozen=True, slots=True)
class Resync:
    pass


ClientMessage = Auth | Place | Resync


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Parse one text frame from a player; raise `ProtocolError` (code `bad_message`).

    The error carries the message's `id` (`place_id`) when the frame got far enough to have one.
    """
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProtocolError("expected a JSON object, got text that is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    kind = message.get("t")
    if kind == "place":
        return _parse_place(message)
    if kind == "auth":
        token = message.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("auth needs a non-empty string token")
        return Auth(token)
    if kind == "resync":
        return Resync()
    raise ProtocolError(f"unknown message type t={kind!r}; expected auth, place or resync")


def _parse_place(message: dict[str, Any]) -> Place:
    place_id = message.get("id")
    values = []
    for name in ("x", "y", "c"):
        value = message.get(name)
        if type(value) is not int or abs(value) > _JSON_INTEGER_MAX:
            raise ProtocolError(
                f"place needs whole numbers x, y and c; {name} is {value!r}", place_id
            )
        values.append(value)
    return Place(place_id, *values)


# --- Pod -> player: text -------------------------------------------------------------------


def encode_hello(config: LiveConfig, user: dict[str, str] | None, next_place_at_ms: int) -> bytes:
    hello = {"t": "hello", **config.public(), "user": user, "next_place_at_ms": next_place_at_ms}
    return orjson.dumps(hello)


def encode_placed(place: Place, next_place_at_ms: int) -> bytes:
    return orjson.dumps(
        {
            "t": "placed",
            "id": place.id,
            "x": place.x,
            "y": place.y,
            "c": place.c,
            "next_place_at_ms": next_place_at_ms,
        }
    )


def encode_error(
    place_id: Any, code: ErrorCode, message: str | None = None, retry_at_ms: int | None = None
) -> bytes:
    error: dict[str, Any] = {
        "t": "error",
        "id": place_id,
        "code": code.value,
        "message": message or ERROR_MESSAGES[code],
    }
    if retry_at_ms is not None:
        error["retry_at_ms"] = retry_at_ms
    return orjson.dumps(error)


def encode_tick(seq: int) -> bytes:
    return orjson.dumps({"t": "tick", "seq": seq})


# --- Binary canvas frames ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    width: int
    height: int
    pixels: np.ndarray  # uint8, width*height, row-major


@dataclasses.dataclass(frozen=True, slots=True)
class Delta:
    seq: int
    pixels: np.ndarray  # uint32 pixel indices, each once
    colors: np.ndarray  # uint8 palette indices


def encode_snapshot(seq: int, width: int, height: int, pixels: bytes | np.ndarray) -> bytes:
    """A snapshot frame; zlib level 1 (fast, and a canvas is mostly runs of a few colours)."""
    raw = pixels.tobytes() if isinstance(pixels, np.ndarray) else pixels
    if len(raw) != width * height:
        raise ValueError(
            f"snapshot of {width}x{height} needs {width * height} bytes, got {len(raw)}"
        )
    return _SNAPSHOT_HEADER.pack(SNAPSHOT, seq, width, height) + zlib.compress(raw, 1)


def decode_snapshot(frame: bytes) -> Snapshot:
    if len(frame) < _SNAPSHOT_HEADER.size or frame[0] != SNAPSHOT:
        raise ValueError("not a snapshot frame")
    _, seq, width, height = _SNAPSHOT_HEADER.unpack_from(frame)
    pixels = np.frombuffer(zlib.decompress(frame[_SNAPSHOT_HEADER.size :]), dtype=np.uint8)
    if pixels.size != width * height:
        raise ValueError(f"snapshot of {width}x{height} holds {pixels.size} pixels")
    return Snapshot(seq, width, height, pixels)


def encode_delta(seq: int, pixels: np.ndarray, colors: np.ndarray) -> bytes:
    if pixels.shape != colors.shape:
        raise ValueError("a delta needs one colour per pixel")
    return b"".join(
        (
            _DELTA_HEADER.pack(DELTA, seq, pixels.size),
            pixels.astype(_PIXEL, copy=False).tobytes(),
            colors.astype(np.uint8, copy=False).tobytes(),
        )
    )


def decode_delta(frame: bytes) -> Delta:
    if len(frame) < _DELTA_HEADER.size or frame[0] != DELTA:
        raise ValueError("not a delta frame")
    _, seq, n = _DELTA_HEADER.unpack_from(frame)
    if len(frame) != _DELTA_HEADER.size + 5 * n:
        raise ValueError(f"delta of {n} pixels must be {_DELTA_HEADER.size + 5 * n} bytes")
    start = _DELTA_HEADER.size
    pixels = np.frombuffer(frame, dtype=_PIXEL, count=n, offset=start)
    colors = np.frombuffer(frame, dtype=np.uint8, count=n, offset=start + 4 * n)
    return Delta(seq, pixels, colors)


def frame_seq(frame: bytes) -> int:
    """The `seq` of a snapshot or delta frame, without decoding the rest."""
    return int.from_bytes(frame[4:8], "little")


# --- Ticker -> pods (the bus) ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class BusDelta:
    frame: bytes
    published: float
    tick_us: int

    @property
    def seq(self) -> int:
        return frame_seq(self.frame)


def encode_bus_delta(frame: bytes, published: float, tick_us: int) -> bytes:
    return _BUS_DELTA_HEADER.pack(b"D", published, tick_us) + frame


def encode_notice(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"t": kind, **fields})


def decode_bus(message: bytes) -> BusDelta | dict[str, Any]:
    """A delta (from its binary header) or a notice (a JSON object)."""
    if message[:1] == b"D":
        _, published, tick_us = _BUS_DELTA_HEADER.unpack_from(message)
        return BusDelta(message[_BUS_DELTA_HEADER.size :], published, tick_us)
    notice = orjson.loads(message)
    if not isinstance(notice, dict) or "t" not in notice:
        raise ValueError("a bus notice must be a JSON object with a type t")
    return notice
