"""The PromQL of deploy/k8s/monitoring/ (alert rules, dashboard, the adapter's rule), parsed with
promql-parser: the deploy tests check that it parses, the metrics test that every series it names
is on a pod's /metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import promql_parser
import yaml

from tests.servers import REPO

MONITORING = REPO / "deploy" / "k8s" / "monitoring"


def promql_expressions() -> Iterator[tuple[str, str]]:
    """(where, expression) for every PromQL expression in deploy/k8s/monitoring/, with Grafana's
    and the adapter's template variables replaced by plain values."""
    for group in yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$namespace", "place")
            yield f"panel {panel['title']!r}", expr
    for rule in yaml.safe_load((MONITORING / "prometheus-adapter.yaml").read_text())["rules"]:
        expr = (
            rule["metricsQuery"]
            .replace("<<.Series>>", "place_connections")
            .replace("<<.LabelMatchers>>", 'namespace="place",pod=~"place-api-.*"')
            .replace("<<.GroupBy>>", "pod")
        )
        yield "adapter rule", expr
        yield "adapter series", rule["seriesQuery"]


def metric_names(expr: str) -> set[str]:
    """The series an expression selects."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                visit(child)
        for child in getattr(node, "args", None) or ():
            visit(child)

    visit(promql_parser.parse(expr))
    return names
