"""Prometheus text exposition of a pod's counters, without a client library: a handful of
plain numbers updated on the hot path with no locks (one event loop), rendered on scrape."""

from __future__ import annotations

import bisect
from collections import Counter


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {self.sum}")
        lines.append(f"{name}_count {self.count}")
        return lines


class Metrics:
    """Everything `GET /metrics` shows for one pod."""

    def __init__(self) -> None:
        self.connections_opened = 0
        self.placements = Counter[str]()  # by result: stored, or the error code
        self.errors = Counter[str]()  # every error frame sent, by code
        self.delta_latency = Histogram((0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.tick_duration = Histogram((0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25))

    def render(self, gauges: dict[str, tuple[float, str]]) -> str:
        lines: list[str] = []
        for name, (value, help_text) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
        lines += _counter(
            "place_connections_opened_total",
            "Websocket connections opened.",
            {"": self.connections_opened},
        )
        lines += _counter(
            "place_placements_total", "Placements answered, by result.", self.placements, "result"
        )
        lines += _counter("place_errors_total", "Error frames sent, by code.", self.errors, "code")
        lines += self.delta_latency.render(
            "place_delta_latency_seconds",
            "From the ticker publishing a delta to this pod having it.",
        )
        lines += self.tick_duration.render(
            "place_tick_duration_seconds", "Time the ticker spent on a tick, as it reported."
        )
        return "\n".join(lines) + "\n"


def _counter(name: str, help_text: str, values: dict[str, int], label: str = "") -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    for key, value in sorted(values.items()):
        lines.append(f'{name}{{{label}="{key}"}} {value}' if label else f"{name} {value}")
    return lines
