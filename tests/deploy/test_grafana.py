"""The Grafana dashboard and the Prometheus alert rules: every query asks for metrics Otvet really exports
(read from ``otvet.core.metrics.Metrics``, so a renamed metric fails here), with labels those metrics
have, in PromQL that parses (promtool, when installed; a shape check always)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.deploy.conftest import DEPLOY, require_tool

DASHBOARD = DEPLOY / "grafana" / "otvet-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
#: Labels Prometheus adds to every series it scrapes from Kubernetes pods (both common scrape setups).
TARGET_LABELS = {"namespace", "pod", "instance", "job"}
#: kube-state-metrics series the alerts use besides Otvet's own.
EXTERNAL = {
    "kube_pod_status_ready": {"condition", "namespace", "pod"},
    "kube_pod_status_phase": {"phase", "namespace", "pod"},
}
FUNCTIONS = {"sum", "max", "min", "count", "avg", "rate", "increase", "histogram_quantile"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
GROUPING = r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
#: What the dashboard must show (the deployment issue's list), by the metric that shows it.
REQUIRED = {
    "otvet_http_requests_total",
    "otvet_http_request_duration_seconds_bucket",
    "otvet_answers_total",
    "otvet_first_delta_seconds_bucket",
    "otvet_provider_duration_seconds_bucket",
    "otvet_provider_errors_total",
    "otvet_provider_tokens_total",
    "otvet_retrieval_duration_seconds_bucket",
    "otvet_jobs",
    "otvet_job_duration_seconds_bucket",
    "otvet_websocket_connections",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "otvet_database_up",
    "otvet_draining",
}


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[str, set[str]]]:
    """Every series name Otvet's /metrics can show: name -> (type, label names)."""
    from otvet.core.metrics import Metrics
    from otvet.frontends.telegram.updates import updates_counter

    metrics = Metrics(service="api")
    # Channels define theirs where they use them: the Telegram frontend's, as a running bot would.
    metrics.define("otvet_telegram_updates", updates_counter)
    series: dict[str, tuple[str, set[str]]] = {}
    for value in metrics.instruments():
        if isinstance(value, MetricWrapperBase):
            kind, name, labels = value._type, value._name, set(value._labelnames)
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
            for suffix in suffixes[kind]:
                series[name + suffix] = (kind, labels | ({"le"} if suffix == "_bucket" else set()))
    # process_*, python_gc_*, python_info: the standard collectors, which always have samples.
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name not in series:
                series[sample.name] = (family.type, set(sample.labels))
    for name, labels in EXTERNAL.items():
        series[name] = ("gauge", labels)
    return series


def strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def check_promql(expr: str, exported: dict[str, tuple[str, set[str]]]) -> set[str]:
    """Shape checks any PromQL engine would also make, plus Otvet-specific ones; returns the metrics used."""
    bare = strip_strings(expr)
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    for char in bare:
        if char in pairs:
            stack.append(pairs[char])
        elif char in pairs.values():
            assert stack and stack.pop() == char, f"unbalanced {char!r} in {expr}"
    assert not stack, f"unclosed brackets in {expr}"
    used: set[str] = set()
    labels_used: set[str] = set()
    for match in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", bare):
        name, matchers = match.groups()
        assert name in exported, f"{name} is not a metric Otvet exports ({expr})"
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers):
            assert label in exported[name][1] | TARGET_LABELS, f"{name} has no label {label!r}"
    for match in re.finditer(GROUPING, bare):
        labels_used |= {label.strip() for label in match.group(2).split(",") if label.strip()}
    rest = re.sub(r"\[[^\]]*\]", " ", re.sub(r"\{[^}]*\}", " ", re.sub(GROUPING, " ", bare)))
    for match in re.finditer(r"([a-zA-Z_:][\w:]*)(\s*\()?", rest):
        word = match.group(1)
        if match.group(2):
            assert word in FUNCTIONS, f"unexpected function {word}() in {expr}"
        elif word not in KEYWORDS:
            assert word in exported, f"{word} is not a metric Otvet exports ({expr})"
            used.add(word)
    available = set().union(*(exported[name][1] for name in used)) | TARGET_LABELS
    assert labels_used <= available, f"grouping by labels no series has: {labels_used - available} ({expr})"
    # rate() and increase() only make sense on counters (and a histogram's counters).
    for match in re.finditer(r"\b(rate|increase)\(\s*([a-zA-Z_:][\w:]*)", bare):
        kind = exported[match.group(2)][0]
        assert kind in ("counter", "histogram"), f"{match.group(1)}() over the gauge {match.group(2)}"
    for match in re.finditer(r"histogram_quantile\(\s*([\d.]+)\s*,(.*)", bare):
        assert 0 < float(match.group(1)) < 1
        assert re.search(r"by\s*\([^)]*\ble\b", match.group(2)), f"histogram_quantile without `le`: {expr}"
    # Every process reports the same database-wide queue depth: summing it over pods multiplies it.
    if "otvet_jobs{" in bare or re.search(r"otvet_jobs\b(?!_)", bare):
        assert re.search(r"max by \([^)]*\) \(otvet_jobs\b", bare), (
            f"otvet_jobs must be max'ed over pods: {expr}"
        )
    return used


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Prometheus will receive it."""
    values = {"$__rate_interval": "5m", "$namespace": ".*", "$service": ".*", "$frontend": ".*"}
    for name, value in values.items():
        expr = expr.replace(name, value)
    return expr


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def alerts() -> dict[str, Any]:
    return yaml.safe_load(ALERTS.read_text())


def test_the_dashboard_imports_with_any_prometheus(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables["DS_PROMETHEUS"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    expected = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"] == expected, f"{panel['title']}: a fixed datasource breaks the import"
        assert all(t["datasource"] == expected for t in panel["targets"]), panel["title"]
        assert panel.get("description"), f"{panel['title']}: say what the panel shows"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == expected, variable["name"]
    text = json.dumps(dashboard)
    for used in set(re.findall(r"\$(\w+)", text)) - {"__rate_interval"}:
        assert used in variables, f"${used} is used but not defined"


def test_the_dashboard_layout_is_sound(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the grid"
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_the_dashboard_shows_what_operators_need(
    dashboard: dict[str, Any], exported: dict[str, tuple[str, set[str]]]
) -> None:
    used: set[str] = set()
    for expr in dashboard_exprs(dashboard):
        used |= check_promql(expr, exported)
    assert used >= REQUIRED, f"missing: {sorted(REQUIRED - used)}"
    # Latency panels show p50, p95 and p99 for requests per frontend.
    http = [e for e in dashboard_exprs(dashboard) if "otvet_http_request_duration_seconds_bucket" in e]
    assert {re.search(r"histogram_quantile\(([\d.]+)", e).group(1) for e in http} == {"0.5", "0.95", "0.99"}
    assert all("frontend" in e for e in http)


def test_alert_rules_are_sound(alerts: dict[str, Any], exported: dict[str, tuple[str, set[str]]]) -> None:
    assert (alerts["apiVersion"], alerts["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    rules = [rule for group in alerts["spec"]["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        check_promql(rule["expr"], exported)
        assert re.fullmatch(r"\d+[smh]", rule["for"]), f"{rule['alert']}: `for` is not a duration"
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    # What the issue asks to be alerted on.
    for wanted in ("OtvetHighErrorRate", "OtvetProviderErrors", "OtvetJobBacklog", "OtvetPodNotReady"):
        assert wanted in names


def test_alert_rules_stay_out_of_the_kustomizations() -> None:
    for kustomization in (DEPLOY / "kubernetes").rglob("kustomization.yaml"):
        assert "alerts.yaml" not in kustomization.read_text(), f"{kustomization} includes the PrometheusRule"


def test_promtool_accepts_every_query(
    dashboard: dict[str, Any], alerts: dict[str, Any], tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    records = [
        {"record": f"otvet:dashboard:{i}", "expr": as_promql(e)}
        for i, e in enumerate(dashboard_exprs(dashboard))
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump({"groups": [*alerts["spec"]["groups"], {"name": "dashboard", "rules": records}]})
    )
    done = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
