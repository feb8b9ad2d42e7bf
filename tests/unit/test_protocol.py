"""The wire format, byte for byte as the contract fixes it."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from place import protocol
from place.config import LiveConfig
from place.errors import ProtocolError
from place.status import ErrorCode

CONFIG = LiveConfig(width=3, height=2, palette=("#ffffff", "#000000"), cooldown_ms=5000, open=True)


def test_snapshot_layout_is_the_contracts() -> None:
    pixels = bytes([0, 1, 1, 0, 0, 1])
    frame = protocol.encode_snapshot(seq=258, width=3, height=2, pixels=pixels)
    assert frame[:4] == b"\x01\x00\x00\x00"
    assert frame[4:8] == (258).to_bytes(4, "little")
    assert frame[8:10] == (3).to_bytes(2, "little")
    assert frame[10:12] == (2).to_bytes(2, "little")
    assert zlib.decompress(frame[12:]) == pixels  # RFC 1950 zlib stream, row-major


def test_snapshot_round_trip() -> None:
    pixels = np.arange(12, dtype=np.uint8)
    snapshot = protocol.decode_snapshot(protocol.encode_snapshot(7, 4, 3, pixels))
    assert (snapshot.seq, snapshot.width, snapshot.height) == (7, 4, 3)
    assert snapshot.pixels.tolist() == list(range(12))


def test_snapshot_refuses_wrong_pixel_count() -> None:
    with pytest.raises(ValueError, match="needs 6 bytes"):
        protocol.encode_snapshot(1, 3, 2, b"\x00")


def test_delta_layout_is_the_contracts() -> None:
    frame = protocol.encode_delta(
        5, np.array([1, 70000], dtype=np.uint32), np.array([3, 31], dtype=np.uint8)
    )
    expected = (
        b"\x02\x00\x00\x00"
        + struct.pack("<I", 5)
        + struct.pack("<I", 2)
        + struct.pack("<II", 1, 70000)
        + bytes([3, 31])
    )
    assert frame == expected


def test_delta_round_trip_and_seq_peek() -> None:
    frame = protocol.encode_delta(
        9, np.array([4, 8, 15], dtype=np.uint32), np.array([1, 2, 3], np.uint8)
    )
    delta = protocol.decode_delta(frame)
    assert delta.seq == 9 == protocol.frame_seq(frame)
    assert delta.pixels.tolist() == [4, 8, 15]
    assert delta.colors.tolist() == [1, 2, 3]


def test_delta_with_wrong_length_is_refused() -> None:
    frame = protocol.encode_delta(1, np.array([4], np.uint32), np.array([1], np.uint8))
    with pytest.raises(ValueError, match="must be 17 bytes"):
        protocol.decode_delta(frame[:-1])


def test_hello_carries_the_contracts_fields() -> None:
    hello = orjson.loads(protocol.encode_hello(CONFIG, {"id": "u1", "name": "Ann"}, 123))
    assert hello == {
        "t": "hello",
        "v": 1,
        "width": 3,
        "height": 2,
        "palette": ["#ffffff", "#000000"],
        "cooldown_ms": 5000,
        "open": True,
        "user": {"id": "u1", "name": "Ann"},
        "next_place_at_ms": 123,
    }


def test_placed_echoes_any_json_id() -> None:
    place = protocol.Place(id={"k": [1, "a"]}, x=1, y=2, c=3)
    placed = orjson.loads(protocol.encode_placed(place, 99))
    assert placed == {
        "t": "placed",
        "id": {"k": [1, "a"]},
        "x": 1,
        "y": 2,
        "c": 3,
        "next_place_at_ms": 99,
    }


def test_error_has_retry_at_only_when_given() -> None:
    error = orjson.loads(protocol.encode_error(7, ErrorCode.COOLDOWN, retry_at_ms=1000))
    assert error["t"] == "error" and error["id"] == 7 and error["code"] == "cooldown"
    assert error["retry_at_ms"] == 1000 and error["message"]
    assert "retry_at_ms" not in orjson.loads(protocol.encode_error(None, ErrorCode.CLOSED))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"t":"auth","token":"abc"}', protocol.Auth("abc")),
        ('{"t":"place","id":7,"x":12,"y":34,"c":5}', protocol.Place(7, 12, 34, 5)),
        ('{"t":"place","x":0,"y":0,"c":0}', protocol.Place(None, 0, 0, 0)),
        ('{"t":"resync"}', protocol.Resync()),
    ],
)
def test_client_messages_parse(text: str, expected: protocol.ClientMessage) -> None:
    assert protocol.parse_client_message(text) == expected


@pytest.mark.parametrize(
    ("text", "match", "place_id"),
    [
        ("not json", "not JSON", None),
        ("[1,2]", "got list", None),
        ('{"t":"dance"}', "unknown message type", None),
        ('{"t":"auth","token":""}', "non-empty string token", None),
        ('{"t":"place","id":"a","x":"1","y":2,"c":3}', "x is '1'", "a"),
        ('{"t":"place","id":4,"x":1,"y":2.5,"c":3}', "y is 2.5", 4),
        ('{"t":"place","id":5,"x":1,"y":2,"c":true}', "c is True", 5),
        ('{"t":"place","id":6,"x":1,"y":2}', "c is None", 6),
    ],
)
def test_bad_client_messages_say_what_is_wrong(text: str, match: str, place_id: object) -> None:
    with pytest.raises(ProtocolError, match=match) as caught:
        protocol.parse_client_message(text)
    assert caught.value.place_id == place_id


# --- the pod's fast path for placements (`parse_place`): the full parser's answer, always ---

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
COORDINATES = (
    st.integers(-(2**53) - 2, 2**53 + 2)
    | st.integers(-(2**63), 2**64 - 1)
    | st.sampled_from([0, -1, 2**53, -(2**53), 2**53 + 1, 1.0, 2.5, True, False, None, "1"])
)


@st.composite
def place_like(draw: st.DrawFn) -> bytes:
    """Text a player might send: mostly a placement, some of it wrong in every way the contract
    names (a missing or extra field, a value of the wrong type or size, another type `t`)."""
    message: dict[str, object] = {"t": draw(st.sampled_from(["place"] * 8 + ["auth", "resync", 1]))}
    if draw(st.booleans()):
        message["id"] = draw(st.integers(-(2**63), 2**64 - 1) | JSON_VALUES)
    for name in ("x", "y", "c"):
        if draw(st.integers(0, 9)):  # now and then a field is missing
            message[name] = draw(COORDINATES)
    if not draw(st.integers(0, 5)):
        message[draw(st.text(max_size=3))] = draw(JSON_VALUES)
    names = draw(st.permutations(list(message)))
    text = orjson.dumps({name: message[name] for name in names})
    if not draw(st.integers(0, 9)):  # a key given twice: JSON takes the last
        text = text[:-1] + b',"x":' + orjson.dumps(draw(COORDINATES)) + b"}"
    return text


def full_parse(data: bytes) -> object:
    try:
        return protocol.parse_client_message(data)
    except ProtocolError as error:
        return error


def same(a: protocol.Place, b: protocol.Place) -> bool:
    """Equal field by field, types too (1 == 1.0 == True in a tuple comparison)."""
    return orjson.dumps(list(a)) == orjson.dumps(list(b)) and [type(v) for v in a] == [
        type(v) for v in b
    ]


@given(place_like() | st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_the_fast_placement_parser_agrees_with_the_full_one(data: bytes) -> None:
    fast, full = protocol.parse_place(data), full_parse(data)
    if isinstance(full, protocol.Place):
        assert fast is not None and type(fast) is protocol.Place and same(fast, full)
    else:  # anything else is left to the full parser, which answers it
        assert fast is None


@given(
    st.integers(-(2**63), 2**64 - 1) | st.none() | st.text(max_size=8),
    st.integers(-(2**53), 2**53),
    st.integers(-(2**53), 2**53),
    st.integers(-(2**53), 2**53),
)
def test_every_placement_the_page_sends_takes_the_fast_path(
    place_id: object, x: int, y: int, c: int
) -> None:
    text = orjson.dumps({"t": "place", "id": place_id, "x": x, "y": y, "c": c})
    fast = protocol.parse_place(text)
    assert fast is not None and same(fast, protocol.Place(place_id, x, y, c))


def test_bus_delta_round_trip() -> None:
    frame = protocol.encode_delta(3, np.array([1], np.uint32), np.array([2], np.uint8))
    message = protocol.encode_bus_delta(frame, published=1700000000.25, tick_us=1234)
    bus = protocol.decode_bus(message)
    assert isinstance(bus, protocol.BusDelta)
    assert (bus.frame, bus.published, bus.tick_us, bus.seq) == (frame, 1700000000.25, 1234, 3)


def test_bus_notice_round_trip() -> None:
    notice = protocol.decode_bus(protocol.encode_notice("tick", seq=12))
    assert notice == {"t": "tick", "seq": 12}


# --- the compact delta (0x03) and the checksum, for /ws?v=2 ---------------------------------

_CANVAS_2022 = 2000 * 2000


@st.composite
def deltas(draw: st.DrawFn, size: int = _CANVAS_2022) -> tuple[np.ndarray, np.ndarray]:
    """A tick's delta as the ticker makes it: distinct pixels ascending, one colour each."""
    pixels = draw(st.sets(st.integers(0, size - 1), max_size=300))
    colors = draw(st.lists(st.integers(0, 255), min_size=len(pixels), max_size=len(pixels)))
    return np.array(sorted(pixels), np.uint32), np.array(colors, np.uint8)


def test_compact_delta_layout_is_the_contracts() -> None:
    pixels = np.array([1, 130, 70000], np.uint32)
    frame = protocol.encode_compact_delta(5, pixels, np.array([3, 31, 0], np.uint8))
    assert frame[:4] == b"\x03\x00\x00\x00"
    assert frame[4:8] == struct.pack("<I", 5)
    assert frame[8:12] == struct.pack("<I", 3)
    # varints: 1 as is, then 129 = 130 - 1 and 69870 = 70000 - 130; then the colours
    assert zlib.decompress(frame[12:]) == bytes([0x01, 0x81, 0x01, 0xEE, 0xA1, 0x04, 3, 31, 0])


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16383, "ff7f"),
        (16384, "808001"),
        (2**21, "80808001"),
        (2**28, "8080808001"),
        (2**32 - 1, "ffffffff0f"),
    ],
)
def test_leb128_at_every_length_boundary(value: int, encoded: str) -> None:
    assert protocol.leb128_encode(np.array([value], np.uint32)).hex() == encoded
    values, used = protocol.leb128_decode(np.frombuffer(bytes.fromhex(encoded), np.uint8), 1)
    assert values.tolist() == [value] and used == len(encoded) // 2


@given(deltas(), st.integers(0, 2**32 - 1))
def test_compact_delta_round_trips(delta: tuple[np.ndarray, np.ndarray], seq: int) -> None:
    pixels, colors = delta
    frame = protocol.encode_compact_delta(seq, pixels, colors)
    decoded = protocol.decode_compact_delta(frame)
    assert decoded.seq == seq == protocol.frame_seq(frame)
    assert decoded.pixels.dtype == np.uint32 and decoded.pixels.tolist() == pixels.tolist()
    assert decoded.colors.tolist() == colors.tolist()
    # the same pixels as the 0x02 frame of the same tick
    plain = protocol.decode_any_delta(protocol.encode_delta(seq, pixels, colors))
    assert protocol.decode_any_delta(frame).pixels.tolist() == plain.pixels.tolist()


@given(st.sets(st.integers(0, 2**32 - 1), min_size=1, max_size=50))
def test_compact_delta_takes_any_u32_pixel(pixels: set[int]) -> None:
    ordered = np.array(sorted(pixels), np.uint32)
    colors = np.arange(ordered.size, dtype=np.uint8)
    decoded = protocol.decode_compact_delta(protocol.encode_compact_delta(1, ordered, colors))
    assert decoded.pixels.tolist() == ordered.tolist()


def test_empty_compact_delta() -> None:
    frame = protocol.encode_compact_delta(9, np.empty(0, np.uint32), np.empty(0, np.uint8))
    assert frame[8:12] == b"\x00\x00\x00\x00" and zlib.decompress(frame[12:]) == b""
    decoded = protocol.decode_compact_delta(frame)
    assert decoded.seq == 9 and decoded.pixels.size == 0 and decoded.colors.size == 0


@pytest.mark.parametrize("pixel", [0, 1, 999_999, 2**32 - 1])
def test_single_pixel_compact_delta(pixel: int) -> None:
    frame = protocol.encode_compact_delta(2, np.array([pixel], np.uint32), np.array([7], np.uint8))
    decoded = protocol.decode_compact_delta(frame)
    assert decoded.pixels.tolist() == [pixel] and decoded.colors.tolist() == [7]


@pytest.mark.parametrize(("width", "height"), [(1000, 1000), (2000, 2000)])
def test_full_canvas_compact_delta(width: int, height: int) -> None:
    """Every pixel at once (a wipe of the whole canvas): one byte a pixel before zlib."""
    pixels = np.arange(width * height, dtype=np.uint32)
    colors = (pixels % 32).astype(np.uint8)
    frame = protocol.encode_compact_delta(3, pixels, colors)
    decoded = protocol.decode_compact_delta(frame)
    assert np.array_equal(decoded.pixels, pixels) and np.array_equal(decoded.colors, colors)
    assert len(frame) < width * height // 50  # steps of 1 and a repeating pattern: tiny


def test_compact_delta_needs_ascending_distinct_pixels() -> None:
    colors = np.array([1, 2], np.uint8)
    for pixels in ([5, 5], [6, 5]):
        with pytest.raises(ValueError, match="ascending"):
            protocol.encode_compact_delta(1, np.array(pixels, np.uint32), colors)


def _compact(seq: int, n: int, body: bytes) -> bytes:
    return struct.pack("<B3xII", 3, seq, n) + zlib.compress(body)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (b"\x03\x00\x00", "not a compact delta"),
        (protocol.encode_delta(1, np.array([4], np.uint32), np.array([1], np.uint8)), "not a"),
        (_compact(1, 2, bytes([1, 2, 7])), "need"),  # one colour short
        (_compact(1, 1, bytes([1, 7, 7])), "need"),  # a byte too many
        (_compact(1, 1, bytes([0x80, 0x80])), "varints"),  # a varint that never ends
        (_compact(1, 2, bytes([0x80] * 5 + [1, 7, 7])), "longer than 5"),
        (_compact(1, 1, bytes(7)), "more bytes than 1 pixels"),
        (_compact(1, 2, bytes([4, 0, 1, 1])), "ascending"),  # the same pixel twice
        (struct.pack("<B3xII", 3, 1, 1) + b"not zlib", "zlib"),
        (_compact(1, 1, bytes([1, 7]))[:-2], "end the frame"),  # stream cut short
        (_compact(1, 1, bytes([1, 7])) + b"\x00", "end the frame"),  # bytes after the stream
        (_compact(1, 2, bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 1, 1])), "past u32"),
    ],
)
def test_bad_compact_deltas_are_refused(frame: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        protocol.decode_compact_delta(frame)


def test_compact_delta_is_smaller_than_the_plain_one() -> None:
    """The issue's target: at most 2.2 bytes a pixel for 4,000 random placements (1000x1000)."""
    rng = np.random.default_rng(1)
    pixels = np.sort(rng.choice(1_000_000, 4000, replace=False)).astype(np.uint32)
    colors = rng.integers(0, 32, 4000).astype(np.uint8)
    compact = protocol.encode_compact_delta(1, pixels, colors)
    assert len(protocol.encode_delta(1, pixels, colors)) == 12 + 5 * 4000
    assert len(compact) + 4 <= 2.2 * 4000  # with its websocket header


def test_sum_frame() -> None:
    assert orjson.loads(protocol.encode_sum(12, 4_000_000_000)) == {
        "t": "sum",
        "seq": 12,
        "crc32": 4_000_000_000,
    }


def test_bus_carries_both_frames_of_a_tick() -> None:
    pixels, colors = np.array([1, 9], np.uint32), np.array([2, 3], np.uint8)
    frame = protocol.encode_delta(3, pixels, colors)
    compact = protocol.encode_compact_delta(3, pixels, colors)
    bus = protocol.decode_bus(protocol.encode_bus_delta(frame, 1.5, 77, compact))
    assert isinstance(bus, protocol.BusDelta)
    assert (bus.frame, bus.compact, bus.published, bus.tick_us, bus.seq) == (
        frame,
        compact,
        1.5,
        77,
        3,
    )
    old = protocol.decode_bus(protocol.encode_bus_delta(frame, 1.5, 77))  # a ticker before 0x03
    assert isinstance(old, protocol.BusDelta) and old.compact is None and old.frame == frame
