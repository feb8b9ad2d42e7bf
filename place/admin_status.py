"""`place admin status`: the whole deployment at a glance, from Redis (and the store's pointer to
the latest backup when no ticker reports one).

- the live configuration and the pending schedule (`place:config`);
- the active ticker (the lock's holder) and its standbys: every ticker beats into
  `place:tickers` as it ticks or polls (`admin_schedule_tick.lua`);
- every pod with its connections (`place:pods`) and placements a second (`place:pods:info`),
  both reported every second by `stats_report.lua`;
- the last backup (`place:store`, written by the active ticker's keeper, else
  `backups/latest.json`);
- the bans in force.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis

from place.admin_audit import iso
from place.config import LiveConfig
from place.keys import Keys
from place.snapshot.backup import LATEST, BadBackup, decode_pointer, parse_backup_key
from place.store import Store, StoreError, StoreMissing

SEEN_WITHIN_MS = 5_000  # a ticker or pod not heard from for this long is gone


async def gather(
    redis: Redis, keys: Keys, store: Store | None, bans: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything `status` shows, as plain data (what `--json` prints)."""
    seconds, micros = await redis.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.config)
        pipe.hget(keys.ticker_state, "seq")
        pipe.get(keys.ticker_lock)
        pipe.hgetall(keys.tickers)
        pipe.hgetall(keys.pods)
        pipe.hgetall(keys.pod_info)
        pipe.hgetall(keys.store_status)
        config_hash, seq, lock, beats, pods, infos, store_status = await pipe.execute()

    config = LiveConfig.from_hash(config_hash) if config_hash else None
    canvas = None
    schedule: dict[str, Any] = {"opens_at": None, "closes_at": None}
    if config is not None:
        canvas = {
            "width": config.width,
            "height": config.height,
            "palette": list(config.palette),
            "cooldown_s": config.cooldown_ms / 1000,
            "open": config.open,
            "version": config.version,
            "seq": int(seq or 0),
        }
        schedule = {
            "opens_at": iso(config.opens_at_ms) if config.opens_at_ms else None,
            "closes_at": iso(config.closes_at_ms) if config.closes_at_ms else None,
        }

    active, standbys = None, []
    holder = lock.decode() if lock else None
    for token, beat in sorted(beats.items()):
        at, _, who = beat.decode().partition(" ")
        host, _, pid = who.rpartition(" ")
        age = now - int(at)
        ticker = {"id": token.decode()[:8], "host": host, "pid": _int(pid), "seen_ms_ago": age}
        if token.decode() == holder:
            active = ticker
        elif age <= SEEN_WITHIN_MS:
            standbys.append(ticker)
    if holder and active is None:  # a ticker of an older version, which does not beat
        active = {"id": holder[:8], "host": None, "pid": None, "seen_ms_ago": None}

    pod_list = []
    for pod, report in sorted(pods.items()):
        count, _, at = report.decode().partition(":")
        age = now - int(at or 0)
        if age > SEEN_WITHIN_MS:
            continue
        info = _json(infos.get(pod))
        pod_list.append(
            {
                "id": pod.decode(),
                "host": info.get("host"),
                "pid": info.get("pid"),
                "connections": _int(count),
                "pps": float(info.get("pps", 0.0)),
                "seen_ms_ago": age,
            }
        )

    status = {k.decode(): v.decode() for k, v in store_status.items()}
    backup = None
    if status.get("last_backup_key"):
        backup = {
            "key": status["last_backup_key"],
            "at": iso(int(status.get("last_backup_at_ms", 0))),
            "age_s": round((now - int(status.get("last_backup_at_ms", 0))) / 1000),
            "seq": _int(status.get("last_backup_seq")),
        }
    elif store is not None:
        backup = await asyncio.to_thread(_latest_backup, store, now)

    return {
        "at": iso(now),
        "canvas": canvas,
        "schedule": schedule,
        "tickers": {"active": active, "standbys": standbys},
        "pods": pod_list,
        "totals": {
            "pods": len(pod_list),
            "connections": sum(p["connections"] for p in pod_list),
            "pps": round(sum(p["pps"] for p in pod_list), 1),
        },
        "backup": backup,
        "bans": bans,
    }


def render(data: dict[str, Any]) -> str:
    canvas = data["canvas"]
    lines = []
    if canvas is None:
        lines.append("canvas: none yet (is a ticker running?)")
    else:
        lines.append(
            f"canvas: {canvas['width']}x{canvas['height']}, {len(canvas['palette'])} colours,"
            f" cooldown {canvas['cooldown_s']:g} s, {'OPEN' if canvas['open'] else 'CLOSED'}"
            f" (config version {canvas['version']}, seq {canvas['seq']})"
        )
    schedule = data["schedule"]
    pending = [f"opens at {schedule['opens_at']}"] if schedule["opens_at"] else []
    pending += [f"closes at {schedule['closes_at']}"] if schedule["closes_at"] else []
    lines.append(f"schedule: {', '.join(pending) if pending else 'nothing pending'}")
    tickers = data["tickers"]
    active = tickers["active"]
    lines.append(f"active ticker: {_ticker(active) if active else 'NONE'}")
    standbys = tickers["standbys"]
    lines.append(
        f"standby tickers: {', '.join(_ticker(t) for t in standbys) if standbys else 'none'}"
    )
    totals = data["totals"]
    lines.append(
        f"pods: {totals['pods']}, {totals['connections']} connections,"
        f" {totals['pps']:g} placements/s"
    )
    for pod in data["pods"]:
        where = f" on {pod['host']} (pid {pod['pid']})" if pod["host"] else ""
        lines.append(
            f"  pod {pod['id']}{where}: {pod['connections']} connections,"
            f" {pod['pps']:g} placements/s"
        )
    backup = data["backup"]
    if backup is None:
        lines.append("last backup: none")
    elif "error" in backup:
        lines.append(f"last backup: unknown ({backup['error']})")
    else:
        lines.append(
            f"last backup: {backup['at']} ({backup['age_s']} s ago), seq {backup['seq']},"
            f" {backup['key']}"
        )
    bans = data["bans"]
    lines.append(f"bans in force: {len(bans)}")
    for ban in bans:
        lines.append(f"  {ban['player']}\t{ban['reason'] or '-'}\t{ban['until'] or 'never'}")
    return "\n".join(lines)


def render_json(data: dict[str, Any]) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def _ticker(ticker: dict[str, Any]) -> str:
    if ticker["host"] is None:
        return f"{ticker['id']} (not reporting)"
    return (
        f"{ticker['id']} on {ticker['host']} (pid {ticker['pid']}),"
        f" seen {ticker['seen_ms_ago'] / 1000:.1f} s ago"
    )


def _latest_backup(store: Store, now: int) -> dict[str, Any] | None:
    try:
        key = str(decode_pointer(store.read(LATEST)[0])["key"])
    except StoreMissing:
        return None
    except (StoreError, BadBackup) as error:
        return {"error": str(error)}
    parsed = parse_backup_key(key)
    at_ms, seq = parsed if parsed else (0, 0)
    return {"key": key, "at": iso(at_ms), "age_s": round((now - at_ms) / 1000), "seq": seq}


def _json(raw: bytes | None) -> dict[str, Any]:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
