"""The admin audit log: who did what to the event, when, with which arguments, and what came of it.

Every `place admin` change (and every refused one) is one entry, in the Redis stream `audit`
(`j`: the entry as JSON) and, as one object per entry, in the object store
(`audit/<entry id>.json`), so the log outlives a Redis that lost its data. An entry that could
not be copied to the store (store down) is copied by the next admin command: the cursor
`audit:copied` says how far the copy got. The ticker adds its own entries when it applies a
schedule (`who` is "schedule"). `place admin log` reads both, each entry once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import pwd
import socket
from typing import Any

import orjson
from redis.asyncio import Redis

from place.keys import Keys
from place.store import Store, StoreConflict, StoreError, StoreMissing

PREFIX = "audit/"
MAX_ENTRIES = 100_000  # in Redis (about 30 MB at most); the store keeps every entry


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    id: str  # the Redis stream id: time of writing in ms, then a sequence
    at_ms: int
    who: str
    action: str
    args: dict[str, Any]
    result: str
    ok: bool
    details: dict[str, Any]  # what later commands need (a palette's remap, a resize's offset)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """One line: time, who, action, arguments, result (tab-separated)."""
        arguments = " ".join(
            f"{name}={_show(name, value)}"
            for name, value in self.args.items()
            if not (value is None or value is False or value in ([], ""))
        )
        result = self.result if self.ok else f"REFUSED: {self.result}"
        return "\t".join([iso(self.at_ms), self.who, self.action, arguments or "-", result])


def default_actor() -> str:
    """Who runs this command when `PLACE_ADMIN_NAME` is not set: the OS user and the host."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, redis: Redis, keys: Keys, store: Store | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store

    async def record(
        self,
        who: str,
        action: str,
        args: dict[str, Any],
        result: str,
        ok: bool = True,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Write an entry to Redis, then copy what the store lacks; returns "" or, when the store
        did not take it, a note to show the admin (the entry is safe in Redis meanwhile)."""
        at_ms = await _redis_ms(self.redis)
        entry = {
            "at_ms": at_ms,
            "who": who,
            "action": action,
            "args": args,
            "result": result,
            "ok": ok,
            "details": details or {},
        }
        await self.redis.xadd(
            self.keys.audit, {"j": orjson.dumps(entry)}, maxlen=MAX_ENTRIES, approximate=True
        )
        try:
            await self.copy_to_store()
        except StoreError as error:
            return f" (audit log kept in Redis; the store did not take it yet: {error})"
        return ""

    async def copy_to_store(self) -> None:
        """Copy every entry after the cursor to the store, one object each, oldest first."""
        if self.store is None:
            return
        store = self.store
        cursor = (await self.redis.get(self.keys.audit_copied) or b"0-0").decode()
        while True:
            entries = await self.redis.xrange(self.keys.audit, min=f"({cursor}", count=100)
            if not entries:
                return
            for entry_id, fields in entries:
                key = object_key(entry_id.decode())
                data = _with_id(entry_id.decode(), fields[b"j"])
                await asyncio.to_thread(_create, store, key, data)
                cursor = entry_id.decode()
                await self.redis.set(self.keys.audit_copied, cursor)

    async def entries(self, since_ms: int = 0) -> list[Entry]:
        """Every entry at or after `since_ms`, oldest first: Redis's, and the store's that
        Redis no longer holds (trimmed, or Redis lost its data)."""
        found: dict[str, Entry] = {}
        for entry_id, fields in await self.redis.xrange(self.keys.audit, min=f"{since_ms}-0"):
            entry = _entry(entry_id.decode(), fields[b"j"])
            if entry is not None:
                found[entry.id] = entry
        if self.store is not None:
            for key in await asyncio.to_thread(_store_keys, self.store, since_ms):
                entry_id = key.removeprefix(PREFIX).removesuffix(".json")
                if entry_id in found:
                    continue
                try:
                    data = (await asyncio.to_thread(self.store.read, key))[0]
                except StoreMissing:
                    continue
                entry = _entry(entry_id, data)
                if entry is not None:
                    found[entry.id] = entry
        return sorted(
            (e for e in found.values() if e.at_ms >= since_ms), key=lambda e: _id_key(e.id)
        )


def object_key(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{PREFIX}{int(ms):013d}-{seq or 0}.json"


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(name: str, value: object) -> str:
    if name.endswith("_ms") and isinstance(value, int | float):
        return iso(int(value))
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _with_id(entry_id: str, raw: bytes) -> bytes:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = {"raw": raw.decode(errors="replace")}
    return orjson.dumps({"id": entry_id, **data}, option=orjson.OPT_INDENT_2)


def _entry(entry_id: str, raw: bytes) -> Entry | None:
    try:
        data = orjson.loads(raw)
        return Entry(
            id=entry_id,
            at_ms=int(data["at_ms"]),
            who=str(data["who"]),
            action=str(data["action"]),
            args=dict(data.get("args") or {}),
            result=str(data.get("result", "")),
            ok=bool(data.get("ok", True)),
            details=dict(data.get("details") or {}),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _create(store: Store, key: str, data: bytes) -> None:
    with contextlib.suppress(StoreConflict):  # copied already (by another admin meanwhile)
        store.create(key, data)


def _store_keys(store: Store, since_ms: int) -> list[str]:
    keys = []
    for item in store.list(PREFIX):
        name = item.key.removeprefix(PREFIX)
        try:
            if int(name.partition("-")[0]) >= since_ms:
                keys.append(item.key)
        except ValueError:
            continue
    return keys


async def _redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
