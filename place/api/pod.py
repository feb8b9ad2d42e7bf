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
from place.api.hub import Connection, Hub
from place.api.mirror import Mirror
from place.api.ratelimit import TokenBucket
from place.api.stats import StatsReporter
from place.canvas import Placer, register_player
from place.errors import ProtocolError
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts
from place.settings import Settings
from place.status import WS_POLICY_VIOLATION, WS_TRY_AGAIN_LATER, ErrorCode

logger = logging.getLogger("place.pod")

READY_HEARD_WITHIN_S = 10.0
REDIS_OK_WITHIN_S = 3.0
DRAIN_PLACEMENTS_S = 5.0


class Pod:
    def __init__(self, settings: Settings, redis: Redis, authenticator: Authenticator) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        self.authenticator = authenticator
        self.metrics = Metrics()
        self.hub = Hub(settings.resync_s)
        self.mirror = Mirror(redis, self.keys, self.hub, self.metrics, self.hello_frame)
        self.placer = Placer(self.scripts, self.keys)
        self.stats = StatsReporter(redis, self.scripts, self.keys, self.hub)
        self.door = Door(settings)
        self.draining = False
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.mirror.run(), name="mirror"),
            asyncio.create_task(self.stats.run(), name="stats"),
            asyncio.create_task(self._resync_loop(), name="resync"),
        ]

    async def drain(self) -> None:
        """First step of shutdown: not ready any more, and every pending placement answered."""
        self.draining = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.placer.drain(), DRAIN_PLACEMENTS_S)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self.stats.withdraw()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.mirror.loaded:
                self.hub.resync_due(self.mirror.snapshot_frame)

    def ready(self) -> tuple[bool, str]:
        """Whether this pod should get players, and why not."""
        now = time.monotonic()
        if self.draining:
            return False, "shutting down"
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
            await self._serve(address, receive, send)
        finally:
            self.door.leave(address)

    async def _serve(self, address: str, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept"})
        if self.draining or not self.mirror.loaded:
            await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER})
            return
        bucket = None
        if self.settings.msg_rate > 0:
            bucket = TokenBucket(self.settings.msg_rate, self.settings.msg_burst)
        resync_at = time.monotonic() + self.settings.resync_s
        connection = Connection(send.__self__, bucket, resync_at, address)
        connection.write(self.hello_frame(connection))
        connection.write(self.mirror.snapshot_frame())
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
        finally:
            self.hub.discard(connection)

    async def _on_text(self, connection: Connection, text: str) -> None:
        try:
            message = protocol.parse_client_message(text)
        except ProtocolError as error:
            self._error(connection, error.place_id, ErrorCode.BAD_MESSAGE, str(error))
            return
        if isinstance(message, protocol.Place):
            expires_at = connection.expires_at_ms
            if connection.player is None:
                self._error(connection, message.id, ErrorCode.UNAUTHENTICATED)
            elif expires_at is not None and expires_at <= time.time() * 1000:
                self._error(connection, message.id, ErrorCode.TOKEN_EXPIRED)
            elif self.draining:
                self._error(connection, message.id, ErrorCode.UNAVAILABLE)
            else:
                self.placer.submit(
                    connection.player,
                    message,
                    lambda code, at, reason: self._answer_place(
                        connection, message, code, at, reason
                    ),
                )
        elif isinstance(message, protocol.Auth):
            await self._sign_in(connection, message.token)
        else:
            connection.write(self.mirror.snapshot_frame())
            connection.stale = False

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
        if code is None:
            connection.next_place_at_ms = at
            connection.write(text_frame(protocol.encode_placed(place, at)))
            self.metrics.placements["stored"] += 1
            return
        self.metrics.placements[code.value] += 1
        if code is ErrorCode.BANNED:  # the reason, and when the ban ends (absent: never)
            self._error(connection, place.id, code, reason or None, at or None)
        else:
            retry_at = at if code is ErrorCode.COOLDOWN else None
            self._error(connection, place.id, code, retry_at_ms=retry_at)

    def _error(
        self,
        connection: Connection,
        place_id: Any,
        code: ErrorCode,
        message: str | None = None,
        retry_at_ms: int | None = None,
    ) -> None:
        self.metrics.errors[code.value] += 1
        connection.write(text_frame(protocol.encode_error(place_id, code, message, retry_at_ms)))
