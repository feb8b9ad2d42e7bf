"""The wire format, byte for byte as the contract fixes it."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import orjson
import pytest

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


def test_bus_delta_round_trip() -> None:
    frame = protocol.encode_delta(3, np.array([1], np.uint32), np.array([2], np.uint8))
    message = protocol.encode_bus_delta(frame, published=1700000000.25, tick_us=1234)
    bus = protocol.decode_bus(message)
    assert isinstance(bus, protocol.BusDelta)
    assert (bus.frame, bus.published, bus.tick_us, bus.seq) == (frame, 1700000000.25, 1234, 3)


def test_bus_notice_round_trip() -> None:
    notice = protocol.decode_bus(protocol.encode_notice("tick", seq=12))
    assert notice == {"t": "tick", "seq": 12}
