"""Who sheds how many players, and which ones (place.api.shedding), without sockets."""

from __future__ import annotations

from place.api.hub import Connection, Hub
from place.api.shedding import choose, excess
from place.canvas import Player
from tests.unit.test_hub import FakeProtocol


def test_only_a_pod_above_the_factor_times_the_average_sheds() -> None:
    assert excess(20, 20, 2, 1.5) == 5  # average 10: down to 15
    assert excess(15, 20, 2, 1.5) == 0
    assert excess(5, 20, 2, 1.5) == 0
    assert excess(10_000, 30_000, 4, 1.25) == 625  # a new empty pod among three full ones
    assert excess(10_000, 30_000, 4, 1.5) == 0  # 1.5 only pulls down hot spots
    assert excess(20, 20, 1, 1.5) == 0  # alone: nowhere to go
    assert excess(20, 20, 2, 0) == 0  # off
    assert excess(3, 0, 2, 1.5) == 0  # no report yet


def _connection(hub: Hub, player: Player | None = None, next_at: int = 0) -> Connection:
    connection = Connection(FakeProtocol(), None, resync_at=0)
    connection.player = player
    connection.next_place_at_ms = next_at
    hub.add(connection)
    return connection


def test_watchers_go_first_then_players_in_their_cooldown_then_the_rest() -> None:
    hub = Hub(60)
    now = 1_000_000
    ann, bob = Player("ann", "ann", 1), Player("bob", "bob", 2)
    placing = _connection(hub, ann, next_at=0)
    waiting = _connection(hub, bob, next_at=now + 60_000)
    watcher = _connection(hub)
    closing = _connection(hub)
    closing._protocol.close_sent = True  # being closed already: not chosen again
    assert choose(hub.connections, 1, now) == [watcher]
    assert choose(hub.connections, 2, now) == [watcher, waiting]
    assert choose(hub.connections, 5, now) == [watcher, waiting, placing]
    assert choose(hub.connections, 0, now) == []
