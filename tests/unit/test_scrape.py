"""One scrape for every worker of a pod: the workers' exposition texts merged, each sample
labelled with its worker, and still valid Prometheus text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from place.api.scrape import merge


def worker_text(connections: int, placements: int, latency: float) -> bytes:
    registry = CollectorRegistry()
    Gauge("place_connections", "Open websockets.", registry=registry).set(connections)
    Counter("place_placements", "Placements.", ["result"], registry=registry).labels("stored").inc(
        placements
    )
    Histogram("place_delta_latency_seconds", "Latency.", registry=registry).observe(latency)
    return generate_latest(registry)


def test_every_sample_of_every_worker_is_kept_with_its_worker_label() -> None:
    text = merge([(0, worker_text(10, 5, 0.01)), (1, worker_text(32, 7, 2.0))]).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}

    connections = families["place_connections"]
    assert connections.type == "gauge"
    assert {s.labels["worker"]: s.value for s in connections.samples} == {"0": 10, "1": 32}

    placements = families["place_placements"]
    assert placements.type == "counter"  # still a counter, its samples still `_total`
    assert {
        (s.name, s.labels["worker"], s.labels["result"], s.value) for s in placements.samples
    } == {
        ("place_placements_total", "0", "stored", 5),
        ("place_placements_total", "1", "stored", 7),
    }

    latency = families["place_delta_latency_seconds"]
    assert latency.type == "histogram"
    counts = {s.labels["worker"]: s.value for s in latency.samples if s.name.endswith("_count")}
    assert counts == {"0": 1, "1": 1}
    assert text.count("# TYPE place_connections gauge") == 1  # one family, not one per worker
