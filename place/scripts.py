"""The Lua scripts, each registered once per client (EVALSHA, reloaded automatically)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

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
