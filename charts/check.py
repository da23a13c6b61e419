"""Offline checks of the CloudAssist Helm chart (`make chart-check`; cloudassist/tests/test_chart.py uses it too).

No cluster, no network, no helm binary: the Helm 4 SDK (PyPI helm-python-sdk, module helm_python) lints and
renders the chart, and kubernetes-validate checks every rendered manifest against the Kubernetes OpenAPI
schemas in strict mode (unknown fields are errors).

The mongodb and redis subcharts are declared in Chart.yaml but not vendored (`helm dependency build` needs
the network). What that means here:

- rendering: the SDK renders a chart whose declared dependencies are absent from charts/ (unlike the helm
  CLI's install/template, which refuse with "found in Chart.yaml, but missing in charts/ directory"); with
  mongodb/redis.enabled it renders our templates (whose MONGODB_URI/REDIS_URL point at the subcharts'
  Services) and simply nothing for the absent subcharts;
- lint: on the chart as it is, the missing dependencies are a warning ("chart directory is missing these
  dependencies"), which --strict turns into an error. So the chart is linted twice: as it is, where that
  warning is the only one allowed, and strictly, as a temporary copy whose Chart.yaml has no `dependencies`
  (nothing else changes), once per value set.

Usage: python charts/check.py [--kube-version 1.30.0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml
from helm_python import HelmError
from helm_python.chart import Chart, dependency_list, lint

CHART_DIR = Path(__file__).resolve().parent / "cloudassist"
VALUES_DIR = CHART_DIR / "ci"
DASHBOARD = CHART_DIR / "dashboards" / "cloudassist.json"
KUBE_VERSION = "1.30.0"
RELEASE = "cloudassist"
NAMESPACE = "cloudassist"
MISSING_DEPENDENCIES = "chart directory is missing these dependencies"
# Custom resources kubernetes-validate has no schema for: checked by check_custom_resource instead.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor")}
# The workloads of the chart and their containers' kinds, for the invariants below.
WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


class ChartCheckError(Exception):
    """A check failed; the message says which and why."""


def value_sets() -> dict[str, dict[str, Any]]:
    """The value sets under charts/cloudassist/ci/ (<name>-values.yaml, as chart-testing names them)."""
    sets = {}
    for path in sorted(VALUES_DIR.glob("*-values.yaml")):
        sets[path.name.removesuffix("-values.yaml")] = yaml.safe_load(path.read_text()) or {}
    return sets


def dashboard_available() -> bool:
    return DASHBOARD.is_file() and DASHBOARD.stat().st_size > 0


def effective_values(values: dict[str, Any]) -> dict[str, Any]:
    """The value set, with the Grafana dashboard switched off while dashboards/cloudassist.json is not written."""
    if dashboard_available() or not values.get("grafana", {}).get("dashboard", {}).get("enabled"):
        return values
    return {**values, "grafana": {"dashboard": {**values["grafana"]["dashboard"], "enabled": False}}}


def render(values: dict[str, Any], chart_dir: Path = CHART_DIR) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` with these values would produce (hooks included)."""
    with Chart.load(chart_dir) as chart:
        return chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render (NOTES.txt and empty documents left out)."""
    objects = []
    for path, text in sorted(rendered.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                if not isinstance(document, dict) or "kind" not in document:
                    raise ChartCheckError(f"{path}: a document that is not a Kubernetes object: {document!r:.200}")
                objects.append(document)
    return objects


def name_of(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def check_custom_resource(obj: dict[str, Any]) -> None:
    """The minimal shape of the custom resources the chart renders (kubernetes-validate cannot know CRDs)."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "ServiceMonitor":
        selector = spec.get("selector") or {}
        if not (selector.get("matchLabels") or selector.get("matchExpressions")):
            raise ChartCheckError(f"{name_of(obj)}: spec.selector selects nothing")
        endpoints = spec.get("endpoints")
        if not isinstance(endpoints, list) or not endpoints:
            raise ChartCheckError(f"{name_of(obj)}: spec.endpoints must be a non-empty list")
        allowed = {"port", "path", "scheme", "interval", "scrapeTimeout", "bearerTokenSecret", "honorLabels"}
        for endpoint in endpoints:
            unknown = set(endpoint) - allowed
            if (
                unknown
                or not isinstance(endpoint.get("port"), str)
                or not str(endpoint.get("path", "")).startswith("/")
            ):
                raise ChartCheckError(
                    f"{name_of(obj)}: malformed endpoint {endpoint} (unknown fields: {sorted(unknown)})"
                )
            token = endpoint.get("bearerTokenSecret")
            if token is not None and not (token.get("name") and token.get("key")):
                raise ChartCheckError(f"{name_of(obj)}: bearerTokenSecret needs a name and a key: {token}")


def validate(objects: list[dict[str, Any]], kube_version: str = KUBE_VERSION) -> tuple[int, int]:
    """kubernetes-validate --strict on every object; custom resources get check_custom_resource.

    Returns (objects validated against the Kubernetes schemas, custom resources checked).
    """
    validated = custom = 0
    for obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_RESOURCES:
            check_custom_resource(obj)
            custom += 1
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(part) for part in exc.path)
            raise ChartCheckError(
                f"{name_of(obj)}: invalid for Kubernetes {kube_version} at {path}: {exc.message}"
            ) from exc
        except kubernetes_validate.SchemaNotFoundError as exc:
            raise ChartCheckError(f"{name_of(obj)}: no Kubernetes {kube_version} schema for it ({exc})") from exc
        validated += 1
    return validated, custom


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) for every Deployment/Job/... of a render."""
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            yield obj, obj["spec"]["template"]["spec"]


def check_invariants(objects: list[dict[str, Any]]) -> None:
    """What every render must keep, whatever the values: hardened pods and containers with resources, and
    Grafana dashboards that are JSON."""
    for obj in objects:
        if obj["kind"] == "ConfigMap" and "grafana_dashboard" in obj["metadata"].get("labels", {}):
            for key, text in obj.get("data", {}).items():
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise ChartCheckError(f"{name_of(obj)}: {key} is not JSON: {exc}") from exc
    for workload, pod in pod_specs(objects):
        where = name_of(workload)
        pod_security = pod.get("securityContext") or {}
        if (
            not pod_security.get("runAsNonRoot")
            or pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault"
        ):
            raise ChartCheckError(f"{where}: pod securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in pod.get("initContainers", []) + pod["containers"]:
            here = f"{where} container {container['name']}"
            security = container.get("securityContext") or {}
            if (
                security.get("allowPrivilegeEscalation") is not False
                or security.get("readOnlyRootFilesystem") is not True
                or security.get("runAsNonRoot") is not True
                or "ALL" not in security.get("capabilities", {}).get("drop", [])
            ):
                raise ChartCheckError(f"{here}: securityContext must be non-root, read-only, no escalation, drop ALL")
            resources = container.get("resources") or {}
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                    raise ChartCheckError(f"{here}: resources.{part} needs cpu and memory")
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):  # noqa: S108 (a mount path, not a file)
                raise ChartCheckError(f"{here}: /tmp must be an emptyDir (the root filesystem is read-only)")


@contextmanager
def chart_without_dependencies() -> Iterator[Path]:
    """A temporary copy of the chart whose Chart.yaml declares no dependencies (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="chart-check-") as tmp:
        copy = Path(tmp) / CHART_DIR.name
        shutil.copytree(CHART_DIR, copy, ignore=shutil.ignore_patterns("charts", "Chart.lock", "__pycache__"))
        metadata = yaml.safe_load((copy / "Chart.yaml").read_text())
        metadata.pop("dependencies", None)
        (copy / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
        yield copy


def lint_messages(report: dict[str, Any]) -> list[str]:
    return [f"{SEVERITY.get(m['severity'], m['severity'])}: {m['path']}: {m['error']}" for m in report["messages"]]


def lint_as_is(values: dict[str, Any], kube_version: str = KUBE_VERSION) -> dict[str, Any]:
    """Lint the chart as it is: no error, and no warning but the missing (not vendored) dependencies."""
    report = lint(CHART_DIR, values, kube_version=f"v{kube_version}")
    problems = [
        line
        for m, line in zip(report["messages"], lint_messages(report), strict=True)
        if m["severity"] >= 2 and MISSING_DEPENDENCIES not in m["error"]
    ]
    if report["errors"] or problems:
        raise ChartCheckError("helm lint: " + "; ".join(report["errors"] + problems))
    return report


def lint_strict(chart_dir: Path, values: dict[str, Any], kube_version: str = KUBE_VERSION) -> dict[str, Any]:
    """helm lint --strict (warnings are errors) on a chart without declared dependencies."""
    report = lint(chart_dir, values, strict=True, kube_version=f"v{kube_version}")
    if report["errors"] or any(m["severity"] >= 2 for m in report["messages"]):
        raise ChartCheckError("helm lint --strict: " + "; ".join(report["errors"] + lint_messages(report)))
    return report


# Values that must not render, and the words the failure must contain (a clear message, not a template crash).
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "no secretKey and no existingSecret": ({"secrets": {"secretsKeys": "k"}}, "secrets.secretKey is required"),
    "no secretsKeys": ({"secrets": {"secretKey": "k"}}, "secrets.secretsKeys is required"),
    "mongodb off without a URI": (
        {"secrets": {"secretKey": "k", "secretsKeys": "k"}, "mongodb": {"enabled": False}},
        "externalMongodb.uri is required",
    ),
    "redis off without a URL": (
        {"secrets": {"secretKey": "k", "secretsKeys": "k"}, "redis": {"enabled": False}},
        "externalRedis.url is required",
    ),
    "ServiceMonitor without a metrics token": (
        {"secrets": {"secretKey": "k", "secretsKeys": "k"}, "serviceMonitor": {"enabled": True}},
        "secrets.metricsToken is required",
    ),
    "standalone mongodb subchart": (
        {"existingSecret": "s", "mongodb": {"architecture": "standalone"}},
        "mongodb.architecture must be replicaset",
    ),
    "otel without an endpoint": ({"existingSecret": "s", "otel": {"enabled": True}}, "otel.endpoint is required"),
    "a misspelt value": ({"existingSecret": "s", "webb": {}}, "additional properties 'webb' not allowed"),
    "a wrongly typed value": ({"existingSecret": "s", "web": {"replicaCount": "two"}}, "/web/replicaCount"),
}


def check_refused() -> list[str]:
    """Each value set of REFUSED fails to render with its message. Returns the messages."""
    messages = []
    for label, (values, expected) in REFUSED.items():
        try:
            render(values)
        except HelmError as exc:
            if expected not in str(exc):
                raise ChartCheckError(f"{label}: refused, but without '{expected}': {exc}") from exc
            messages.append(f"{label}: {expected}")
        else:
            raise ChartCheckError(f"{label}: rendered, but must be refused with '{expected}'")
    return messages


def run(kube_version: str = KUBE_VERSION, out=sys.stdout) -> None:
    """Every check, in order; raises ChartCheckError at the first failure."""
    if kube_version not in kubernetes_validate.utils.all_versions():
        known = sorted(set(kubernetes_validate.utils.all_versions()), key=lambda v: tuple(map(int, v.split("."))))
        raise ChartCheckError(
            f"kubernetes-validate has no schemas for Kubernetes {kube_version} (it has {known[0]} to {known[-1]})"
        )
    sets = value_sets()
    if not sets:
        raise ChartCheckError(f"no value sets in {VALUES_DIR}")
    missing = [dep["name"] for dep in dependency_list(CHART_DIR) if dep["status"] != "ok"]
    print(
        f"chart {CHART_DIR.relative_to(CHART_DIR.parents[1])}: dependencies not vendored: {', '.join(missing)}",
        file=out,
    )
    if not dashboard_available():
        print(f"  note: {DASHBOARD.name} is not written yet: value sets render with grafana.dashboard off", file=out)
    with chart_without_dependencies() as stripped:
        for name, value_set in sets.items():
            values = effective_values(value_set)
            report = lint_as_is(values, kube_version)
            lint_strict(stripped, values, kube_version)
            objects = manifests(render(values))
            check_invariants(objects)
            validated, custom = validate(objects, kube_version)
            kinds = sorted({obj["kind"] for obj in objects})
            print(
                f"  {name}: lint ok ({len(report['messages'])} notes, only the missing dependencies warned), "
                f"lint --strict ok (dependencies stripped), {len(objects)} manifests: {validated} valid for "
                f"Kubernetes {kube_version} (strict), {custom} custom resources checked [{', '.join(kinds)}]",
                file=out,
            )
    for message in check_refused():
        print(f"  refused as expected: {message}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kube-version", default=KUBE_VERSION, help=f"Kubernetes schemas to validate against ({KUBE_VERSION})"
    )
    args = parser.parse_args(argv)
    try:
        run(args.kube_version)
    except (ChartCheckError, HelmError) as exc:
        print(f"chart-check: FAILED: {exc}", file=sys.stderr)
        return 1
    print("chart-check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
