"""Pre-encoded server frames parse as RFC 6455 frames (checked by the websockets library)."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from place.api.frames import binary_frame, text_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("frame incomplete")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_binary_frames_of_every_length_class(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = parse(binary_frame(payload))
    assert frame.opcode is Opcode.BINARY and frame.fin and frame.data == payload


def test_text_frame() -> None:
    frame = parse(text_frame(b'{"t":"tick","seq":1}'))
    assert frame.opcode is Opcode.TEXT and frame.data == b'{"t":"tick","seq":1}'


@pytest.mark.parametrize("size", [0, 1, 124, 125, 126, 127, 65535, 65536])
def test_text_frames_of_every_length_class(size: int) -> None:
    payload = b"x" * size
    frame = parse(text_frame(payload))
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data == payload
