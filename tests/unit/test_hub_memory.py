"""Memory a client can pin on a pod, bounded: a `resync` flood, a client that stops reading, and
the pod's budget of unsent bytes over all its players (fake transports: the policy is pure
bookkeeping over each transport's buffer size)."""

from __future__ import annotations

from place.api.hub import RESYNC_EVERY_S, Connection, Hub
from tests.unit.test_hub import FakeProtocol, FakeTransport, canvas


def join(hub: Hub, v2: bool = False) -> tuple[Connection, FakeTransport]:
    protocol = FakeProtocol()
    connection = Connection(protocol, None, resync_at=1e18, v2=v2)
    hub.add(connection)
    return connection, protocol.transport


def test_a_flood_of_resync_gets_at_most_one_canvas_a_second() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    connection, transport = join(hub)
    for i in range(50):
        hub.resync(connection, canvas(b"snapshot"), now=1000.0 + i * 0.01)
    assert transport.written == [b"snapshot"]
    hub.resync(connection, canvas(b"snapshot-2"), now=1000.0 + RESYNC_EVERY_S + 0.01)
    assert transport.written == [b"snapshot", b"snapshot-2"]


def test_a_resync_counts_against_the_backlog_of_a_player_that_does_not_read() -> None:
    hub = Hub(resync_s=60, high_water=100, low_water=10)
    connection, transport = join(hub)
    transport.buffered = 50  # above the low-water mark: it has not read what it got
    for i in range(5):
        hub.resync(connection, canvas(b"snapshot"), now=1000.0 + i * 2)
        hub.deliver_delta(b"delta", b"delta-v2", canvas(b"snapshot"))
    assert transport.written == []  # nothing piles up for it
    transport.buffered = 0  # it reads again: one canvas, then deltas
    hub.deliver_delta(b"delta-9", b"delta-9-v2", canvas(b"snapshot-9"))
    hub.deliver_delta(b"delta-10", b"delta-10-v2", canvas(b"snapshot-10"))
    assert transport.written == [b"snapshot-9", b"delta-10"]


def test_over_the_pods_budget_only_players_with_an_empty_buffer_get_deltas() -> None:
    hub = Hub(resync_s=60, high_water=1000, low_water=400, unsent_budget=1000)
    busy = [join(hub) for _ in range(3)]
    for _, transport in busy:
        transport.buffered = 500  # each under high water, together over the budget
    _, idle = join(hub)
    hub.deliver_delta(b"delta-1", b"delta-1-v2", canvas(b"snapshot-1"))
    assert hub.unsent == 1500
    hub.deliver_delta(b"delta-2", b"delta-2-v2", canvas(b"snapshot-2"))
    assert [t.written for _, t in busy] == [[b"delta-1"]] * 3  # no more for them
    assert idle.written == [b"delta-1", b"delta-2"]
    assert all(connection.stale for connection, _ in busy)
