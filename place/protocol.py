"""The wire format: every frame between players and pods, and between the ticker and pods.

Pure functions and plain data, no I/O. Integers are little-endian, as the contract fixes them:

    snapshot  0x01 00 00 00 | u32 seq | u16 width | u16 height | zlib(width*height u8, row-major)
    delta     0x02 00 00 00 | u32 seq | u32 n | n x u32 pixel (y*width+x) | n x u8 colour
    compact   0x03 00 00 00 | u32 seq | u32 n | zlib(n LEB128 varints: the pixels ascending, the
              first as is, each next as its difference from the one before | n x u8 colour)

The compact delta goes only to players that connected with `/ws?v=2`; they also get the text frame
`{"t":"sum","seq":N,"crc32":C}` instead of the periodic snapshot. Text frames are JSON objects with
a type field `t` (see the contract for each).

The bus (ticker -> pods, over Redis pub/sub) carries these messages:

    delta     b"D" | f64 published (Unix s) | u32 previous tick's duration (us) | the delta frame
    deltas    b"E" | f64 published | u32 tick_us | u32 length of the delta frame | the delta frame
              | the compact delta frame of the same tick
    notice    a JSON object: {"t":"tick","seq":N} heartbeat, {"t":"snapshot",...} a new snapshot

The ticker publishes "E"; a pod still understands "D" (it then encodes the compact frame itself).
A pod forwards both frames to its players byte for byte: the ticker encodes each once.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from typing import Any, NamedTuple

import numpy as np
import orjson

from place.config import LiveConfig
from place.errors import ProtocolError
from place.status import ERROR_MESSAGES, ErrorCode

SNAPSHOT = 0x01
DELTA = 0x02
COMPACT_DELTA = 0x03
PROTOCOL_VERSION = 1

# zlib levels, chosen by measurement (docs/performance.md, `python -m bench.run --scenario egress`)
SNAPSHOT_LEVEL = 1  # the ticker's snapshot for Redis (encoded inside a tick, so fast)
COMPACT_LEVEL = 6  # level 9 makes no smaller compact deltas and costs up to 6x the CPU

_SNAPSHOT_HEADER = struct.Struct("<B3xIHH")  # kind, seq, width, height: 12 bytes
_DELTA_HEADER = struct.Struct("<B3xII")  # kind, seq, n: 12 bytes (0x02 and 0x03)
_BUS_DELTA_HEADER = struct.Struct("<cdI")  # b"D", published, tick_us: 13 bytes
_BUS_DELTAS_HEADER = struct.Struct("<cdII")  # b"E", published, tick_us, len(delta): 17 bytes
_PIXEL = np.dtype("<u4")
_SPLIT_FROM = 64  # pixels from which a compact delta's colours get a deflate block of their own
_JSON_INTEGER_MAX = 2**53  # larger integers do not survive a JavaScript client


# --- Player -> pod -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Auth:
    token: str


class Place(NamedTuple):  # a tuple: made per placement, and a frozen dataclass costs 4x as much
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


_loads, _new_tuple = orjson.loads, tuple.__new__


def parse_place(data: str | bytes) -> Place | None:
    """The placement in a text frame from a player, the same `Place` as `parse_client_message`
    gives; None for anything else (another message, or a bad one: `parse_client_message` says
    what is wrong). The pod's hot path (`Pod._take`): one call, no exception, no dict built
    twice."""
    try:
        message = _loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(message) is dict and message.get("t") == "place":
        x, y, c = message.get("x"), message.get("y"), message.get("c")
        if (
            type(x) is int
            and type(y) is int
            and type(c) is int
            and -_JSON_INTEGER_MAX <= x <= _JSON_INTEGER_MAX
            and -_JSON_INTEGER_MAX <= y <= _JSON_INTEGER_MAX
            and -_JSON_INTEGER_MAX <= c <= _JSON_INTEGER_MAX
        ):
            return _new_tuple(Place, (message.get("id"), x, y, c))  # Place() costs a call more
    return None


def _parse_place(message: dict[str, Any]) -> Place:
    place_id = message.get("id")
    x, y, c = message.get("x"), message.get("y"), message.get("c")
    if (
        type(x) is int
        and type(y) is int
        and type(c) is int
        and abs(x) <= _JSON_INTEGER_MAX
        and abs(y) <= _JSON_INTEGER_MAX
        and abs(c) <= _JSON_INTEGER_MAX
    ):
        return Place(place_id, x, y, c)
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


def encode_sum(seq: int, crc32: int) -> bytes:
    """The checksum a `/ws?v=2` player gets instead of the periodic snapshot."""
    return b'{"t":"sum","seq":%d,"crc32":%d}' % (seq, crc32)


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


def encode_snapshot(
    seq: int, width: int, height: int, pixels: bytes | np.ndarray, level: int = SNAPSHOT_LEVEL
) -> bytes:
    """A snapshot frame. zlib releases the GIL: a pod encodes its own in a worker thread."""
    raw = pixels.tobytes() if isinstance(pixels, np.ndarray) else pixels
    if len(raw) != width * height:
        raise ValueError(
            f"snapshot of {width}x{height} needs {width * height} bytes, got {len(raw)}"
        )
    return _SNAPSHOT_HEADER.pack(SNAPSHOT, seq, width, height) + zlib.compress(raw, level)


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


def encode_compact_delta(
    seq: int, pixels: np.ndarray, colors: np.ndarray, level: int = COMPACT_LEVEL
) -> bytes:
    """A compact delta frame (0x03): the same pixels as `encode_delta`, in about 40 % of the bytes.

    `pixels` must be ascending with no repeat (as `coalesce` makes them). From 64 pixels on, the
    varints and the colours go into separate deflate blocks of the one zlib stream, so each gets
    its own Huffman table (about 7 % smaller on scattered placements than one block). Under about
    20 pixels the frame is a few bytes larger than 0x02: zlib's own header and checksum.
    """
    if pixels.shape != colors.shape or pixels.ndim != 1:
        raise ValueError("a delta needs one colour per pixel")
    pixels = pixels.astype(np.int64, copy=False)
    if pixels.size and (pixels[0] < 0 or pixels[-1] >= 2**32):
        raise ValueError("pixel indices must be u32")
    steps = np.diff(pixels, prepend=0)
    if pixels.size > 1 and steps[1:].min() <= 0:
        raise ValueError("a compact delta needs its pixels ascending, each once")
    compressor = zlib.compressobj(level)
    body = compressor.compress(leb128_encode(steps))
    if pixels.size >= _SPLIT_FROM:
        body += compressor.flush(zlib.Z_BLOCK)
    body += compressor.compress(colors.astype(np.uint8, copy=False).tobytes())
    return _DELTA_HEADER.pack(COMPACT_DELTA, seq, pixels.size) + body + compressor.flush()


def decode_compact_delta(frame: bytes) -> Delta:
    """Decode a compact delta frame; `ValueError` when it does not follow the contract."""
    if len(frame) < _DELTA_HEADER.size or frame[0] != COMPACT_DELTA:
        raise ValueError("not a compact delta frame")
    _, seq, n = _DELTA_HEADER.unpack_from(frame)
    most = 6 * n  # at most 5 bytes of varint and 1 of colour per pixel
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(memoryview(frame)[_DELTA_HEADER.size :], most + 1)
    except zlib.error as error:
        raise ValueError(f"compact delta {seq}: bad zlib stream ({error})") from None
    if len(body) > most:
        raise ValueError(f"compact delta {seq}: more bytes than {n} pixels can take")
    if not inflater.eof or inflater.unused_data:
        raise ValueError(f"compact delta {seq}: the zlib stream must end the frame")
    data = np.frombuffer(body, dtype=np.uint8)
    steps, used = leb128_decode(data, n)
    if len(body) != used + n:
        raise ValueError(f"compact delta {seq}: {n} pixels need {used + n} bytes, got {len(body)}")
    if n > 1 and steps[1:].min() == 0:
        raise ValueError(f"compact delta {seq}: pixels must be ascending, each once")
    pixels = np.cumsum(steps, dtype=np.uint64)
    if n and pixels[-1] >= 2**32:
        raise ValueError(f"compact delta {seq}: pixel index past u32")
    return Delta(seq, pixels.astype(np.uint32), data[used:].copy())


def leb128_encode(values: np.ndarray) -> bytes:
    """Unsigned LEB128 varints of u32 values: 7 bits a byte, low bits first, high bit = more."""
    values = values.astype(np.uint32, copy=False)
    if values.size == 0:
        return b""
    length = np.ones(values.size, np.intp)
    for k in range(1, 5):
        length += values >= (1 << (7 * k))
    starts = np.cumsum(length) - length
    out = np.empty(int(starts[-1] + length[-1]), np.uint8)
    for k in range(5):  # byte k of every varint that has one
        has = length > k
        if not has.any():
            break
        part = values[has] >> np.uint32(7 * k)
        out[starts[has] + k] = (part & 0x7F) | ((part >= 0x80).astype(np.uint32) << 7)
    return out.tobytes()


def leb128_decode(data: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """The first `n` varints of `data` (uint8) as uint64, and how many bytes they took."""
    if n == 0:
        return np.empty(0, np.uint64), 0
    ends = np.flatnonzero(data < 0x80)[:n]
    if ends.size < n:
        raise ValueError(f"expected {n} varints, found {ends.size}")
    starts = np.empty(n, np.intp)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 5:
        raise ValueError("a varint longer than 5 bytes does not fit u32")
    used = int(ends[-1]) + 1
    shift = (np.arange(used) - np.repeat(starts, lengths)).astype(np.uint64) * np.uint64(7)
    values = np.add.reduceat((data[:used] & 0x7F).astype(np.uint64) << shift, starts)
    if values.max() >= 2**32:
        raise ValueError("a varint past u32")
    return values, used


def decode_any_delta(frame: bytes) -> Delta:
    """A 0x02 or 0x03 delta frame."""
    return decode_compact_delta(frame) if frame[:1] == b"\x03" else decode_delta(frame)


def frame_seq(frame: bytes) -> int:
    """The `seq` of a snapshot or delta frame, without decoding the rest."""
    return int.from_bytes(frame[4:8], "little")


# --- Ticker -> pods (the bus) ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class BusDelta:
    frame: bytes  # 0x02
    published: float
    tick_us: int
    compact: bytes | None = None  # 0x03 of the same tick (None from a ticker that sent "D")

    @property
    def seq(self) -> int:
        return frame_seq(self.frame)


def encode_bus_delta(
    frame: bytes, published: float, tick_us: int, compact: bytes | None = None
) -> bytes:
    if compact is None:
        return _BUS_DELTA_HEADER.pack(b"D", published, tick_us) + frame
    return b"".join((_BUS_DELTAS_HEADER.pack(b"E", published, tick_us, len(frame)), frame, compact))


def encode_notice(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"t": kind, **fields})


def decode_bus(message: bytes) -> BusDelta | dict[str, Any]:
    """A delta (from its binary header) or a notice (a JSON object)."""
    if message[:1] == b"E":
        _, published, tick_us, size = _BUS_DELTAS_HEADER.unpack_from(message)
        start = _BUS_DELTAS_HEADER.size
        frame, compact = message[start : start + size], message[start + size :]
        return BusDelta(frame, published, tick_us, compact)
    if message[:1] == b"D":
        _, published, tick_us = _BUS_DELTA_HEADER.unpack_from(message)
        return BusDelta(message[_BUS_DELTA_HEADER.size :], published, tick_us)
    notice = orjson.loads(message)
    if not isinstance(notice, dict) or "t" not in notice:
        raise ValueError("a bus notice must be a JSON object with a type t")
    return notice
