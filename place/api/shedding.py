"""Moving players between pods: a pod that holds far more players than the average closes some
of them with 1012 (service restart), a few a second, and they reconnect through the load balancer,
most likely to a pod with fewer; a pod about to stop moves all of its players off the same way.

Websockets do not move by themselves: after a scale-up the new pods start empty while the old
ones keep every player, and a least-loaded balancer only helps new connections. Off by default
(`PLACE_SHED_ABOVE_AVERAGE=0`); with 1.5 a pod sheds while it holds more than 1.5 times the
cluster's average, at most `PLACE_SHED_PER_S` players a second. The average comes from the stats
every pod reports each second (`place.api.stats`), so every pod decides alone, and only pods above
the threshold shed.

No acknowledged placement is lost and none is left half-answered: before closing anyone the
shedder waits until the pod's placer has answered every placement submitted so far, then closes
its victims in the same step of the event loop. A frame a victim sent that the pod had not read
yet is dropped without being stored (`Pod` checks `Connection.closing`): the player, who got no
answer, places it again after reconnecting. Victims are chosen among those who lose least:
watchers first, then players in their cooldown, then the others.

Leaving (`move_off`): on SIGUSR1, which the Kubernetes preStop hook sends, a pod turns `/readyz`
503 and closes its players over `PLACE_LEAVE_S` seconds, by the same rules, so that a scale-down
or a rolling update never sends thousands of reconnections to the other pods in one second. The
SIGTERM that follows finds few players left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable

from place.api.hub import Connection, Hub
from place.api.stats import REPORT_EVERY_S, StatsReporter
from place.canvas import Placer
from place.metrics import Metrics

logger = logging.getLogger("place.shedding")

STATS_FRESH_S = 2.5  # decide only on a report this recent
DRAIN_WAIT_S = 2.0  # how long to wait for the placer to be idle before giving up this round
COOLDOWN_MARGIN_MS = 1000  # a player who may not place for this long has nothing in flight


def excess(own: int, total: int, pods: int, factor: float) -> int:
    """How many players this pod holds above `factor` times the average per pod (0: none)."""
    if factor <= 0 or pods < 2 or total <= 0:
        return 0
    return max(0, math.ceil(own - factor * total / pods))


def choose(connections: Iterable[Connection], count: int, now_ms: float) -> list[Connection]:
    """Up to `count` players to move: watchers first, then players in their cooldown, then any."""
    watchers: list[Connection] = []
    waiting: list[Connection] = []
    others: list[Connection] = []
    for connection in connections:
        if connection.closing:
            continue
        if connection.player is None:
            watchers.append(connection)
            if len(watchers) >= count:
                break
        elif connection.next_place_at_ms > now_ms + COOLDOWN_MARGIN_MS:
            waiting.append(connection)
        elif len(others) < count:
            others.append(connection)
    return (watchers + waiting + others)[:count]


class Shedder:
    def __init__(
        self,
        factor: float,
        per_s: int,
        hub: Hub,
        placer: Placer,
        stats: StatsReporter,
        metrics: Metrics,
        draining: Callable[[], bool],
    ) -> None:
        self.factor = factor
        self.per_s = per_s
        self.hub = hub
        self.placer = placer
        self.stats = stats
        self.metrics = metrics
        self.draining = draining

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            try:
                await self.shed_once()
            except TimeoutError:
                logger.info("not shedding this second: placements kept the pod busy")

    def due(self) -> int:
        """How many players to close now (at most `per_s`)."""
        stats = self.stats
        if self.draining() or time.monotonic() - stats.redis_ok_at > STATS_FRESH_S:
            return 0
        over = excess(len(self.hub), stats.latest["ccu"], stats.pods, self.factor)
        return min(over, self.per_s)

    async def shed_once(self) -> int:
        """Close up to `due()` players with 1012; returns how many."""
        if self.due() == 0:
            return 0
        moved = await _close_some(self.hub, self.placer, self.metrics, self.due)
        if moved:
            logger.info(
                "shed %d players (%d here, %d on %d pods)",
                moved,
                len(self.hub),
                self.stats.latest["ccu"],
                self.stats.pods,
            )
        return moved


async def move_off(
    hub: Hub, placer: Placer, metrics: Metrics, within_s: float, draining: Callable[[], bool]
) -> None:
    """Close every player with 1012, evenly over `within_s` seconds (until shutdown begins)."""
    deadline = time.monotonic() + within_s

    def per_second() -> int:
        left = sum(1 for connection in hub.connections if not connection.closing)
        return math.ceil(left / max(1.0, deadline - time.monotonic()))

    logger.info("leaving: moving %d players off within %.0f s", len(hub), within_s)
    try:
        while not draining() and per_second() > 0:
            with contextlib.suppress(TimeoutError):  # busy placing: the next second closes more
                await _close_some(hub, placer, metrics, per_second)
            await asyncio.sleep(REPORT_EVERY_S)
    except Exception:  # not supervised (it runs once): say why, SIGTERM closes the rest
        logger.exception("moving players off failed; the shutdown closes the rest")


async def _close_some(
    hub: Hub, placer: Placer, metrics: Metrics, how_many: Callable[[], int]
) -> int:
    """Wait until every placement submitted so far is answered, then close `how_many()` players
    with 1012 in the same step of the event loop (nothing yields in between, so no placement of
    theirs can be in flight). Raises TimeoutError when the placer stays busy."""
    async with asyncio.timeout(DRAIN_WAIT_S):
        await placer.drain()
    victims = choose(hub.connections, how_many(), time.time() * 1000)
    for connection in victims:
        connection.restart()
    metrics.players_shed += len(victims)
    return len(victims)
