"""The Lua scripts, each registered once per client (EVALSHA, reloaded automatically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

_LUA_DIR = Path(__file__).parent / "lua"


class Scripts:
    """Every script of `place/lua/`, as an attribute named after its file."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._scripts: dict[str, AsyncScript] = {}

    def __getattr__(self, name: str) -> AsyncScript:
        if name.startswith("_"):
            raise AttributeError(name)
        script = self._scripts.get(name)
        if script is None:
            path = _LUA_DIR / f"{name}.lua"
            if not path.exists():
                raise AttributeError(f"no Lua script {path}")
            script = self._redis.register_script(path.read_text())
            self._scripts[name] = script
        return script

    def dedicated(self, name: str) -> DedicatedScript:
        """The script `name` on a connection of its own (see `DedicatedScript`)."""
        return DedicatedScript(self._redis, getattr(self, name))


class DedicatedScript:
    """One script called on a Redis connection of its own, one call at a time, the command
    packed by hand: the placement path's call (`Placer`: its batches never overlap) without the
    pool's lock and bookkeeping or redis-py's per-argument encoding (docs/performance.md). Not
    retried: a call cut short (an error, a timeout, a cancel) drops the connection, and the next
    call opens a new one. A server that lost the script gets it loaded again (NOSCRIPT).

    The connection has no socket timeout of its own while it is here (nor health checks: it is
    never idle): the caller bounds each call with one timer of its own (`Placer`: the batch's
    deadline, or `timeout`, the client's socket timeout, if that comes first), which saves a
    task and two timers a call. It gets both back when it returns to the pool."""

    def __init__(self, redis: Redis, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script
        self._connection: AbstractConnection | None = None
        self._kept: tuple[float | None, float] = (None, 0)  # its socket timeout, health checks
        # the client's socket timeout: how long one call may take (None: no limit)
        self.timeout: float | None = redis.connection_pool.connection_kwargs.get("socket_timeout")

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        return await self.call_packed(
            len(keys), len(keys) + len(args), b"".join([bulk(part) for part in (*keys, *args)])
        )

    async def call_packed(self, numkeys: int, count: int, body: bytes) -> Any:
        """The script on `count` keys and arguments already packed as RESP bulk strings
        (`bulk`), the first `numkeys` of them keys: a caller that sends the same values often
        packs each once."""
        connection = self._connection
        if connection is None:
            # taken from the pool and kept: closing the client closes it with the others
            connection = await self._redis.connection_pool.get_connection()
            self._kept = (connection.socket_timeout, connection.health_check_interval)
            connection.socket_timeout, connection.health_check_interval = None, 0
            self._connection = connection
        try:
            await connection.send_packed_command(
                _command(b"EVALSHA", self._script.sha.encode(), numkeys, count, body),
                check_health=False,
            )
            try:
                return await connection.read_response()
            except NoScriptError:  # a restarted Redis: EVAL runs the script and keeps it
                source = self._script.script
                source = source.encode() if isinstance(source, str) else source
                await connection.send_packed_command(
                    _command(b"EVAL", source, numkeys, count, body), check_health=False
                )
                return await connection.read_response()
        except BaseException:
            self._connection = None
            connection.socket_timeout, connection.health_check_interval = self._kept
            await connection.disconnect(nowait=True)
            await self._redis.connection_pool.release(connection)
            raise


def _command(name: bytes, script: bytes, numkeys: int, count: int, body: bytes) -> bytes:
    """EVALSHA sha numkeys ... / EVAL source numkeys ...: `body` holds the `count` keys and
    arguments, already packed."""
    head = b"%d" % numkeys
    return b"".join(
        (
            b"*%d\r\n" % (3 + count),
            bulk(name),
            bulk(script),
            bulk(head),
            body,
        )
    )


def bulk(part: Any) -> bytes:
    """One RESP bulk string: bytes as they are, str as UTF-8, numbers in decimal."""
    if isinstance(part, str):
        part = part.encode()
    elif not isinstance(part, bytes | bytearray | memoryview):
        part = str(part).encode()
    return b"$%d\r\n%b\r\n" % (len(part), part)
