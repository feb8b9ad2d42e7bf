"""The pod's canvas frames: a snapshot (the base) and the deltas after it, in each player's format,
the base encoded again in a worker thread once the deltas after it have grown. No Redis here: the
mirror is fed bus messages as the ticker publishes them."""

from __future__ import annotations

import asyncio
import zlib

import numpy as np
import pytest
from websockets.frames import Frame
from websockets.streams import StreamReader

from place import protocol
from place.api import mirror as mirror_module
from place.api.frames import binary_frame
from place.api.hub import Hub
from place.api.mirror import Mirror
from place.config import LiveConfig
from place.keys import Keys
from place.metrics import Metrics

CONFIG = LiveConfig(width=64, height=48, palette=("#ffffff", "#000000"), cooldown_ms=0, open=True)


def payload(frame: bytes) -> bytes:
    """The payload of one server websocket frame."""
    reader = StreamReader()
    reader.feed_data(frame)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value.data
    raise AssertionError("frame incomplete")


def loaded_mirror() -> Mirror:
    mirror = Mirror(None, Keys(), Hub(resync_s=60), Metrics(), lambda connection: b"")  # type: ignore[arg-type]
    mirror.config = CONFIG
    mirror.canvas = np.zeros(64 * 48, np.uint8)
    mirror.seq = 10
    snapshot = protocol.encode_snapshot(10, 64, 48, mirror.canvas)
    mirror._set_base(10, binary_frame(snapshot))
    return mirror


async def publish(mirror: Mirror, seq: int, pixels: list[int], colors: list[int]) -> None:
    p, c = np.array(pixels, np.uint32), np.array(colors, np.uint8)
    frame = protocol.encode_delta(seq, p, c)
    compact = protocol.encode_compact_delta(seq, p, c)
    await mirror.handle(protocol.encode_bus_delta(frame, 0.0, 0, compact))


def canvas_of(frames: tuple[bytes, ...]) -> tuple[int, np.ndarray]:
    """What a player makes of the frames: the snapshot, then each delta after it."""
    snapshot = protocol.decode_snapshot(payload(frames[0]))
    canvas, seq = snapshot.pixels.copy(), snapshot.seq
    for frame in frames[1:]:
        delta = protocol.decode_any_delta(payload(frame))
        assert delta.seq == seq + 1
        canvas[delta.pixels] = delta.colors
        seq = delta.seq
    return seq, canvas


async def test_the_canvas_is_the_base_and_the_deltas_after_it_in_each_format() -> None:
    mirror = loaded_mirror()
    await publish(mirror, 11, [1, 2], [1, 1])
    await publish(mirror, 12, [2, 700], [0, 1])
    plain, compact = mirror.catch_up(False), mirror.catch_up(True)
    assert [payload(f)[0] for f in plain] == [1, 2, 2]
    assert [payload(f)[0] for f in compact] == [1, 3, 3]
    for frames in (plain, compact):
        seq, canvas = canvas_of(frames)
        assert seq == 12 and np.array_equal(canvas, mirror.canvas)
    assert mirror.catch_up(True) is compact  # once per seq


async def test_the_base_is_encoded_again_off_the_loop_once_the_tail_has_grown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mirror_module, "TAIL_FLOOR", 10)
    mirror = loaded_mirror()
    rng = np.random.default_rng(3)
    for seq in range(11, 16):
        pixels = np.unique(rng.integers(0, 64 * 48, 50))
        await publish(mirror, seq, pixels.tolist(), rng.integers(0, 2, pixels.size).tolist())
    assert len(mirror.catch_up(False)) > 1  # the deltas after the base, and it asks for a new one
    async with asyncio.timeout(5):
        while len(mirror.catch_up(False)) > 1:  # each call asks again while the tail is long
            await asyncio.sleep(0.01)
    assert mirror.snapshots_encoded >= 1
    seq, canvas = canvas_of(mirror.catch_up(False))  # the new base holds every delta
    assert seq == 15 and np.array_equal(canvas, mirror.canvas)


def test_the_checksum_is_of_the_canvas_at_the_current_seq() -> None:
    mirror = loaded_mirror()
    mirror.canvas[5] = 1
    mirror.seq = 11
    text = payload(mirror.sum_frame())
    assert text == protocol.encode_sum(11, zlib.crc32(mirror.canvas))
