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
    call opens a new one. A server that lost the script gets it loaded again (NOSCRIPT)."""

    def __init__(self, redis: Redis, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script
        self._connection: AbstractConnection | None = None

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        connection = self._connection
        if connection is None:
            # taken from the pool and kept: closing the client closes it with the others
            connection = self._connection = await self._redis.connection_pool.get_connection()
        try:
            await connection.send_packed_command(
                pack_command("EVALSHA", self._script.sha, len(keys), *keys, *args),
                check_health=False,
            )
            return await connection.read_response()
        except NoScriptError:
            return await self._script(keys=keys, args=args)  # loads it (a restarted Redis)
        except BaseException:
            self._connection = None
            await connection.disconnect(nowait=True)
            await self._redis.connection_pool.release(connection)
            raise


def pack_command(*parts: Any) -> bytes:
    """A Redis command in RESP: an array of bulk strings (str as UTF-8, numbers in decimal)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        elif not isinstance(part, bytes | bytearray | memoryview):
            part = str(part).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(part), part))
    return b"".join(out)
