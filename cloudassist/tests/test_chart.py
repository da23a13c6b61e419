"""The Helm chart (charts/cloudassist), checked offline with charts/check.py: lint, render with each value set of
charts/cloudassist/ci, every manifest valid for Kubernetes (strict), and what the manifests must say."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]

pytest.importorskip("helm_python", reason="helm-python-sdk (requirements-dev) is not installed")
pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (requirements-dev) is not installed")

_spec = importlib.util.spec_from_file_location("chart_check", BASE_DIR / "charts" / "check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

from helm_python import HelmError  # noqa: E402 (after the skip)
from helm_python.chart import Chart, dependency_list, lint  # noqa: E402

VALUE_SETS = check.value_sets()
FULLNAME = "cloudassist"  # the release is "cloudassist": the full name is the release name


def _render(values):
    return check.manifests(check.render(values))


def _find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} in {[check.name_of(o) for o in objects]}"
    return found


def _one(objects, kind, name):
    (obj,) = _find(objects, kind, name)
    return obj


def _containers(objects):
    for workload, pod in check.pod_specs(objects):
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield workload, pod, container


def _env(container):
    return {item["name"]: item for item in container.get("env", [])}


def _container(objects, kind, name):
    return _one(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def rendered():
    """Each value set's manifests (the Grafana dashboard off while dashboards/cloudassist.json is not written)."""
    return {name: _render(check.effective_values(values)) for name, values in VALUE_SETS.items()}


def test_the_value_sets_cover_the_cases():
    assert {"external", "full", "existing-secret", "subcharts"} <= set(VALUE_SETS)


def test_the_sdk_renders_without_the_dependencies_but_lint_strict_refuses_them():
    """Why charts/check.py lints a copy without `dependencies`: the subcharts are declared, not vendored."""
    assert {dep["name"]: dep["status"] for dep in dependency_list(check.CHART_DIR)} == {
        "mongodb": "missing",
        "redis": "missing",
    }
    report = lint(check.CHART_DIR, VALUE_SETS["external"], strict=True)
    assert any(check.MISSING_DEPENDENCIES in error for error in report["errors"])
    with Chart.load(check.CHART_DIR) as chart:
        assert not chart.dependencies
        assert chart.render(values=VALUE_SETS["subcharts"], name="r")  # renders: the subcharts' manifests are absent


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_lint_passes(name):
    values = check.effective_values(VALUE_SETS[name])
    report = check.lint_as_is(values)
    assert [m for m in report["messages"] if m["severity"] >= 2 and check.MISSING_DEPENDENCIES not in m["error"]] == []
    with check.chart_without_dependencies() as stripped:
        assert "dependencies" not in yaml.safe_load((stripped / "Chart.yaml").read_text())
        assert check.lint_strict(stripped, values)["errors"] == []


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_manifest_validates_strictly(rendered, name):
    objects = rendered[name]
    validated, custom = check.validate(objects)
    assert validated + custom == len(objects)
    assert validated >= 12
    check.check_invariants(objects)


def test_validation_and_invariants_can_fail(rendered):
    deployment = json.loads(json.dumps(_one(rendered["external"], "Deployment", f"{FULLNAME}-web")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["hots"] = "typo"
    with pytest.raises(check.ChartCheckError, match="hots"):
        check.validate([deployment])
    del deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    with pytest.raises(check.ChartCheckError, match=r"resources\.limits"):
        check.check_invariants([deployment])
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"}}
    monitor["spec"] = {
        "selector": {"matchLabels": {"a": "b"}},
        "endpoints": [{"port": "http", "bearerTokenSecret": {}}],
    }
    with pytest.raises(check.ChartCheckError, match="bearerTokenSecret"):
        check.validate([monitor])


def test_every_container_is_hardened_with_resources(rendered):
    for name, objects in rendered.items():
        containers = list(_containers(objects))
        assert {c["name"] for _, _, c in containers} == {"web", "worker", "notifier", "scheduler", "migrations"}, name
        for workload, pod, container in containers:
            where = f"{name}: {check.name_of(workload)}"
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["runAsUser"] == 10001, where
            assert pod["securityContext"]["fsGroup"] == 10001, where
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][part]), where
            volumes = {v["name"]: v for v in pod["volumes"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], where
            assert pod["automountServiceAccountToken"] is False, where


def test_web_probes_send_host_localhost_and_localhost_is_allowed(rendered):
    for name in ("external", "full"):
        web = _container(rendered[name], "Deployment", f"{FULLNAME}-web")
        expected = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
        for probe, path in expected.items():
            http = web[probe]["httpGet"]
            assert (http["path"], http["port"]) == (path, "http"), probe
            assert http["httpHeaders"] == [{"name": "Host", "value": "localhost"}], probe
        hosts = _env(web)["ALLOWED_HOSTS"]["value"].split(",")
        assert "localhost" in hosts
        assert hosts[-1] == "$(POD_IP)"  # Prometheus scrapes the pod IP
        env = list(_env(web))
        assert env.index("POD_IP") < env.index("ALLOWED_HOSTS")  # $(POD_IP) only expands if defined before
        assert web["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert _env(web)["WEB_CONCURRENCY"]["value"] == "2"
    full_hosts = _env(_container(rendered["full"], "Deployment", f"{FULLNAME}-web"))["ALLOWED_HOSTS"]["value"]
    assert full_hosts == "cloudassist.internal.example.com,cloudassist.example.com,localhost,$(POD_IP)"


def test_processes_and_grace_periods(rendered):
    objects = rendered["external"]
    web = _one(objects, "Deployment", f"{FULLNAME}-web")["spec"]["template"]["spec"]
    worker = _one(objects, "Deployment", f"{FULLNAME}-worker")["spec"]["template"]["spec"]
    scheduler = _one(objects, "Deployment", f"{FULLNAME}-scheduler")["spec"]["template"]["spec"]
    assert "command" not in web["containers"][0]
    assert "args" not in web["containers"][0]  # the image's CMD: python -m cloudassist.serving
    assert web["terminationGracePeriodSeconds"] == 30
    assert worker["containers"][0]["command"] == [
        "python",
        "manage.py",
        "rqworker",
        "provisioning",
        "default",
        "--with-scheduler",
    ]
    assert worker["terminationGracePeriodSeconds"] == 3600
    # The deliveries have their own Deployment: a slow SMTP server never holds back provisioning.
    notifier = _one(objects, "Deployment", f"{FULLNAME}-notifier")["spec"]["template"]["spec"]
    assert notifier["containers"][0]["command"] == [
        "python",
        "manage.py",
        "rqworker",
        "notifications",
        "--with-scheduler",
    ]
    assert notifier["terminationGracePeriodSeconds"] == 60
    labels = _one(objects, "Deployment", f"{FULLNAME}-notifier")["spec"]["selector"]["matchLabels"]
    assert labels["app.kubernetes.io/component"] == "notifier"
    assert _one(objects, "PodDisruptionBudget", f"{FULLNAME}-notifier")["spec"]["maxUnavailable"] == 1
    assert scheduler["containers"][0]["command"] == ["python", "manage.py", "rqcron", "cloudassist.cron"]


def test_scheduler_is_one_replica_recreate_without_hpa_or_pdb(rendered):
    for name, objects in rendered.items():
        scheduler = _one(objects, "Deployment", f"{FULLNAME}-scheduler")
        assert scheduler["spec"]["replicas"] == 1, name
        assert scheduler["spec"]["strategy"] == {"type": "Recreate"}, name
        for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert not [o for o in objects if o["kind"] == kind and "scheduler" in o["metadata"]["name"]], name
    with pytest.raises(HelmError, match="replicaCount"):  # the schema has no such knob
        check.render({**VALUE_SETS["external"], "scheduler": {"replicaCount": 3}})


def test_hpa_and_pdb_for_web_and_worker(rendered):
    full = rendered["full"]
    for component in ("web", "worker"):
        hpa = _one(full, "HorizontalPodAutoscaler", f"{FULLNAME}-{component}")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{FULLNAME}-{component}",
        }
        assert "replicas" not in _one(full, "Deployment", f"{FULLNAME}-{component}")["spec"]  # the HPA owns it
        assert _one(full, "PodDisruptionBudget", f"{FULLNAME}-{component}")["apiVersion"] == "policy/v1"
    web_metrics = _one(full, "HorizontalPodAutoscaler", f"{FULLNAME}-web")["spec"]["metrics"]
    assert [m["resource"]["name"] for m in web_metrics] == ["cpu", "memory"]
    assert _one(full, "PodDisruptionBudget", f"{FULLNAME}-worker")["spec"] == {
        "minAvailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "cloudassist",
                "app.kubernetes.io/instance": "cloudassist",
                "app.kubernetes.io/component": "worker",
            }
        },
    }
    assert not _find_all(rendered["external"], "HorizontalPodAutoscaler")
    assert _one(rendered["external"], "Deployment", f"{FULLNAME}-web")["spec"]["replicas"] == 2


def _find_all(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_migration_job_is_a_hook_with_its_own_config(rendered):
    job = _one(rendered["external"], "Job", f"{FULLNAME}-migrations")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert pod["serviceAccountName"] == "default"  # the chart's ServiceAccount does not exist at pre-install
    # Its ConfigMap and Secret are hooks too, created before it (lower weight): at pre-install the release's
    # own do not exist yet.
    env = pod["containers"][0]["env"]
    secret_names = {e["valueFrom"]["secretKeyRef"]["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
    assert secret_names == {f"{FULLNAME}-migrations"}
    assert pod["containers"][0]["envFrom"][0] == {"configMapRef": {"name": f"{FULLNAME}-migrations"}}
    for kind in ("ConfigMap", "Secret"):
        hook = _one(rendered["external"], kind, f"{FULLNAME}-migrations")["metadata"]["annotations"]
        assert hook["helm.sh/hook"] == annotations["helm.sh/hook"]
        assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert (
        _one(rendered["external"], "Secret", f"{FULLNAME}-migrations")["data"]
        == _one(rendered["external"], "Secret", FULLNAME)["data"]
    )
    # With the mongodb subchart, MongoDB only exists after the install: post-install.
    job = _one(rendered["subcharts"], "Job", f"{FULLNAME}-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


def test_existing_secret_is_referenced_and_no_secret_is_rendered(rendered):
    objects = rendered["existing-secret"]
    assert not _find_all(objects, "Secret")
    for workload, _, container in _containers(objects):
        refs = {
            e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert refs == {"cloudassist-secrets"}, check.name_of(workload)
        env = _env(container)
        assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "cloudassist-secrets", "key": "secret-key"}
        assert env["MONGODB_URI"]["valueFrom"]["secretKeyRef"]["key"] == "mongodb-uri"
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "redis-url"
        assert env["EMAIL_URL"]["valueFrom"]["secretKeyRef"]["optional"] is True
    monitor = _one(objects, "ServiceMonitor", FULLNAME)
    assert monitor["spec"]["endpoints"][0]["bearerTokenSecret"] == {
        "name": "cloudassist-secrets",
        "key": "metrics-token",
    }
    web = _one(objects, "Deployment", f"{FULLNAME}-web")["spec"]["template"]["metadata"]["annotations"]
    assert set(web) >= {"checksum/config", "checksum/secret"}


def test_chart_secret_holds_the_secrets(rendered):
    secret = _one(rendered["full"], "Secret", FULLNAME)
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert data["secret-key"] == "chart-check-secret-key"
    assert data["mongodb-uri"].startswith("mongodb+srv://")
    assert data["redis-url"].startswith("rediss://")
    assert data["metrics-token"] == "chart-check-metrics-token"
    assert "aws-access-key-id" not in data  # unset optional secrets are left out (IRSA here)
    config = _one(rendered["full"], "ConfigMap", FULLNAME)["data"]
    assert not {"SECRET_KEY", "SECRETS_KEYS", "MONGODB_URI", "REDIS_URL"} & set(config)
    assert config["DEBUG"] == "false"
    assert config["AWS_USE_EMULATOR"] == "false"
    sa = _one(rendered["full"], "ServiceAccount", FULLNAME)
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/cloudassist"}


def test_subcharts_make_the_uris_point_at_their_services(rendered):
    objects = rendered["subcharts"]
    for _, _, container in _containers(objects):
        env = _env(container)
        members = ",".join(
            f"cloudassist-mongodb-{i}.cloudassist-mongodb-headless.cloudassist.svc.cluster.local:27017"
            for i in range(3)
        )
        assert env["MONGODB_URI"]["value"] == (
            f"mongodb://cloudassist:$(MONGODB_PASSWORD)@{members}/cloudassist?replicaSet=rs0&authSource=cloudassist"
        )
        assert env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "cloudassist-mongodb",
            "key": "mongodb-passwords",
        }
        assert (
            env["REDIS_URL"]["value"]
            == "redis://:$(REDIS_PASSWORD)@cloudassist-redis-master.cloudassist.svc.cluster.local:6379/0"
        )
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "cloudassist-redis",
            "key": "redis-password",
        }
        names = list(env)
        assert names.index("MONGODB_PASSWORD") < names.index("MONGODB_URI")
        assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    secret = _one(objects, "Secret", FULLNAME)
    assert not {"mongodb-uri", "redis-url"} & set(secret["data"])
    # The names follow the subcharts' fullname rules: another release, overrides.
    values = {
        **VALUE_SETS["subcharts"],
        "mongodb": {"replicaCount": 1, "replicaSetName": "rs1", "fullnameOverride": "db"},
    }
    with Chart.load(check.CHART_DIR) as chart:
        other = check.manifests(chart.render(values=values, name="prod", namespace="apps"))
    env = _env(_container(other, "Deployment", "prod-cloudassist-web"))
    assert env["MONGODB_URI"]["value"].endswith(
        "@db-0.db-headless.apps.svc.cluster.local:27017/cloudassist?replicaSet=rs1&authSource=cloudassist"
    )
    assert env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "db"
    assert env["REDIS_URL"]["value"].endswith("@prod-redis-master.apps.svc.cluster.local:6379/0")


@pytest.mark.parametrize("label", sorted(check.REFUSED))
def test_missing_or_wrong_values_are_refused_clearly(label):
    values, expected = check.REFUSED[label]
    with pytest.raises(HelmError) as excinfo:
        check.render(values)
    assert expected in str(excinfo.value)


def test_ingress_with_tls(rendered):
    ingress = _one(rendered["full"], "Ingress", FULLNAME)
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["cloudassist.example.com"], "secretName": "cloudassist-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "cloudassist.example.com"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": f"{FULLNAME}-web", "port": {"name": "http"}}}
    config = _one(rendered["full"], "ConfigMap", FULLNAME)["data"]
    assert config["CSRF_TRUSTED_ORIGINS"] == "https://cloudassist.example.com"
    assert config["SITE_URL"] == "https://cloudassist.example.com"
    plain = _one(rendered["existing-secret"], "ConfigMap", FULLNAME)["data"]
    assert plain["CSRF_TRUSTED_ORIGINS"] == "http://cloudassist.example.com"  # no TLS on that ingress
    assert not _find_all(rendered["external"], "Ingress")  # off by default


def test_config_changes_roll_the_pods():
    def checksums(values):
        web = _one(_render(values), "Deployment", f"{FULLNAME}-web")
        annotations = web["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"], annotations["checksum/secret"]

    base = VALUE_SETS["external"]
    config, secret = checksums(base)
    changed_config, same_secret = checksums({**base, "config": {"LOG_LEVEL": "DEBUG"}})
    same_config, changed_secret = checksums({**base, "secrets": {**base["secrets"], "secretKey": "another"}})
    assert changed_config != config
    assert same_secret == secret
    assert same_config == config
    assert changed_secret != secret


def test_metrics_wiring(rendered):
    objects = rendered["full"]
    web = _container(objects, "Deployment", f"{FULLNAME}-web")
    worker = _container(objects, "Deployment", f"{FULLNAME}-worker")
    for container in (web, worker):
        assert _env(container)["PROMETHEUS_MULTIPROC_DIR"]["value"] == "/tmp/prometheus"
        assert {"name": "prometheus-multiproc", "mountPath": "/tmp/prometheus"} in container["volumeMounts"]
        assert _env(container)["METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "metrics-token"
    assert _env(worker)["WORKER_METRICS_PORT"]["value"] == "9200"
    assert "WORKER_METRICS_PORT" not in _env(web)
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9200, "protocol": "TCP"}]
    notifier = _container(objects, "Deployment", f"{FULLNAME}-notifier")
    assert _env(notifier)["WORKER_METRICS_PORT"]["value"] == "9200"  # its own pods: the same port
    assert _env(notifier)["PROMETHEUS_MULTIPROC_DIR"]["value"] == "/tmp/prometheus"
    for component in ("worker", "notifier"):
        service = _one(objects, "Service", f"{FULLNAME}-{component}-metrics")
        assert service["spec"]["ports"][0]["targetPort"] == "metrics"
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == component
    monitor = _one(objects, "ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoints = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    assert endpoints["http"]["path"] == endpoints["metrics"]["path"] == "/metrics"
    assert endpoints["http"]["bearerTokenSecret"] == {"name": FULLNAME, "key": "metrics-token"}
    assert not _find_all(rendered["external"], "ServiceMonitor")  # off by default


def _selects(policy, pod_labels) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(pod_labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(pod_labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def test_network_policies_open_only_what_listens(rendered):
    assert not _find_all(rendered["external"], "NetworkPolicy")  # off by default
    objects = rendered["full"]
    policies = _find_all(objects, "NetworkPolicy")
    monitoring = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    for workload, pod in check.pod_specs(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        (policy,) = [p for p in policies if _selects(p, labels)]  # every pod: exactly one policy
        assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress stays open (AWS, SMTP, webhooks)
        rules = policy["spec"]["ingress"]
        ports = {port["port"] for rule in rules for port in rule["ports"]}
        component = labels["app.kubernetes.io/component"]
        listening = {port["name"] for c in pod["containers"] for port in c.get("ports", [])}
        assert ports <= listening, check.name_of(workload)
        if component == "web":
            assert rules == [{"ports": [{"port": "http", "protocol": "TCP"}]}]  # webFrom empty: from anywhere
        elif component in ("worker", "notifier"):
            assert rules == [{"ports": [{"port": "metrics", "protocol": "TCP"}], "from": monitoring}]
        else:
            assert rules == [], component  # the scheduler and the migrations Job accept nothing


def test_otel_only_when_enabled(rendered):
    for _, _, container in _containers(rendered["external"]):
        assert not [name for name in _env(container) if name.startswith("OTEL_")]
    for workload, _, container in _containers(rendered["full"]):
        env = _env(container)
        component = container["name"]
        assert env["OTEL_SERVICE_NAME"]["value"] == f"cloudassist-{component}", check.name_of(workload)
        assert env["OTEL_TRACES_EXPORTER"]["value"] == "otlp"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4318"
        attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
        assert attributes["deployment.environment"] == "production"
        assert attributes["k8s.namespace.name"] == "cloudassist"


def _chart_copy(tmp_path, dashboard: str | None) -> Path:
    copy = tmp_path / "cloudassist"
    shutil.copytree(check.CHART_DIR, copy, ignore=shutil.ignore_patterns("dashboards"))
    if dashboard is not None:
        (copy / "dashboards").mkdir()
        (copy / "dashboards" / "cloudassist.json").write_text(dashboard)
    return copy


def test_grafana_dashboard_configmap(tmp_path):
    values = {**VALUE_SETS["external"], "grafana": {"dashboard": {"enabled": True}}}
    dashboard = json.dumps({"title": "CloudAssist", "panels": []})
    objects = check.manifests(check.render(values, chart_dir=_chart_copy(tmp_path / "with", dashboard)))
    configmap = _one(objects, "ConfigMap", f"{FULLNAME}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["cloudassist.json"]) == {"title": "CloudAssist", "panels": []}
    check.validate(objects)
    with pytest.raises(HelmError, match=r"no dashboards/cloudassist\.json"):
        check.render(values, chart_dir=_chart_copy(tmp_path / "without", None))
    assert not [
        o
        for o in check.manifests(check.render(VALUE_SETS["external"], chart_dir=_chart_copy(tmp_path / "off", None)))
        if o["metadata"]["name"].endswith("-dashboard")
    ]
