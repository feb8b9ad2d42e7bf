"""`place admin`: moderation and live changes to the canvas, applied to every pod at once.

Each change is one atomic script; a configuration change bumps the config version, the ticker
publishes a snapshot with it on its next tick, and every pod sends its players `hello` and that
snapshot. Changes to pixels (wipe, rollback) go through the placement stream, so players get
them as an ordinary delta.

Every change, and every refused one, is written to the audit log (`place.admin_audit`) against
the admin who ran it (`PLACE_ADMIN_NAME`, or the OS user and host). The rest lives beside this
module: the palette remap (`admin_palette`), rollback planning (`admin_rollback`), the status
(`admin_status`); the ticker applies the schedule (`place.ticker.schedule`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.admin_audit import AuditLog, default_actor, iso
from place.admin_palette import parse_maps, plan_remap
from place.admin_rollback import load_history, plan_rollback
from place.admin_status import gather, render, render_json
from place.config import LiveConfig
from place.errors import AdminError, PlaceError
from place.keys import Keys
from place.scripts import Scripts
from place.settings import MAX_PIXELS, parse_palette
from place.snapshot.ops import parse_time
from place.snapshot.writer import as_backup, read_canvas, write_backup
from place.store import Store, StoreError

MAX_REASON = 200  # the reason goes to the player with every refused placement
MAX_DURATION_MS = 10 * 365 * 86_400_000
MAX_COOLDOWN_S = 7 * 86_400  # longer is a closed canvas (`place admin close`)
ROLLBACK_BATCH = 5_000  # pixels per rollback script call (each call is one stream entry)
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_ANCHORS = {"top-left": "top-left", "centre": "centre", "center": "centre"}

_Method = TypeVar("_Method", bound=Callable[..., Awaitable[str]])


def _audited(action: str) -> Callable[[_Method], _Method]:
    """Write the command, its arguments and what came of it (refusals too) to the audit log."""

    def wrap(method: _Method) -> _Method:
        signature = inspect.signature(method)

        @functools.wraps(method)
        async def run(self: Admin, *args: Any, **kwargs: Any) -> str:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = {k: _plain(v) for k, v in bound.arguments.items() if k != "self"}
            self.details = {}
            try:
                result = await method(self, *args, **kwargs)
            except PlaceError as error:
                # when Redis is down the refusal itself says so; nothing to record it in
                with contextlib.suppress(RedisError, OSError, PlaceError):
                    await self.audit.record(self.actor, action, arguments, str(error), ok=False)
                raise
            note = await self.audit.record(
                self.actor, action, arguments, result, details=self.details
            )
            return result + note

        return run  # type: ignore[return-value]

    return wrap


class Admin:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        actor: str | None = None,
        store: Store | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = Scripts(redis)
        self.actor = (actor or "").strip() or default_actor()
        self.store = store
        self.audit = AuditLog(redis, keys, store)
        self.details: dict[str, Any] = {}  # what the audit log keeps besides the result

    # --- the canvas ----------------------------------------------------------------------------

    @_audited("resize")
    async def resize(self, width: int, height: int, anchor: str = "top-left") -> str:
        """Change the size; `anchor` top-left keeps the top-left, centre grows or shrinks the
        canvas on every side with the pixels moving along."""
        if width < 1 or height < 1 or width * height > MAX_PIXELS or max(width, height) > 65535:
            raise AdminError(
                f"a canvas is 1 to 65535 pixels a side and at most {MAX_PIXELS} pixels,"
                f" got {width}x{height}"
            )
        where = _ANCHORS.get(anchor)
        if where is None:
            raise AdminError(f"--anchor must be top-left or centre, got {anchor!r}")
        result = await self.scripts.admin_resize(
            keys=[self.keys.config, self.keys.canvas, self.keys.who, self.keys.placements],
            args=[width, height, where],
        )
        if int(result[0]) == -1:
            raise AdminError("there is no canvas yet: start a ticker first")
        version, old_width, old_height, dx, dy, pos = result
        self.details = {
            "pos": _text(pos),
            "version": int(version),
            "from": [int(old_width), int(old_height)],
            "to": [width, height],
            "offset": [int(dx), int(dy)],
        }
        moved = f", existing pixels moved by ({int(dx)}, {int(dy)})" if dx or dy else ""
        what = f"resized the canvas from {int(old_width)}x{int(old_height)} to {width}x{height}"
        return self._changed(int(version), f"{what}{moved}") + await self._backup()

    @_audited("palette")
    async def palette(self, colors: str, maps: Sequence[str] = ()) -> str:
        """Set the palette, remapping every pixel by colour so that none changes its look; a
        removed colour becomes its `--map` colour, or else the nearest remaining one."""
        try:
            palette = parse_palette(colors, "the palette")
        except PlaceError as error:
            raise AdminError(str(error)) from None
        wanted = parse_maps(maps)
        for _ in range(5):
            read = await read_canvas(self.redis, self.scripts, self.keys)
            if read is None:
                raise AdminError("there is no canvas yet: start a ticker first")
            old = read.config.palette
            remap = plan_remap(old, palette, wanted)
            remapped = b"" if remap.identity else remap.table[read.pixels].tobytes()
            result = await self.scripts.admin_palette(
                keys=[self.keys.config, self.keys.canvas, self.keys.placements],
                args=[
                    read.config.version,
                    ",".join(palette),
                    len(palette),
                    remap.table.tobytes(),
                    remapped,
                    read.pos,
                ],
            )
            if int(result[0]) == -1:
                raise AdminError("there is no canvas yet: start a ticker first")
            if int(result[0]) == -3:
                continue  # the config changed since the read (another admin): read again
            version, pos = int(result[0]), _text(result[1])
            self.details = {
                "pos": pos,
                "version": version,
                "old": list(old),
                "new": list(palette),
                "remap": remap.table[: len(old)].tolist(),
            }
            what = f"set a palette of {len(palette)} colours; {remap.describe()}"
            return self._changed(version, what) + await self._backup()
        raise AdminError("the palette kept changing while this ran; run it again")

    @_audited("cooldown")
    async def cooldown(self, seconds: float) -> str:
        if not 0 <= seconds <= MAX_COOLDOWN_S:  # NaN and infinity too
            raise AdminError(
                f"a cooldown is 0 to {MAX_COOLDOWN_S:,} seconds (a week), got {seconds:g}"
            )
        version = await self._set(cooldown_ms=round(seconds * 1000))
        return self._changed(version, f"set the cooldown to {seconds:g} s")

    @_audited("open")
    async def open(self, at: str | None = None, cancel: bool = False) -> str:
        """Open now, or at `at` (ISO 8601, UTC without an offset), or cancel that."""
        return await self._switch(True, at, cancel)

    @_audited("close")
    async def close(self, at: str | None = None, cancel: bool = False) -> str:
        """Close now, or at `at`, or cancel that."""
        return await self._switch(False, at, cancel)

    async def set_open(self, is_open: bool) -> str:
        return await (self.open() if is_open else self.close())

    async def _switch(self, is_open: bool, at: str | None, cancel: bool) -> str:
        field, verb = ("opens_at_ms", "opens") if is_open else ("closes_at_ms", "closes")
        noun = "opening" if is_open else "closing"
        if cancel:
            pending = int(await self.redis.hget(self.keys.config, field) or 0)
            version = await self._set(**{field: 0})
            if not pending:
                return self._changed(version, f"no {noun} was scheduled")
            return self._changed(version, f"cancelled the {noun} set for {iso(pending)}")
        if at is None:
            version = await self._set(open="1" if is_open else "0", **{field: 0})
            return self._changed(version, "opened the canvas" if is_open else "closed the canvas")
        at_ms = parse_time(at, "--at")
        now = await _redis_ms(self.redis)
        if at_ms <= now:
            raise AdminError(
                f"--at {at} is not in the future (it is {iso(now)} now, by Redis's clock)"
            )
        version = await self._set(**{field: at_ms})
        config = await self._config()
        note = ""
        if config is not None and config.open == is_open:
            state = "open" if is_open else "closed"
            other = "close" if is_open else "open"
            note = f"; it is {state} already (run `place admin {other}` first to make it change)"
        what = f"the canvas {verb} by itself at {iso(at_ms)}, in {_span(at_ms - now)}{note}"
        return self._changed(version, what)

    # --- players --------------------------------------------------------------------------------

    @_audited("ban")
    async def ban(self, player: str, duration: str | None = None, reason: str = "") -> str:
        """Ban for `duration` (like 90s, 15m, 2h, 3d; None: for ever); the reason is what the
        player is told. Banning a banned player replaces the ban."""
        player = _player(player)
        duration_ms = parse_duration(duration) if duration is not None else 0
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            raise AdminError(f"a reason is at most {MAX_REASON} characters, got {len(reason)}")
        until_ms, replaced = await self.scripts.admin_ban(
            keys=[self.keys.bans], args=[player, reason, duration_ms]
        )
        ends = f"until {_iso(int(until_ms))}" if until_ms else "for ever"
        why = f": {reason}" if reason else " (no reason given)"
        done = "replaced the ban of" if replaced else "banned"
        return f"{done} {player} {ends}{why}"

    @_audited("unban")
    async def unban(self, player: str) -> str:
        player = _player(player)
        removed = await self.redis.hdel(self.keys.bans, player)
        return f"unbanned {player}" if removed else f"{player} was not banned"

    async def bans(self) -> str:
        """The bans in force, one line each, tab-separated: player, reason, end (ISO UTC or
        never); ended bans are removed on the way."""
        lines = [
            f"{ban['player']}\t{ban['reason'] or '-'}\t{ban['until'] or 'never'}"
            for ban in await self.bans_in_force()
        ]
        return "\n".join(lines) if lines else "no bans"

    async def bans_in_force(self) -> list[dict[str, Any]]:
        """The bans in force: player, reason, until (ISO UTC, or None: never)."""
        flat = await self.scripts.admin_bans(keys=[self.keys.bans])
        bans = []
        for player, raw in sorted(zip(flat[::2], flat[1::2], strict=True)):
            try:
                ban = orjson.loads(raw)
            except orjson.JSONDecodeError:
                ban = None
            if not isinstance(ban, dict):  # written by hand? it holds for ever
                ban = {"reason": f"(unreadable: {raw[:40]!r})"}
            until_ms = ban.get("until_ms")
            bans.append(
                {
                    "player": player.decode(),
                    "reason": ban.get("reason") or "",
                    "until": _iso(int(until_ms)) if until_ms else None,
                }
            )
        return bans

    # --- pixels ---------------------------------------------------------------------------------

    @_audited("wipe")
    async def wipe(self, x: int, y: int, width: int, height: int, color: int) -> str:
        result = await self.scripts.admin_wipe(
            keys=[self.keys.config, self.keys.canvas, self.keys.who, self.keys.placements],
            args=[x, y, width, height, color, self.actor],
        )
        status = int(result[0])
        if status == -1:
            raise AdminError("there is no canvas yet: start a ticker first")
        if status < 0:
            raise AdminError(_wont_wipe(status, x, y, width, height, color, result[1:]))
        return f"wiped {width}x{height} at ({x}, {y}) to colour {color}"

    @_audited("rollback")
    async def rollback(
        self, player: str, since: str, until: str | None = None, dry_run: bool = False
    ) -> str:
        """Every pixel where `player`'s placement made since `since` (up to `until`) is still on
        top gets back the colour it had before that player's run of placements on it."""
        player = _player(player)
        since_ms = parse_time(since, "--since")
        until_ms = parse_time(until, "--until") if until is not None else None
        if until_ms is not None and until_ms < since_ms:
            raise AdminError(f"--until {until} is before --since {since}")
        window = f"since {iso(since_ms)}" + (f" until {iso(until_ms)}" if until_ms else "")
        config = await self._config()
        if config is None:
            raise AdminError("there is no canvas yet: start a ticker first")
        number = await self.redis.hget(self.keys.player_numbers, player)
        if number is None:
            raise AdminError(
                f"no player {player!r} ever signed in here: PLAYER is the user.id of `hello`"
            )
        try:
            history = await load_history(
                self.redis, self.keys, self.store, since_ms, await self.audit.entries()
            )
        except StoreError as error:
            raise AdminError(f"cannot read the placement history: {error}") from None
        plan = await asyncio.to_thread(plan_rollback, history, config, player, since_ms, until_ms)
        box = plan.bounding_box()
        self.details = {"pixels": len(plan), "box": box, "dry_run": dry_run}
        if not len(plan):
            return f"{player} has no placement still on top {window}: nothing to roll back"
        if dry_run:
            return (
                f"dry run: rolling {player} back {window} would restore {len(plan)} pixels"
                f" within {box} ({plan.placements} of their placements in that time);"
                " nothing changed"
            )
        wanted = sorted({p for p in plan.back_players if p})
        numbers: dict[str, int] = {}
        if wanted:
            found = await self.redis.hmget(self.keys.player_numbers, wanted)
            numbers = {p: int(n) for p, n in zip(wanted, found, strict=True) if n is not None}
        restored = skipped = 0
        for start in range(0, len(plan), ROLLBACK_BATCH):
            stop = min(len(plan), start + ROLLBACK_BATCH)
            result = await self.scripts.admin_rollback(
                keys=[self.keys.config, self.keys.canvas, self.keys.who, self.keys.placements],
                args=[config.version, self.actor, plan.packed(int(number), numbers, start, stop)],
            )
            if int(result[0]) == -1:
                raise AdminError("there is no canvas any more (was Redis emptied?)")
            if int(result[0]) == -3:
                raise AdminError(
                    f"the canvas was resized or its palette changed while this ran;"
                    f" {restored} pixels were restored; run the rollback again for the rest"
                )
            restored += int(result[0])
            skipped += int(result[1])
        self.details |= {"restored": restored, "left_alone": skipped}
        alone = f"; {skipped} left alone (painted over since the plan)" if skipped else ""
        return (
            f"rolled {player} back {window}: restored {restored} pixels within {box}{alone};"
            " every player sees it within a tick"
        )

    # --- reading --------------------------------------------------------------------------------

    async def status(self, as_json: bool = False) -> str:
        data = await gather(self.redis, self.keys, self.store, await self.bans_in_force())
        return render_json(data) if as_json else render(data)

    async def log(self, since: str | None = None) -> str:
        """The audit log, oldest first, one line per action: time, who, action, arguments,
        result (tab-separated)."""
        since_ms = parse_time(since, "--since") if since is not None else 0
        with contextlib.suppress(StoreError):  # it stays in Redis; the next command tries again
            await self.audit.copy_to_store()  # what an earlier command could not copy
        try:
            entries = await self.audit.entries(since_ms)
        except StoreError as error:
            raise AdminError(f"cannot read the audit log from the store: {error}") from None
        if not entries:
            return "no admin actions" + (f" since {iso(since_ms)}" if since else "")
        return "\n".join(entry.line() for entry in entries)

    # --- plumbing -------------------------------------------------------------------------------

    async def _config(self) -> LiveConfig | None:
        fields = await self.redis.hgetall(self.keys.config)
        return LiveConfig.from_hash(fields) if fields else None

    async def _set(self, **fields: object) -> int:
        args = [item for pair in fields.items() for item in pair]
        return int(await self.scripts.admin_config(keys=[self.keys.config], args=args))

    async def _backup(self) -> str:
        """A backup right after a size or palette change, so that a restore never replays newer
        placements over a canvas of the old size or palette; "" or a note when it failed."""
        if self.store is None:
            return ""
        read = await read_canvas(self.redis, self.scripts, self.keys)
        if read is None:
            return ""
        try:
            await asyncio.to_thread(write_backup, self.store, as_backup(read))
        except StoreError as error:
            return f" (no backup written: {error}; run `place snapshot backup` once it answers)"
        return ""

    @staticmethod
    def _changed(version: int, what: str) -> str:
        if version == -1:
            raise AdminError("there is no canvas yet: start a ticker first")
        return f"{what} (config version {version}); every pod follows within a tick"


def parse_duration(value: str) -> int:
    """`90s`, `15m`, `2h`, `3d` in ms; anything else is refused in one line naming it."""
    match = _DURATION.match(value.strip())
    ms = int(match[1]) * _UNIT_MS[match[2]] if match else 0
    if not 0 < ms <= MAX_DURATION_MS:
        raise AdminError(
            f"--for must be a duration like 90s, 15m, 2h or 3d (at most 3650d), got {value!r}"
        )
    return ms


def _wont_wipe(
    status: int, x: int, y: int, width: int, height: int, color: int, sizes: Sequence[int]
) -> str:
    """What exactly keeps a wipe from being done, from admin_wipe.lua's status and the canvas's
    size and palette size as the script saw them."""
    canvas_width, canvas_height, colors = (int(size) for size in sizes)
    if status == -2:
        return f"a rectangle is at least 1x1 pixels, got {width}x{height}"
    if status == -4:
        return f"colour {color} is not in the palette of {colors} colours (0 to {colors - 1})"
    where = f"the rectangle {width}x{height} at ({x}, {y})"
    if x < 0 or y < 0:
        return f"{where} starts outside the canvas (x and y must be 0 or more)"
    edges = []
    if x + width > canvas_width:
        edges.append(f"its last column {x + width - 1} is past {canvas_width - 1}")
    if y + height > canvas_height:
        edges.append(f"its last row {y + height - 1} is past {canvas_height - 1}")
    return f"{where} reaches outside the {canvas_width}x{canvas_height} canvas: {', '.join(edges)}"


def _player(player: str) -> str:
    player = player.strip()
    if not player:
        raise AdminError("PLAYER must not be empty: it is the player's user.id")
    return player


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plain(value: object) -> object:
    """An argument as JSON can keep it."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _span(ms: int) -> str:
    seconds = max(0, round(ms / 1000))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = (
        [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    )
    return " ".join(parts + [f"{seconds}s"] * (bool(seconds) or not parts))


async def _redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
