"""A pod: the mirror of the canvas, the hub of its players, the placer, and one player's session.

Everything a player sees comes from this pod's memory; the only Redis calls a player causes are
its sign-in (one script, and with Firebase the shared token cache) and its placements (batched
with everyone else's). Who may connect and sign in at all is the door's (`place.api.door`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from place import protocol
from place.api.auth import Authenticator, AuthError, AuthUnavailable
from place.api.door import Door, refuse
from place.api.frames import text_frame
from place.api.heap import keep_heap_young
from place.api.hub import Connection, FastReader, Hub, lighten
from place.api.mirror import Mirror
from place.api.ratelimit import TokenBucket
from place.api.shedding import Shedder, move_off
from place.api.stats import StatsReporter
from place.api.supervise import Supervisor
from place.canvas import Placer, register_player
from place.errors import ProtocolError
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts
from place.settings import Settings
from place.status import (
    MAX_CLIENT_MESSAGE_BYTES,
    WS_POLICY_VIOLATION,
    WS_TRY_AGAIN_LATER,
    ErrorCode,
)
from place.tasks import cancel_and_wait

logger = logging.getLogger("place.pod")

READY_HEARD_WITHIN_S = 10.0
REDIS_OK_WITHIN_S = 2.0  # a stalled Redis turns /readyz 503 within 2 s
DRAIN_PLACEMENTS_S = 5.0
# every player gets {"t":"tick","seq":N} this often: a page that hears nothing for three of them
# takes its socket for dead and reconnects (frontend/src/lib/connection.ts)
HEARTBEAT_EVERY_S = 5
# a connection still here this long after its close began (a peer that stopped reading does not
# take its close frame) is dropped, unsent bytes and all
CLOSE_GRACE_S = 5.0
STUCK_EVERY_S = 2  # how often connections stuck in their close are looked for


class Pod:
    def __init__(self, settings: Settings, redis: Redis, authenticator: Authenticator) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        self.authenticator = authenticator
        self.metrics = Metrics()
        self.hub = Hub(settings.resync_s, unsent_budget=settings.unsent_budget_mb * 1024 * 1024)
        self.mirror = Mirror(redis, self.keys, self.hub, self.metrics, self.hello_frame)
        self.placer = Placer(self.scripts, self.keys, flush=self._flush_answers)
        # the answers of a placement batch, per player, until the batch's last (`_answer_place`)
        self._answers: dict[Connection, list[bytes]] = {}
        self._stored = 0  # placements stored in the batch being answered
        self.stats = StatsReporter(redis, self.scripts, self.keys, self.hub, self.metrics)
        self.door = Door(settings)
        self.worker = 0  # this process's index among the pod's workers (place.api.workers)
        self.siblings: tuple[str, ...] = ()  # the other workers' Unix sockets, for /metrics
        # a worker starts listening only once it has the canvas (or after this long): its
        # socket shares the port with the others', so players would otherwise reach it first
        self.canvas_wait_s = 0.0
        self.draining = False
        self.leaving = False  # SIGUSR1: not ready, players being moved off (place.api.shedding)
        self._tasks: list[asyncio.Task[None]] = []
        self.supervisor = Supervisor()
        self._closing: dict[Connection, float] = {}  # connection -> when its close was seen
        self.metrics.watch(self)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            # supervised: logged, counted and restarted when they fail (/readyz 503 meanwhile)
            self.supervisor.start("mirror", self.mirror.run),
            self.supervisor.start("stats", self.stats.run),
            self.supervisor.start("resync", self._resync_loop),
            self.supervisor.start("heap", keep_heap_young),  # no long GC pauses (place.api.heap)
        ]
        if self.settings.shed_above_average > 0:
            shedder = Shedder(
                self.settings.shed_above_average,
                self.settings.shed_per_s,
                self.hub,
                self.placer,
                self.stats,
                self.metrics,
                lambda: self.draining,
            )
            self._tasks.append(self.supervisor.start("shedding", shedder.run))
        if self.canvas_wait_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mirror.first_load.wait(), self.canvas_wait_s)

    def leave(self) -> None:
        """Before shutdown (SIGUSR1, from Kubernetes' preStop hook): `/readyz` turns 503 and the
        players are moved off a few at a time over `PLACE_LEAVE_S`; placements go on meanwhile."""
        if self.leaving or self.draining:
            return
        self.leaving = True
        settings = self.settings
        moving = move_off(
            self.hub, self.placer, self.metrics, settings.leave_s, lambda: self.draining
        )
        self._tasks.append(asyncio.create_task(moving, name="leaving"))

    async def drain(self) -> None:
        """First step of shutdown: not ready any more, and every pending placement answered."""
        self.draining = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.placer.drain(), DRAIN_PLACEMENTS_S)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)  # a cancel redis-py loses must not hang the exit
        with contextlib.suppress(RedisError, OSError):
            await self.stats.withdraw()

    async def _resync_loop(self) -> None:
        beats = seconds = 0
        while True:
            await asyncio.sleep(1)
            seconds += 1
            if self.mirror.loaded:
                self.hub.resync_due(self.mirror.catch_up, self.mirror.sum_frame)
                beats += 1
                if beats % HEARTBEAT_EVERY_S == 0:  # the page's proof that the socket lives
                    tick = text_frame(protocol.encode_tick(self.mirror.seq))
                    self.hub.heartbeat(tick, HEARTBEAT_EVERY_S)
            if seconds % STUCK_EVERY_S == 0:
                self._drop_stuck(time.monotonic())

    def _drop_stuck(self, now: float) -> None:
        """Abort connections whose close began over `CLOSE_GRACE_S` ago and are still here
        (a look at every connection: 7 % of a pod's CPU at 10,000 viewers when done each second)."""
        closing = {
            c: self._closing.get(c, now)
            for c in self.hub.connections
            if c._protocol.close_sent or c._transport.is_closing()  # Connection.closing, inlined
        }
        for connection, since in closing.items():
            if now - since > CLOSE_GRACE_S:
                connection.abort()
        self._closing = closing

    def ready(self) -> tuple[bool, str]:
        """Whether this pod should get players, and why not."""
        now = time.monotonic()
        if self.draining or self.leaving:
            return False, "shutting down"
        if self.supervisor.down:
            return False, f"restarting {', '.join(sorted(self.supervisor.down))} after a failure"
        if now - self.stats.redis_ok_at > REDIS_OK_WITHIN_S:
            return False, "Redis does not answer"
        if not self.mirror.loaded:
            return False, "no canvas yet (is a ticker running?)"
        if now - self.mirror.last_heard > READY_HEARD_WITHIN_S:
            return False, "nothing heard from the ticker for 10 s"
        return True, "ready"

    # --- one player --------------------------------------------------------------------------

    def hello_frame(self, connection: Connection) -> bytes:
        config = self.mirror.config
        assert config is not None
        player = connection.player
        next_at = connection.next_place_at_ms
        if config.cooldown_ms == 0 or next_at <= time.time() * 1000 or (player and player.admin):
            next_at = 0
        return text_frame(protocol.encode_hello(config, player and player.public(), next_at))

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One player's connection, from the handshake to close, on raw ASGI messages.

        The door may refuse the handshake (an HTTP answer instead of the upgrade). `send` must
        be uvicorn's own (its `__self__` is the websocket protocol, whose transport the hub
        writes to); `PodApp` passes it through untouched.
        """
        if (await receive())["type"] != "websocket.connect":
            return
        address, refusal = self.door.enter(scope)
        if refusal is not None:
            await refuse(send, refusal)
            return
        try:
            await self._serve(address, receive, send, _asks_v2(scope))
        finally:
            self.door.leave(address)

    async def _serve(self, address: str, receive: Receive, send: Send, v2: bool) -> None:
        await send({"type": "websocket.accept"})
        if self.draining or not self.mirror.loaded:
            await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER})
            return
        bucket = None
        if self.settings.msg_rate > 0:
            bucket = TokenBucket(self.settings.msg_rate, self.settings.msg_burst)
        resync_at = time.monotonic() + self.settings.resync_s
        uvicorn_protocol = send.__self__
        connection = Connection(uvicorn_protocol, bucket, resync_at, address, v2)
        lighten(uvicorn_protocol)
        # placements straight from the socket; everything else through uvicorn, in order
        connection.queued = uvicorn_protocol.queue.qsize()
        uvicorn_protocol.transport.set_protocol(
            FastReader(uvicorn_protocol, connection, self._take, MAX_CLIENT_MESSAGE_BYTES)
        )
        connection.write(self.hello_frame(connection))
        connection.write_all(self.mirror.catch_up(v2))
        self.hub.add(connection)
        self.metrics.connections_opened += 1
        self.stats.visits += 1
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if connection.bucket is not None and not connection.bucket.take():
                    self._error(
                        connection,
                        None,
                        ErrorCode.RATE_LIMITED,
                        retry_at_ms=int(time.time() * 1000) + 1000,
                    )
                    self.hub.discard(connection)
                    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                    return
                text = message.get("text")
                if text is None:
                    self._error(
                        connection,
                        None,
                        ErrorCode.BAD_MESSAGE,
                        "binary frames are not accepted; send JSON text",
                    )
                else:
                    await self._on_text(connection, text)
                connection.queued = max(0, connection.queued - 1)
        finally:
            self.hub.discard(connection)

    def _take(self, connection: Connection, payload: bytes) -> bool:
        """A text frame straight from the socket (`FastReader`): a placement is handled here;
        anything else (a bad message too, or a frame over the rate limit) is left to the loop
        above, which answers it."""
        place = protocol.parse_place(payload)
        if place is None:
            return False
        if connection.bucket is not None and not connection.bucket.take():
            return False
        self._on_place(connection, place)
        return True

    async def _on_text(self, connection: Connection, text: str) -> None:
        try:
            message = protocol.parse_client_message(text)
        except ProtocolError as error:
            self._error(connection, error.place_id, ErrorCode.BAD_MESSAGE, str(error))
            return
        if isinstance(message, protocol.Place):
            self._on_place(connection, message)
        elif isinstance(message, protocol.Auth):
            await self._sign_in(connection, message.token)
        else:  # resync: rate-limited, and only to a player that reads what it gets
            self.hub.resync(connection, self.mirror.catch_up)

    def _on_place(self, connection: Connection, message: protocol.Place) -> None:
        expires_at = connection.expires_at_ms
        if connection.player is None:
            self._error(connection, message.id, ErrorCode.UNAUTHENTICATED)
        elif expires_at is not None and expires_at <= time.time() * 1000:
            self._error(connection, message.id, ErrorCode.TOKEN_EXPIRED)
        elif self.draining:
            self._error(connection, message.id, ErrorCode.UNAVAILABLE)
        elif connection.closing:
            return  # closed (shed, or shutdown) before we read it: unanswered, so not stored
        else:
            self.placer.submit_to(connection.player, message, self._answer_place, connection)

    async def _sign_in(self, connection: Connection, token: str) -> None:
        """Verify the token and number the player. A refused token leaves the connection as it
        was: signed in as before (until its own token expires), or watching."""
        retry_at = self.door.sign_in_retry_at_ms(connection.address)
        if retry_at is not None:
            message = "too many sign-ins from your address; try again at retry_at_ms"
            self._error(connection, None, ErrorCode.RATE_LIMITED, message, retry_at)
            return
        try:
            identity = await self.authenticator.verify(token)
            admin = identity.admin or identity.id in self.settings.admin_uids
            player, next_at = await register_player(
                self.redis, self.scripts, self.keys, identity.id, identity.name, admin
            )
        except AuthError as error:
            self._error(connection, None, ErrorCode.UNAUTHENTICATED, str(error))
            return
        except AuthUnavailable:
            message = "sign-in is unavailable right now; try again shortly"
            self._error(connection, None, ErrorCode.UNAVAILABLE, message)
            return
        except (RedisError, OSError):
            self._error(connection, None, ErrorCode.UNAVAILABLE)
            return
        connection.player = player
        connection.expires_at_ms = identity.expires_at_ms
        connection.next_place_at_ms = next_at
        connection.write(self.hello_frame(connection))

    def _answer_place(
        self,
        connection: Connection,
        place: protocol.Place,
        code: ErrorCode | None,
        at: int,
        reason: str,
    ) -> None:
        """The placer's answer to one placement. Its frame waits in `_answers` until the
        placer's `flush` (`_flush_answers`), right after the last answer of the batch and before
        anything else runs: the answers of one batch to one player go in one write, in order."""
        if code is None:
            connection.next_place_at_ms = at
            frame = text_frame(protocol.encode_placed(place, at))
            self._stored += 1
        else:
            self.metrics.placements[code.value] += 1
            if code is ErrorCode.BANNED:  # the reason, and when the ban ends (absent: never)
                frame = self._error_frame(place.id, code, reason or None, at or None)
            else:
                retry_at = at if code is ErrorCode.COOLDOWN else None
                frame = self._error_frame(place.id, code, retry_at_ms=retry_at)
        waiting = self._answers.get(connection)
        if waiting is None:
            self._answers[connection] = [frame]
        else:
            waiting.append(frame)

    def _flush_answers(self) -> None:
        """Write the answers `_answer_place` gathered: one write per player."""
        if self._stored:
            self.metrics.placements["stored"] += self._stored
            self._stored = 0
        for connection, frames in self._answers.items():
            connection.write(frames[0] if len(frames) == 1 else b"".join(frames))
        self._answers.clear()

    def _error(
        self,
        connection: Connection,
        place_id: Any,
        code: ErrorCode,
        message: str | None = None,
        retry_at_ms: int | None = None,
    ) -> None:
        connection.write(self._error_frame(place_id, code, message, retry_at_ms))

    def _error_frame(
        self,
        place_id: Any,
        code: ErrorCode,
        message: str | None = None,
        retry_at_ms: int | None = None,
    ) -> bytes:
        """An `error` frame, counted in `place_errors_total`."""
        self.metrics.errors[code.value] += 1
        return text_frame(protocol.encode_error(place_id, code, message, retry_at_ms))


def _asks_v2(scope: Scope) -> bool:
    """`/ws?v=2`: compact deltas (0x03) and checksums instead of periodic snapshots."""
    return b"v=2" in scope.get("query_string", b"").split(b"&")
