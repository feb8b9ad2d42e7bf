"""Redis time per placement of `canvas_place.lua`, today's script and this checkout's side by side.

Each script runs against its own fresh ``redis-server`` (no persistence) on a 1000x1000 canvas,
fed batches of placements as a pod sends them (the same packed arguments), with and without a
cooldown, and with every player placing once per batch or some players twice. The figure is
``INFO commandstats``' ``usec`` of EVALSHA divided by the placements stored, which is what the
throughput scenario of ``bench.run`` reports for the whole system:

    .venv/bin/python -m bench.redis_place                  # today = the round-two baseline
    .venv/bin/python -m bench.redis_place --baseline HEAD --batch 45 --batches 400
"""

from __future__ import annotations

import argparse
import random
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from place.config import LiveConfig
from place.dev import free_port, redis_server_command
from place.keys import Keys
from place.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SCRIPT = "place/lua/canvas_place.lua"
_PLACEMENT = struct.Struct("<IiiiB")


def script_at(ref: str | None) -> str:
    """The script's text in git ``ref``, or in this checkout (None)."""
    if ref is None:
        return (REPO / SCRIPT).read_text()
    done = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:{SCRIPT}"], check=True, capture_output=True
    )
    return done.stdout.decode()


def measure(
    text: str, cooldown_s: int, batch: int, batches: int, twice: bool, seed: int = 1
) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        redis_server_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        r = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                r.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        keys = Keys()
        config = LiveConfig.from_settings(Settings())
        r.hset(keys.config, mapping=config.to_hash() | {"cooldown_ms": cooldown_s * 1000})
        r.set(keys.canvas, bytes(config.width * config.height))
        r.set(keys.who, bytes(12 * config.width * config.height))
        script = r.register_script(text)
        fixed = [keys.config, keys.canvas, keys.placements, keys.who, keys.bans, keys.stats]
        rng = random.Random(seed)
        player = 0
        r.config_resetstat()
        results: dict[str, int] = {}
        for _ in range(batches):
            numbers = bytearray()
            ids: list[str] = []
            for i in range(batch):
                if not (twice and i % 10 == 9):  # every tenth: the previous player again
                    player += 1
                numbers += _PLACEMENT.pack(
                    player, rng.randrange(1000), rng.randrange(1000), rng.randrange(32), 0
                )
                ids.append(f"player-{player:08d}")
            answer = script(
                keys=fixed + [keys.cooldown(p) for p in ids], args=[batch, bytes(numbers), *ids]
            )
            for code in answer[::3]:
                results[code.decode()] = results.get(code.decode(), 0) + 1
        stats = r.info("commandstats")
        usec = stats["cmdstat_evalsha"]["usec"]
        inner = {
            k.removeprefix("cmdstat_"): v["calls"]
            for k, v in stats.items()
            if k not in ("cmdstat_evalsha", "cmdstat_script", "cmdstat_config", "cmdstat_info")
        }
        stored = results.get("ok", 0)
        return {
            "usec_per_stored": usec / max(1, stored),
            "stored": stored,
            "answers": results,
            "commands_per_placement": {k: v / (batch * batches) for k, v in inner.items()},
        }
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.redis_place", description=__doc__)
    ap.add_argument("--baseline", default="45ec89f", help="git ref of today's script")
    ap.add_argument("--batch", type=int, default=45, help="placements per call (default 45)")
    ap.add_argument("--batches", type=int, default=300, help="calls per case (default 300)")
    a = ap.parse_args(argv)
    cases = [(0, False), (300, False), (300, True)]
    print(f"{'case':<38} {'today':>8} {'new':>8}  us of Redis per stored placement")
    for cooldown_s, twice in cases:
        name = f"cooldown {cooldown_s} s" + (", some players twice" if twice else "")
        figures = [
            measure(script_at(ref), cooldown_s, a.batch, a.batches, twice)
            for ref in (a.baseline, None)
        ]
        today, new = figures
        assert today["answers"] == new["answers"], (today["answers"], new["answers"])
        calls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(new["commands_per_placement"].items()))
        print(
            f"{name:<38} {today['usec_per_stored']:>8.2f} {new['usec_per_stored']:>8.2f}"
            f"  answers {new['answers']}; new: commands per placement {calls}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
