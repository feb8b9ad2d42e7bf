"""The local fan-out and its slow-client policy, with fake transports (no sockets needed here:
the policy is pure bookkeeping over each transport's buffer size)."""

from __future__ import annotations

import asyncio

from place.api.hub import CatchUp, Connection, FastReader, Hub, Inbox


class FakeTransport:
    """Stands in for an asyncio transport: records writes, reports a chosen buffer size."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing


class FakeProtocol:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.close_sent = False


def connect(hub: Hub, v2: bool = False) -> FakeTransport:
    protocol = FakeProtocol()
    hub.add(Connection(protocol, None, resync_at=0, v2=v2))
    return protocol.transport


def canvas(name: bytes) -> CatchUp:
    """The canvas frames a player of each format gets (here one stand-in frame each)."""
    return lambda v2: [name + b"-v2" if v2 else name]


def test_every_player_gets_the_same_frame() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    transports = [connect(hub) for _ in range(3)]
    hub.deliver_delta(b"delta-1", b"delta-1-v2", canvas(b"snapshot"))
    assert [t.written for t in transports] == [[b"delta-1"]] * 3
    assert hub.frames_delivered == 3


def test_a_slow_player_skips_deltas_then_gets_one_snapshot() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    fast, slow = connect(hub), connect(hub)
    slow.buffered = 500
    hub.deliver_delta(b"delta-1", b"delta-1-v2", canvas(b"snapshot-1"))
    hub.deliver_delta(b"delta-2", b"delta-2-v2", canvas(b"snapshot-2"))
    assert fast.written == [b"delta-1", b"delta-2"]
    assert slow.written == []
    slow.buffered = 50  # draining, but not yet below the low-water mark
    hub.deliver_delta(b"delta-3", b"delta-3-v2", canvas(b"snapshot-3"))
    assert slow.written == []
    slow.buffered = 0
    hub.deliver_delta(b"delta-4", b"delta-4-v2", canvas(b"snapshot-4"))
    hub.deliver_delta(b"delta-5", b"delta-5-v2", canvas(b"snapshot-5"))
    assert slow.written == [b"snapshot-4", b"delta-5"]
    assert fast.written[-1] == b"delta-5"
    assert hub.frames_dropped == 3


def test_closing_connections_are_not_written() -> None:
    hub = Hub(resync_s=60)
    transport = connect(hub)
    transport.closing = True
    hub.deliver_delta(b"delta", b"delta-v2", canvas(b"snapshot"))
    assert transport.written == []


def test_the_heartbeat_goes_only_where_no_delta_went_lately() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    reading, slow = connect(hub), connect(hub)
    hub.heartbeat(b"tick", every_s=5)  # a quiet canvas: everyone hears that the socket lives
    assert reading.written == slow.written == [b"tick"]
    slow.buffered = 500
    hub.deliver_delta(b"delta", b"delta-v2", canvas(b"snapshot"))  # the slow one goes stale
    hub.heartbeat(b"tick", every_s=5)  # within 5 s of a delta: only who missed it
    assert reading.written == [b"tick", b"delta"]
    assert slow.written == [b"tick", b"tick"]
    hub.delta_at -= 5  # 5 s later, no delta since: everyone again
    hub.heartbeat(b"tick", every_s=5)
    assert reading.written == [b"tick", b"delta", b"tick"]


def test_resync_sends_a_snapshot_when_due() -> None:
    hub = Hub(resync_s=60)
    transport = connect(hub)  # resync_at=0: due now
    hub.resync_due(canvas(b"snapshot"), lambda: b"sum")
    hub.resync_due(canvas(b"snapshot"), lambda: b"sum")  # not due again for 60 s
    assert transport.written == [b"snapshot"]


def test_each_player_gets_the_delta_in_the_format_it_asked_for() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    plain, compact = connect(hub), connect(hub, v2=True)
    hub.deliver_delta(b"delta-1", b"delta-1-v2", canvas(b"snapshot"))
    assert plain.written == [b"delta-1"]
    assert compact.written == [b"delta-1-v2"]


def test_a_slow_v2_player_catches_up_in_its_own_format() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    slow = connect(hub, v2=True)
    slow.buffered = 500
    hub.deliver_delta(b"delta-1", b"delta-1-v2", canvas(b"snapshot-1"))
    slow.buffered = 0
    hub.deliver_delta(b"delta-2", b"delta-2-v2", canvas(b"snapshot-2"))
    assert slow.written == [b"snapshot-2-v2"]


def test_resync_sends_v2_players_the_checksum_and_the_others_the_canvas() -> None:
    hub = Hub(resync_s=60)
    plain, compact = connect(hub), connect(hub, v2=True)
    compact.buffered = 10 * hub.low_water  # behind: the checksum still goes (it is tiny)
    hub.resync_due(canvas(b"snapshot"), lambda: b"sum")
    assert plain.written == [b"snapshot"]
    assert compact.written == [b"sum"]


# --- FastReader: placements straight from the socket, everything else to uvicorn ------------


class Inner:
    """Stands in for uvicorn's websocket protocol: records the bytes it is handed."""

    def __init__(self) -> None:
        self.data = b""

    def data_received(self, data: bytes) -> None:
        self.data += data


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client frame, as browsers send them."""
    key = b"\x11\x22\x33\x44"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        header = bytes((first, 0x80 | size))
    else:
        header = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    return header + key + masked


def reader(take_all: bool = True, max_size: int = 4096) -> tuple[FastReader, Inner, list[bytes]]:
    inner = Inner()
    taken: list[bytes] = []

    def take(connection: Connection, payload: bytes) -> bool:
        if take_all and payload.startswith(b'{"t":"place"'):
            taken.append(payload)
            return True
        return False

    protocol = FakeProtocol()
    connection = Connection(protocol, None, resync_at=0)
    return FastReader(inner, connection, take, max_size), inner, taken  # type: ignore[arg-type]


PLACE = b'{"t":"place","id":1,"x":2,"y":3,"c":4}'
AUTH = b'{"t":"auth","token":"ann"}'


def test_placements_are_taken_and_control_frames_go_to_uvicorn() -> None:
    fast, inner, taken = reader()
    ping = client_frame(9, b"hi")
    fast.data_received(client_frame(1, PLACE) + ping + client_frame(1, PLACE))
    assert taken == [PLACE, PLACE]
    assert inner.data == ping


def test_a_frame_split_across_reads_is_put_together() -> None:
    fast, inner, taken = reader()
    frame = client_frame(1, PLACE)
    fast.data_received(frame[:3])
    fast.data_received(frame[3:20])
    assert taken == []
    fast.data_received(frame[20:] + frame)
    assert taken == [PLACE, PLACE] and inner.data == b""


def test_what_is_not_taken_keeps_its_order_behind_uvicorns_queue() -> None:
    fast, inner, taken = reader()
    auth, place = client_frame(1, AUTH), client_frame(1, PLACE)
    fast.data_received(auth + place)
    # the sign-in is not taken: it and everything after it go to uvicorn until handled
    assert taken == [] and inner.data == auth + place
    assert fast._connection.queued == 2
    fast._connection.queued = 0  # the pod handled both
    fast.data_received(place)
    assert taken == [PLACE]


def test_binary_fragmented_and_oversized_frames_go_to_uvicorn() -> None:
    fast, inner, taken = reader(max_size=100)
    binary = client_frame(2, b"\x01\x02")
    first, last = client_frame(1, PLACE[:10], fin=False), client_frame(0, PLACE[10:])
    big = client_frame(1, b"x" * 200)
    fast.data_received(binary + first + last + big)
    assert taken == [] and inner.data == binary + first + last + big
    assert fast._connection.queued == 3  # the binary message, the fragmented one, the big one
    huge = client_frame(1, b"y" * 300)[:150]  # over the limit and incomplete: not held back
    fast.data_received(huge)
    assert inner.data.endswith(huge)


def test_short_and_long_placements_alike_are_taken_and_unmasked_frames_are_not() -> None:
    fast, inner, taken = reader()
    padded = [PLACE[:-1] + b',"pad":"' + b"p" * n + b'"}' for n in (78, 79, 80, 210)]
    assert [len(p) for p in padded] == [125, 126, 127, 257]  # the header's length classes
    unmasked = bytes((0x81, len(PLACE))) + PLACE  # a client must mask: uvicorn refuses it
    fast.data_received(b"".join(client_frame(1, p) for p in padded) + unmasked)
    assert taken == padded and inner.data == unmasked


def test_a_short_frame_over_the_limit_goes_to_uvicorn() -> None:
    fast, inner, taken = reader(max_size=10)
    frame = client_frame(1, PLACE)
    fast.data_received(frame)
    assert taken == [] and inner.data == frame and fast._connection.queued == 1


async def test_inbox_is_what_uvicorn_needs_of_its_queue() -> None:
    inbox = Inbox([{"type": "a"}])
    assert inbox.qsize() == 1 and not inbox.empty()
    assert await inbox.get() == {"type": "a"}
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait({"type": "b"})
    assert await waiting == {"type": "b"} and inbox.empty()
