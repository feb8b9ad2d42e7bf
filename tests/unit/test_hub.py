"""The local fan-out and its slow-client policy, with fake transports (no sockets needed here:
the policy is pure bookkeeping over each transport's buffer size)."""

from __future__ import annotations

from place.api.hub import Connection, Hub


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


def connect(hub: Hub) -> FakeTransport:
    protocol = FakeProtocol()
    hub.add(Connection(protocol, None, resync_at=0))
    return protocol.transport


def test_every_player_gets_the_same_frame() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    transports = [connect(hub) for _ in range(3)]
    hub.deliver_delta(b"delta-1", lambda: b"snapshot")
    assert [t.written for t in transports] == [[b"delta-1"]] * 3
    assert hub.frames_delivered == 3


def test_a_slow_player_skips_deltas_then_gets_one_snapshot() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    fast, slow = connect(hub), connect(hub)
    slow.buffered = 500
    hub.deliver_delta(b"delta-1", lambda: b"snapshot-1")
    hub.deliver_delta(b"delta-2", lambda: b"snapshot-2")
    assert fast.written == [b"delta-1", b"delta-2"]
    assert slow.written == []
    slow.buffered = 50  # draining, but not yet below the low-water mark
    hub.deliver_delta(b"delta-3", lambda: b"snapshot-3")
    assert slow.written == []
    slow.buffered = 0
    hub.deliver_delta(b"delta-4", lambda: b"snapshot-4")
    hub.deliver_delta(b"delta-5", lambda: b"snapshot-5")
    assert slow.written == [b"snapshot-4", b"delta-5"]
    assert fast.written[-1] == b"delta-5"
    assert hub.frames_dropped == 3


def test_closing_connections_are_not_written() -> None:
    hub = Hub(resync_s=60)
    transport = connect(hub)
    transport.closing = True
    hub.deliver_delta(b"delta", lambda: b"snapshot")
    assert transport.written == []


def test_resync_sends_a_snapshot_when_due() -> None:
    hub = Hub(resync_s=60)
    transport = connect(hub)  # resync_at=0: due now
    hub.resync_due(lambda: b"snapshot")
    hub.resync_due(lambda: b"snapshot")  # not due again for 60 s
    assert transport.written == [b"snapshot"]
