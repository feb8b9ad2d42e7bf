"""Small figures: percentiles (nearest rank), Prometheus text parsing, summaries."""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any

import numpy as np


def pct(values: Any, p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of values at or below."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return math.nan
    k = max(0, math.ceil(p / 100.0 * a.size) - 1)
    return float(np.partition(a, k)[k])


def dist_ms(values_s: Any) -> dict[str, float]:
    """p50/p99/max/mean in milliseconds of durations given in seconds."""
    a = np.asarray(values_s, dtype=float)
    if a.size == 0:
        return {"n": 0, "p50": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    return {
        "n": int(a.size),
        "p50": pct(a, 50) * 1e3,
        "p99": pct(a, 99) * 1e3,
        "max": float(a.max()) * 1e3,
        "mean": float(a.mean()) * 1e3,
    }


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """``{"name{labels}": value}`` for every sample line of a Prometheus text exposition."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            with contextlib.suppress(ValueError):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def metric_family(samples: dict[str, float], name: str) -> dict[str, float]:
    return {
        k: v
        for k, v in samples.items()
        if k == name or k.startswith(name + "_") or k.startswith(name + "{")
    }


def histogram_window(
    before: dict[str, float], after: dict[str, float], name: str
) -> dict[str, float] | None:
    """Mean and bucket-bound p50/p99 of a histogram (or summary) between two scrapes."""
    s0, s1 = before.get(name + "_sum"), after.get(name + "_sum")
    c0, c1 = before.get(name + "_count"), after.get(name + "_count")
    if s1 is None or c1 is None:
        return None
    dc = c1 - (c0 or 0.0)
    if dc <= 0:
        return {"count": 0.0}
    res = {"count": dc, "mean_ms": (s1 - (s0 or 0.0)) / dc * 1e3}
    buckets = []
    for k, v in after.items():
        m = re.match(re.escape(name) + r'_bucket\{.*le="([^"]+)"', k)
        if m:
            le = math.inf if m.group(1) in ("+Inf", "inf") else float(m.group(1))
            buckets.append((le, v - before.get(k, 0.0)))
    buckets.sort()
    for q in (50, 99):
        for le, cum in buckets:
            if cum >= dc * q / 100:
                res[f"p{q}_le_ms"] = le * 1e3
                break
    return res


def summarize_adhoc(m: dict[str, Any]) -> str:
    """A few lines for ``python -m bench.loadgen`` used by hand."""
    lines = [
        f"viewers {m['viewers']}  writers {m['writers']}  connect errors "
        f"{m['connect_errors'] or 0}  gaps {m['gaps']}  closed {m['closed'] or 0}"
    ]
    arr = m["arrivals"]
    if arr:
        spread = [max(v) - min(v) for v in arr.values()]
        d = dist_ms(spread)
        lines.append(
            f"deltas {len(arr)}  first-to-last viewer spread p50 {d['p50']:.1f} ms "
            f"p99 {d['p99']:.1f} ms"
        )
    c = m["writer_cols"]
    acks = [a - s for s, a in zip(c["t_send"], c["t_ack"], strict=False) if a > 0]
    if c["t_send"]:
        d = dist_ms(acks)
        lines.append(
            f"placements sent {len(c['t_send'])} acked {len(acks)} errors "
            f"{m['writer_errors'] or 0}  ack p50 {d['p50']:.2f} ms p99 {d['p99']:.2f} ms"
        )
    for dr in m["drivers"]:
        lines.append(
            f"driver {dr['name']} pid {dr['pid']}: cpu {dr['window_s']:.2f} s over "
            f"{dr['window_wall_s']:.1f} s ({dr['util'] * 100:.0f} % of a core)"
        )
    return "\n".join(lines)
