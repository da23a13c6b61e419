"""The Grafana dashboard (charts/cloudassist/dashboards/cloudassist.json): valid JSON on a templated
Prometheus datasource, and every metric its queries name exists in the app's live /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "cloudassist" / "dashboards" / "cloudassist.json"
TOKEN = "dashboard-test-token"

# PromQL words that look like identifiers but are not metrics.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "rate", "irate", "increase", "delta", "idelta", "histogram_quantile", "abs", "ceil", "floor", "round", "clamp_min",
    "clamp_max", "label_replace", "label_join", "vector", "scalar", "time", "absent", "sort", "sort_desc",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time",
}  # fmt: skip


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panels(panel))  # rows hold panels when collapsed
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers outside label matchers, ranges,
    grouping clauses and strings, that are not PromQL functions or keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    names = set(re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {name for name in names if name not in PROMQL_WORDS and not re.fullmatch(r"[eE]\d*|Inf|NaN", name)}


SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "summary": ()}


def exposed_names(text: str) -> set[str]:
    """Every series name the exposition can have: sample names, plus each family's suffixed names
    (a labelled metric without observations yet has no samples, only its HELP and TYPE)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(f"{family.name}{suffix}" for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture
def live_names(client, settings, dev_client, make_request) -> set[str]:
    """A live scrape after exercising the app: the HTTP, MongoDB, cache and product metrics exist."""
    settings.METRICS_TOKEN = TOKEN
    make_request()
    assert client.get("/health").status_code == 200
    assert dev_client.get("/api/v1/configs/").status_code == 200
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return exposed_names(response.content.decode())


def test_the_dashboard_is_valid_json_on_a_templated_prometheus_datasource(dashboard):
    assert dashboard["uid"] == "cloudassist"
    assert dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    queried = [panel for panel in panels(dashboard) if panel.get("targets")]
    assert len(queried) >= 10
    for panel in queried:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))


def test_the_metric_name_extraction_sees_what_a_panel_selects():
    expr = 'histogram_quantile(0.95, sum by (le, view) (rate(some_metric_bucket{status=~"5..", a="b c"}[5m])))'
    assert metric_names(expr) == {"some_metric_bucket"}
    assert metric_names("max by (queue) (a_gauge) / on (queue) group_left b_gauge offset 5m") == {"a_gauge", "b_gauge"}


@pytest.mark.django_db
def test_every_metric_the_dashboard_queries_exists_in_the_exposition(dashboard, live_names):
    referenced = {
        name: panel["title"]
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        for name in metric_names(target["expr"])
    }
    assert referenced
    unknown = {name: title for name, title in referenced.items() if name not in live_names}
    assert not unknown, f"panels query metrics the app does not expose: {unknown}"


@pytest.mark.django_db
def test_the_dashboard_shows_every_cloudassist_metric(dashboard, live_names):
    queried = {
        name for panel in panels(dashboard) for t in panel.get("targets", []) for name in metric_names(t["expr"])
    }
    families = {name for name in live_names if name.startswith("cloudassist_")}
    bases = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in queried}
    missing = {name for name in families if re.sub(r"_(total|bucket|sum|count|created)$", "", name) not in bases}
    assert not missing, f"no panel shows: {sorted(missing)}"
