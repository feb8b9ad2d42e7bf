"""A pod's Prometheus metrics, with prometheus-client: one registry per pod object.

The hot path stays cheap. Counters bumped per placement, per answer or per frame are plain
integers (`placements["stored"] += 1`: one dict update, no lock, no label lookup) that a collector
reads at scrape time and exposes as Prometheus counters; so are the hub's per-frame figures and
values that live elsewhere (open connections, the store's state, Redis memory). Histograms are
observed once per delta, tick or report, never per frame or per player.

Every name, its type and meaning is listed in docs/operations.md ("What to watch"); the alert
rules and the dashboard in deploy/monitoring/ use them, and a test checks that they exist.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from place.status import ErrorCode

if TYPE_CHECKING:
    from place.api.pod import Pod

# the 0.0.4 text format, which every Prometheus (2.x and 3.x) and prometheus-client's parser read
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `_created` series double the size of a scrape and no dashboard here uses them
disable_created_metrics()

STORED = "stored"
ERROR_CODES = tuple(code.value for code in ErrorCode)
PLACEMENT_RESULTS = (STORED, *ERROR_CODES)
REFUSALS = ("origin", "full", "address", "sign_in")
SUPERVISED = ("mirror", "stats", "resync")

_SECONDS_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SECONDS_FANOUT = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Everything `GET /metrics` shows for one pod, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections_opened = 0
        self.placements = Counter[str]()  # by result: "stored", or the error code
        self.errors = Counter[str]()  # every error frame sent, by code
        self.players_shed = 0  # closed with 1012 by the shedder (place.api.shedding)
        self.delta_latency = Histogram(
            "place_delta_latency_seconds",
            "From the ticker publishing a delta to this pod having it.",
            buckets=_SECONDS_FAST,
            registry=r,
        )
        self.delta_fanout = Histogram(
            "place_delta_fanout_seconds",
            "From the ticker publishing a delta to this pod having written it to its last player.",
            buckets=_SECONDS_FANOUT,
            registry=r,
        )
        self.tick_duration = Histogram(
            "place_tick_duration_seconds",
            "Time the active ticker spent on a tick, as it reported on the bus (every pod"
            " observes every tick).",
            buckets=_SECONDS_FAST,
            registry=r,
        )
        self.redis_roundtrip = Histogram(
            "place_redis_roundtrip_seconds",
            "Round trip of the pod's once-a-second report to Redis (one script call).",
            buckets=_SECONDS_FAST,
            registry=r,
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def watch(self, pod: Pod) -> None:
        """Read the pod's own counters and state at every scrape."""
        self.registry.register(_PodCollector(pod))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _PodCollector:
    """Figures the pod keeps as plain numbers (or that live in Redis), read at scrape time."""

    def __init__(self, pod: Pod) -> None:
        self.pod = pod

    def describe(self) -> Iterator[Metric]:
        return iter(())  # names are not checked against the registry's: they are ours alone

    def collect(self) -> Iterator[Metric]:
        pod = self.pod
        hub, stats, metrics = pod.hub, pod.stats, pod.metrics
        yield _counter(
            "place_connections_opened", "Websocket connections opened.", metrics.connections_opened
        )
        yield _labelled(
            "place_placements",
            "Placements answered, by result: stored, or the error code.",
            "result",
            PLACEMENT_RESULTS,
            metrics.placements,
        )
        yield _labelled(
            "place_errors",
            "Error frames sent, by code.",
            "code",
            ERROR_CODES,
            metrics.errors,
        )
        yield _labelled(
            "place_task_restarts",
            "Times a long-lived task of the pod failed and was restarted (place/api/supervise.py).",
            "task",
            SUPERVISED,
            pod.supervisor.restarts,
        )
        yield _counter(
            "place_players_shed",
            "Players this pod closed with 1012 because it held far more than the average"
            " (PLACE_SHED_ABOVE_AVERAGE).",
            metrics.players_shed,
        )
        yield _gauge("place_connections", "Websocket connections open on this pod.", len(hub))
        yield _gauge(
            "place_connection_limit",
            "Websockets this pod takes before answering 503 (PLACE_LIMIT_CONCURRENCY).",
            pod.settings.limit_concurrency,
        )
        yield _gauge("place_seq", "The seq of this pod's canvas.", pod.mirror.seq)
        yield _gauge("place_ready", "1 while /readyz answers 200.", 1 if pod.ready()[0] else 0)
        heard = time.monotonic() - pod.mirror.last_heard
        yield _gauge(
            "place_ticker_silence_seconds",
            "Seconds since this pod last heard from the ticker (a delta or a heartbeat);"
            " -1 before the first.",
            heard if heard != float("inf") else -1.0,
        )
        yield _counter(
            "place_frames_delivered", "Delta frames written to players.", hub.frames_delivered
        )
        yield _counter(
            "place_frames_dropped",
            "Deltas not written to slow players (they get a snapshot once caught up).",
            hub.frames_dropped,
        )
        yield _counter(
            "place_slow_players",
            "Times a player had over 256 KiB unsent and was switched from deltas to a catch-up"
            " snapshot.",
            hub.slow_players,
        )
        yield _gauge(
            "place_unsent_bytes",
            "Bytes written to players and not yet sent, every player's together, as of the last"
            " delta (PLACE_UNSENT_BUDGET_MB bounds it).",
            hub.unsent,
        )
        yield _counter(
            "place_bytes_sent",
            "Websocket frame bytes written to players (deltas, snapshots, answers).",
            hub.bytes_sent,
        )
        yield _counter(
            "place_placements_unanswered_by_redis",
            "Placements answered `unavailable` because Redis did not answer in time or the queue"
            " was full (also counted in place_placements_total).",
            pod.placer.timed_out + pod.placer.overflowed,
        )
        yield _counter(
            "place_redis_placement_calls",
            "Placement batches sent to Redis (one script call each).",
            pod.placer.calls,
        )
        yield _labelled(
            "place_refused",
            "Handshakes and sign-ins refused by the door, by reason: origin, full (503),"
            " address (too many connections from one address), sign_in (too many a minute).",
            "reason",
            REFUSALS,
            pod.door.refused,
        )
        memory = stats.redis_memory
        yield _gauge(
            "place_redis_used_memory_bytes",
            "Redis used_memory (INFO memory), read every 10 s; -1 until read.",
            memory.get("used_memory", -1),
        )
        yield _gauge(
            "place_redis_maxmemory_bytes",
            "Redis maxmemory (0: no limit set), read every 10 s; -1 until read.",
            memory.get("maxmemory", -1),
        )
        yield from _store_gauges(stats.store)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _labelled(
    name: str, help_text: str, label: str, known: tuple[str, ...], values: Mapping[str, int]
) -> CounterMetricFamily:
    """A counter with one label: every known value (0 until it happens), then any other seen."""
    family = CounterMetricFamily(name, help_text, labels=[label])
    for key in (*known, *sorted(set(values) - set(known))):
        family.add_metric([key], values.get(key, 0))
    return family


def _store_gauges(status: dict[str, str]) -> Iterator[GaugeMetricFamily]:
    """The active ticker's object-store state, as it reported it to Redis (`place:store`).

    Gauges, not counters: they are the active ticker's figures relayed, and they start again
    from zero when another ticker takes over.
    """
    backup_at = float(status.get("last_backup_at_ms", 0))
    yield _gauge(
        "place_store_frames_pending",
        "Timelapse frames waiting for the store.",
        float(status.get("frames_pending", 0)),
    )
    yield _gauge(
        "place_store_frames_dropped",
        "Timelapse frames dropped while the store was down (this leader).",
        float(status.get("frames_dropped", 0)),
    )
    yield _gauge(
        "place_store_backup_pending",
        "1 while a backup waits for the store.",
        float(status.get("backup_pending", 0)),
    )
    yield _gauge(
        "place_store_archive_lag_seconds",
        "Age of the oldest placement not yet archived.",
        float(status.get("archive_lag_ms", 0)) / 1000,
    )
    yield _gauge(
        "place_store_failures",
        "Failed store writes (retried) since this ticker became active.",
        float(status.get("failures", 0)),
    )
    yield _gauge(
        "place_store_last_backup_age_seconds",
        "Seconds since the last backup (-1: none yet by this ticker).",
        (time.time() * 1000 - backup_at) / 1000 if backup_at else -1.0,
    )
