"""`make bench`: HTTP figures for the API under the production-style server, printed, never asserted.

It starts throw-away embedded MongoDB and Redis, migrates, seeds the demo users, roles, templates
and prices, gives every user an API token, and loads provision requests (BENCH_SIZES, default
10,000; BENCH_SIZES=10000,100000 adds a phase at 100,000) and 1,000 configs of ~1 KB, cloned from
documents the services wrote. It serves the product as the image does (`python -m
cloudassist.serving`, WEB_CONCURRENCY=2, DEBUG=false) with two baselines in the same server
processes (benchmarks/bare_wsgi.py: no middleware, off in production): a bare Django JSON view
and a bare in-memory config GET (a dict lookup returning JSON, like the seed's Flask server).
Each workload gets a warm-up, then BENCH_ROUNDS rounds of BENCH_SECONDS on BENCH_CONNECTIONS
keep-alive connections, driven by `wrk` when it is on PATH (BENCH_LOADGEN=python forces the
Python load generator). Over each round it reads the CPU time (utime+stime, /proc/<pid>/stat) of
the server's processes and of mongod, and prints CPU milliseconds per request beside req/s, p50
and p99, and each workload's CPU per request relative to the two baselines': on a shared machine
req/s moves with the load, CPU per request hardly does.

Environment: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_WARMUP (3), BENCH_SIZES
(10000), BENCH_CONNECTIONS (16), BENCH_WORKLOADS (comma-separated names, default all; the
baselines always run), BENCH_LOADGEN (auto | wrk | python). Exits 1 when a workload answered
only errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks.bare_urls import BARE_CONFIG_PATH, BARE_PATH  # noqa: E402 (after the path)
from cloudassist.testing.kubernetes import PLACEHOLDER_KUBECONFIG  # noqa: E402 (after the path)

BARE_VIEW = "bare view"  # the baselines' workload names
BARE_CONFIG = "bare config get"
BASELINES = (BARE_VIEW, BARE_CONFIG)
SERVER_APPLICATION = "benchmarks.bare_wsgi:application"  # the product's WSGI app, plus the baselines
SERVER_ENV_MARKER = "CLOUDASSIST_BENCH_HTTP_RUN"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0

# --- options -------------------------------------------------------------------------------------


@dataclass
class Options:
    seconds: float = 10.0
    rounds: int = 3
    warmup: float = 3.0
    sizes: tuple[int, ...] = (10_000,)
    connections: int = 16
    workloads: tuple[str, ...] = ()
    loadgen: str = "auto"
    configs: int = 1000

    @classmethod
    def from_env(cls, environ=os.environ) -> Options:
        sizes = tuple(int(part) for part in environ.get("BENCH_SIZES", "10000").split(",") if part.strip())
        if not sizes or sorted(sizes) != list(sizes):
            raise SystemExit("BENCH_SIZES must be increasing request counts, e.g. 10000,100000")
        workloads = tuple(part.strip() for part in environ.get("BENCH_WORKLOADS", "").split(",") if part.strip())
        return cls(
            seconds=float(environ.get("BENCH_SECONDS", "10")),
            rounds=int(environ.get("BENCH_ROUNDS", "3")),
            warmup=float(environ.get("BENCH_WARMUP", "3")),
            sizes=sizes,
            connections=int(environ.get("BENCH_CONNECTIONS", "16")),
            workloads=workloads,
            loadgen=environ.get("BENCH_LOADGEN", "auto").strip().lower() or "auto",
            configs=int(environ.get("BENCH_CONFIGS", "1000")),
        )


# --- data: users, tokens, provision requests, configs ------------------------------------------

REQUESTERS = ("bbb", "ccc", "ddd", "eee")  # demo developers: the loaded requests are theirs
REVIEWERS = ("jjj", "kkk", "lll")  # demo DevOps: reviewed the loaded requests
READER = "jjj"  # the DevOps user every read workload authenticates as
CREATOR = "eee"  # the developer the create workload submits as (given a quota big enough)
PORTAL_USER = "bbb"  # the developer whose portal pages are measured (their share of the stored requests)
REQUESTED_SHARE = 0.25
SPREAD_DAYS = 180
BATCH = 5000

# What each template's loaded requests vary: the name parameter (unique per request) and a few
# parameter sets submitted through the service once each (their estimates and remarks are real).
TEMPLATE_VARIANTS: dict[str, tuple[str | None, list[dict]]] = {
    "basic-eks-cluster": (
        "cluster_name",
        [
            {"cluster_name": "team-a", "region": "us-east-1", "instance_type": "t3.medium"},
            {"cluster_name": "team-b", "region": "eu-west-1", "instance_type": "m5.large", "desired_capacity": 3},
        ],
    ),
    "dev-namespace": ("namespace", [{"namespace": "feature-x"}]),
    "s3-bucket": ("bucket", [{"bucket": "team-data", "versioning": True}, {"bucket": "team-logs"}]),
    "ec2-instance": (None, [{"instance_type": "t3.micro"}, {"instance_type": "t3.medium", "count": 2}]),
}


def seed_users() -> dict[str, dict]:
    """The demo data (`manage.py seed_demo`) and one API token per user: {username: {user, token}}."""
    from django.contrib.auth import get_user_model

    from cloudassist import services
    from cloudassist.seed import seed_demo

    seed_demo()
    users = {}
    for user in get_user_model().objects.all():
        users[user.username] = {"user": user, "token": services.issue_token(user=user)[1]}
    return users


def give_big_quota(user) -> None:
    """A user quota no benchmark run can exhaust (see quotas/services.py create_quota)."""
    from decimal import Decimal

    from quotas import services as quota_services
    from quotas.choices import QuotaType

    quota_services.create_quota(
        actor=None,
        user=user,
        quota_type=QuotaType.PERMANENT,
        max_live_environments=10**9,
        usd_budget=Decimal("1000000000"),
        machine_hours=Decimal("1000000000"),
        disk_gb_hours=Decimal("1000000000"),
        note="bench_http: the create workload must never hit a quota",
    )


def _collection(model):
    from django.db import connection

    connection.ensure_connection()
    return connection.database[model._meta.db_table]


@dataclass
class Prototype:
    """One request the service wrote, as raw documents: the request and its submit event."""

    template: str
    name_field: str | None
    request: dict
    event: dict


def make_prototypes(users: dict[str, dict]) -> list[Prototype]:
    """Submit one request per template variant through provisioning.services.submit_request."""
    from provisioning import services
    from provisioning.models import Event, ProvisionRequest
    from templates.models import Template

    requests, events = _collection(ProvisionRequest), _collection(Event)
    prototypes = []
    submitter = users[REQUESTERS[0]]["user"]
    for template_id, (name_field, variants) in TEMPLATE_VARIANTS.items():
        template = Template.objects.get(pk=template_id)
        for parameters in variants:
            made = services.submit_request(
                actor=submitter, template=template, parameters=parameters, description="prototype"
            )
            request = requests.find_one({"_id": made.pk})
            event = events.find_one({"provision_request_id": made.pk, "action": "submit"})
            prototypes.append(Prototype(template_id, name_field, request, event))
    _empty_queues()
    return prototypes


def _empty_queues() -> None:
    import django_rq

    for name in ("default", "provisioning"):
        django_rq.get_queue(name).empty()  # the analysis jobs of the loaded requests are not measured


def _statuses():
    from provisioning.choices import RequestStatus

    return RequestStatus.REQUESTED, [status for status in RequestStatus.values if status != RequestStatus.REQUESTED]


def plan_request(index: int, prototype: Prototype, *, users: dict[str, dict], now: datetime, rng) -> tuple[dict, dict]:
    """The raw request and submit-event documents of loaded request ``index``: the prototype's
    shape (every field the ORM writes), with its own id, requester, status, dates and name."""
    from bson import ObjectId

    from provisioning.choices import LIVE, RequestStatus
    from quotas.choices import ReservationState

    requested, others = _statuses()
    status = requested if index % 4 == 0 else others[(index // 4) % len(others)]
    requester = users[REQUESTERS[index % len(REQUESTERS)]]["user"]
    created = now - timedelta(seconds=rng.uniform(60, SPREAD_DAYS * 86400))
    created = created.replace(microsecond=created.microsecond // 1000 * 1000)
    doc = json_copy(prototype.request)
    doc["_id"] = ObjectId()
    doc["requested_by_id"] = requester.pk
    doc["status"] = str(status)
    doc["description"] = f"bench request {index} for {prototype.template}"
    if prototype.name_field:
        doc["parameters"][prototype.name_field] = f"{doc['parameters'][prototype.name_field]}-{index}"
    doc["created_at"] = created
    if prototype.request.get("expires_at") is not None:
        doc["expires_at"] = created + (prototype.request["expires_at"] - prototype.request["created_at"])
    reviewed = status not in (RequestStatus.REQUESTED, RequestStatus.REVOKED)
    if reviewed:
        reviewer = users[REVIEWERS[index % len(REVIEWERS)]]["user"]
        doc["reviewed_by_id"] = reviewer.pk
        doc["reviewed_at"] = created + timedelta(minutes=5 + index % 120)
        doc["review_note"] = "rejected: too big" if status == RequestStatus.REJECTED else "fine"
    held = status == RequestStatus.REQUESTED or status in LIVE
    doc["reservation_state"] = str(ReservationState.HELD if held else ReservationState.RELEASED)
    if status in (RequestStatus.DEPLOYED, RequestStatus.EXPIRED, RequestStatus.PURGE_FAILED):
        doc["outputs"] = {"resource_id": f"{prototype.template}-{str(doc['_id'])[-8:]}", "region": "us-east-1"}
    doc["updated_at"] = doc.get("reviewed_at") or created
    event = json_copy(prototype.event)
    event["_id"] = ObjectId()
    event["provision_request_id"] = doc["_id"]
    event["actor_id"] = requester.pk
    event["actor_name"] = requester.username
    event["created_at"] = created
    return doc, event


def json_copy(document: dict) -> dict:
    """A deep copy of a BSON document (dicts and lists copied, scalars shared)."""
    if isinstance(document, dict):
        return {key: json_copy(value) for key, value in document.items()}
    if isinstance(document, list):
        return [json_copy(value) for value in document]
    return document


@dataclass
class Loaded:
    ids: list = field(default_factory=list)
    planned: dict = field(default_factory=dict)  # id -> request document, when asked to keep them


def load_requests(
    count: int, *, users: dict[str, dict], prototypes: list[Prototype], start: int = 0, keep_every: int = 0, seed=0
) -> Loaded:
    """Insert ``count`` provision requests (and their submit events) with insert_many; keep the
    documents of every ``keep_every``-th (0: none) in ``planned``, to check them afterwards."""
    from provisioning.models import Event, ProvisionRequest

    requests, events = _collection(ProvisionRequest), _collection(Event)
    rng = random.Random(seed + start)  # noqa: S311 - benchmark data, not secrets
    now = datetime.now(UTC)
    loaded = Loaded()
    for offset in range(0, count, BATCH):
        docs, event_docs = [], []
        for index in range(start + offset, start + min(count, offset + BATCH)):
            doc, event = plan_request(index, prototypes[index % len(prototypes)], users=users, now=now, rng=rng)
            docs.append(doc)
            event_docs.append(event)
        requests.insert_many(docs, ordered=False)
        events.insert_many(event_docs, ordered=False)
        loaded.ids.extend(doc["_id"] for doc in docs)
        if keep_every:
            loaded.planned.update((doc["_id"], doc) for doc in docs[::keep_every])
    return loaded


def config_data(index: int, size: int = 1024) -> dict:
    """A ~``size``-byte JSON settings document."""
    data = {
        "service": f"app-{index:04d}",
        "replicas": index % 5 + 1,
        "features": {f"flag_{k:02d}": (index + k) % 3 == 0 for k in range(16)},
        "endpoints": [f"https://svc-{index % 50}.internal.example.com/v{k}" for k in range(4)],
        "limits": {"cpu": "500m", "memory": "512Mi", "timeout_seconds": 30 + index % 60},
        "notes": "",
    }
    filler = size - len(json.dumps(data, separators=(",", ":")))
    data["notes"] = "x" * max(filler, 0)
    return data


def config_name(index: int) -> str:
    return f"bench.app-{index:04d}.settings"


def load_configs(count: int, *, owner) -> list[str]:
    """Config 0 through configs.services.create (entry and its history row); the others cloned from
    those documents with insert_many."""
    from bson import ObjectId

    from cloudassist import roles
    from configs import services as config_services
    from configs.models import Config, ConfigVersion

    config_services.create(
        actor=owner,
        name=config_name(0),
        data=config_data(0),
        labels={"env": "bench"},
        read_roles=[roles.DEV, roles.DEVOPS],
        write_roles=[roles.DEVOPS],
    )
    configs, versions = _collection(Config), _collection(ConfigVersion)
    entry = configs.find_one({"name": config_name(0)})
    history = versions.find_one({"config_id": entry["_id"]})
    docs, version_docs = [], []
    for index in range(1, count):
        doc = json_copy(entry)
        doc.update(_id=ObjectId(), name=config_name(index), data=config_data(index))
        version = json_copy(history)
        version.update(_id=ObjectId(), config_id=doc["_id"], data=doc["data"])
        docs.append(doc)
        version_docs.append(version)
    if docs:
        configs.insert_many(docs, ordered=False)
        versions.insert_many(version_docs, ordered=False)
    return [config_name(index) for index in range(count)]


# --- workloads -----------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    method: str
    paths: list[str]
    token: str | None = None
    bodies: list[str] | None = None  # one per path (cycled together), JSON
    cookie: str | None = None  # a portal page: the session cookie of a logged-in user

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/html" if self.cookie else "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.bodies is not None:
            headers["Content-Type"] = "application/json"
        return headers


def create_body(index: int) -> str:
    return json.dumps(
        {
            "template": "basic-eks-cluster",
            "description": "bench create",
            "parameters": {"cluster_name": f"bench-load-{index}", "region": "eu-west-1", "instance_type": "t3.large"},
        }
    )


def session_cookie(user) -> str:
    """A logged-in session for ``user``, as the portal's login page would make it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def workloads(*, users: dict[str, dict], request_ids: list, config_names: list[str], rng=None) -> list[Workload]:
    rng = rng or random.Random(7)  # noqa: S311
    reader, creator = users[READER]["token"], users[CREATOR]["token"]
    developer = session_cookie(users[PORTAL_USER]["user"])
    sample = rng.sample(list(request_ids), min(1000, len(request_ids)))
    api = "/api/v1/provision-requests/"
    return [
        Workload(BARE_VIEW, "GET", [BARE_PATH]),
        Workload(BARE_CONFIG, "GET", [f"{BARE_CONFIG_PATH}{name}" for name in config_names]),
        Workload("users/me", "GET", ["/api/v1/users/me/"], reader),
        Workload("list", "GET", [api], reader),
        Workload("list filtered+sorted", "GET", [f"{api}?status=REQUESTED&ordering=-created_at"], reader),
        Workload("detail by id", "GET", [f"{api}{pk}/" for pk in sample], reader),
        Workload("create", "POST", [api] * 100, creator, bodies=[create_body(i) for i in range(100)]),
        Workload("config get", "GET", [f"/configs/{name}" for name in config_names], reader),
        Workload(
            "config put",
            "PUT",
            [f"/configs/{name}" for name in config_names],
            reader,
            bodies=[json.dumps({"name": name, "data": config_data(i + 7)}) for i, name in enumerate(config_names)],
        ),
        Workload("config list", "GET", ["/configs"], reader),
        Workload("portal environments", "GET", ["/portal/environments/"], cookie=developer),
        Workload("portal request form", "GET", ["/portal/catalog/basic-eks-cluster/request/"], cookie=developer),
    ]


# --- load generation -----------------------------------------------------------------------------


@dataclass
class RoundResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int = 0  # connection errors and timeouts (no status at all)
    example_status: int | None = None  # one of the non-2xx statuses seen
    cpu_server: float = float("nan")  # CPU seconds of the server's processes over the round
    cpu_mongod: float = float("nan")  # CPU seconds of mongod over the round

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx

    def cpu_ms(self, seconds: float) -> float:
        """CPU milliseconds per request."""
        return 1000 * seconds / self.requests if self.requests else float("nan")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def python_load(host: str, port: int, workload: Workload, *, seconds: float, connections: int) -> RoundResult:
    """``connections`` threads, each on one keep-alive connection, for ``seconds``: per-request
    latency and status."""
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: list[Counter] = [Counter() for _ in range(connections)]
    errors = [0] * connections
    headers = workload.headers()
    count = len(workload.paths)

    def run(slot: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        position = slot * max(1, count // connections)
        try:
            while time.perf_counter() < deadline:
                index = position % count
                position += 1
                body = workload.bodies[index] if workload.bodies is not None else None
                started = time.perf_counter()
                try:
                    conn.request(workload.method, workload.paths[index], body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors[slot] += 1
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
                    continue
                latencies[slot].append(time.perf_counter() - started)
                statuses[slot][response.status] += 1
                if response.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(slot,), daemon=True) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    merged = [value for values in latencies for value in values]
    total = sum(statuses, Counter())
    bad = {status: n for status, n in total.items() if not 200 <= status < 300}
    return RoundResult(
        requests=sum(total.values()),
        seconds=elapsed,
        p50_ms=1000 * percentile(merged, 0.50),
        p99_ms=1000 * percentile(merged, 0.99),
        non2xx=sum(bad.values()),
        errors=sum(errors),
        example_status=max(bad, key=bad.get) if bad else None,
    )


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def wrk_script(workload: Workload) -> str:
    """A wrk Lua script: cycles over the workload's paths (and bodies), counts non-2xx responses
    per thread, and prints the totals as one JSON line at the end."""
    paths = ",\n".join(lua_string(path) for path in workload.paths)
    bodies = ",\n".join(lua_string(body) for body in workload.bodies) if workload.bodies is not None else ""
    headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in workload.headers().items())
    return f"""-- generated by benchmarks/bench_http.py
local paths = {{
{paths}
}}
local bodies = {{
{bodies}
}}
local method = {lua_string(workload.method)}
local headers = {{ {headers} }}
local threads = {{}}

function setup(thread)
  thread:set("slot", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = slot * math.max(1, math.floor(#paths / 16))
  non2xx = 0
  responses = 0
  bad_status = 0
end

function request()
  counter = counter + 1
  local i = counter % #paths + 1
  return wrk.format(method, paths[i], headers, bodies[i])
end

function response(status, hdrs, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local n, r, s = 0, 0, 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("non2xx")
    r = r + thread:get("responses")
    if thread:get("bad_status") ~= 0 then s = thread:get("bad_status") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {{"requests": %d, "responses": %d, "non2xx": %d, "bad_status": %d, "duration_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d}}\\n',
    summary.requests, r, n, s, summary.duration, e.connect, e.read, e.write, e.timeout))
end
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk_latency(output: str) -> dict[int, float]:
    """The `--latency` distribution of wrk's output: {50: ms, 75: ms, 90: ms, 99: ms}."""
    section = output.split("Latency Distribution", 1)
    if len(section) < 2:
        raise ValueError("no latency distribution in wrk's output (was --latency given?)")
    found = {}
    for share, value, unit in re.findall(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", section[1], re.MULTILINE):
        found[int(share)] = float(value) * _UNITS[unit]
    return found


def parse_wrk(output: str) -> RoundResult:
    line = next((line for line in output.splitlines() if line.startswith("BENCH-JSON ")), None)
    if line is None:
        raise ValueError(f"wrk printed no totals:\n{output}")
    totals = json.loads(line.removeprefix("BENCH-JSON "))
    latency = parse_wrk_latency(output)
    errors = totals["connect"] + totals["read"] + totals["write"] + totals["timeout"]
    return RoundResult(
        requests=totals["responses"],
        seconds=totals["duration_us"] / 1e6,
        p50_ms=latency.get(50, float("nan")) if totals["responses"] else float("nan"),
        p99_ms=latency.get(99, float("nan")) if totals["responses"] else float("nan"),
        non2xx=totals["non2xx"],
        errors=errors,
        example_status=totals["bad_status"] or None,
    )


def wrk_load(host: str, port: int, workload: Workload, *, seconds: float, connections: int) -> RoundResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-http-", delete=False) as script:
        script.write(wrk_script(workload))
    try:
        threads = max(1, min(2, connections, os.cpu_count() or 1))
        completed = subprocess.run(
            [
                shutil.which("wrk") or "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "60s",
                "--latency",
                "-s",
                script.name,
                f"http://{host}:{port}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 120,
        )
    finally:
        os.unlink(script.name)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def choose_loadgen(preference: str):
    if preference == "python":
        return "python", python_load
    if preference == "wrk" or (preference == "auto" and shutil.which("wrk")):
        if not shutil.which("wrk"):
            raise SystemExit("BENCH_LOADGEN=wrk but wrk is not on PATH (Debian: apt-get install wrk)")
        return "wrk", wrk_load
    return "python", python_load


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """`python -m cloudassist.serving` in its own process group (session)."""

    name: str
    env: dict[str, str]
    port: int
    ready_path: str
    log_path: Path
    proc: subprocess.Popen | None = None
    # Processes whose work a request also waits for (the embedded mongod and redis-server):
    # a slow query goes on inside mongod after the client gave up.
    backends: list[int] = field(default_factory=list)
    mongod: int | None = None  # its pid: CPU per request is reported for the server and for mongod
    application: str | None = None  # a WSGI application instead of the product's (cloudassist.wsgi)
    still_busy: int = 0  # idle waits that gave up: the rounds after them shared the CPU with old work

    def start(self) -> Server:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloudassist.serving", *([self.application] if self.application else [])],
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready_path(self, path: str) -> None:
        saved, self.ready_path = self.ready_path, path
        try:
            self.wait_ready()
        finally:
            self.ready_path = saved

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    conn.request("GET", self.ready_path)
                    if conn.getresponse().status == 200:
                        return
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} server not ready on {self.ready_path} in {timeout:.0f}s")
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def pids(self) -> list[int]:
        return group_pids(self.proc.pid) if self.proc else []

    def rss_bytes(self) -> tuple[int, int]:
        """(RSS of every process of the server's group: parent and workers, number of processes)."""
        pids = self.pids()
        return sum(rss_of(pid) for pid in pids), len(pids)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (parent and workers) and its backends."""
        return cpu_seconds([*self.pids(), *self.backends])

    def cpu_split(self) -> tuple[float, float]:
        """CPU seconds so far: (the server's process group, mongod)."""
        return cpu_seconds(self.pids()), cpu_seconds([self.mongod] if self.mongod else [])

    def wait_idle(self, *, window: float = 0.5, busy_share: float = 0.05, timeout: float = 120.0) -> float:
        """Wait until the server (and MongoDB, Redis) stop working on requests a finished round left
        in flight (a load generator that stops does not stop that work); the seconds waited."""
        started = time.monotonic()
        before = self.cpu_seconds()
        while time.monotonic() - started < timeout:
            time.sleep(window)
            after = self.cpu_seconds()
            if after - before < busy_share * window:
                return time.monotonic() - started
            before = after
        self.still_busy += 1
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL what is left after STOP_TIMEOUT."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and (self.proc.poll() is None or group_pids(pgid)):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.proc = None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat and stat[0] != "Z" and int(stat[2]) == pgid:
                found.append(int(entry.name))
    return found


def marked_pids(marker: str) -> list[int]:
    """Processes whose environment carries ``SERVER_ENV_MARKER=marker`` (leftovers of this run)."""
    needle = f"{SERVER_ENV_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                stat = _proc_stat(int(entry.name))
                if stat and stat[0] != "Z" and needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    stat = _proc_stat(pid)
    return int(stat[11]) + int(stat[12]) if stat else 0  # utime + stime


def rss_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def server_env(base: dict[str, str], *, port: int, marker: str, settings_module: str | None = None) -> dict[str, str]:
    env = {
        **base,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": os.environ.get("BENCH_WEB_CONCURRENCY", "2"),  # the image default
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(BASE_DIR),
        SERVER_ENV_MARKER: marker,
    }
    if settings_module:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
    return env


# --- results -------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    """The median of the rounds that measured something (NaN: no round did)."""
    measured = [value for value in values if not math.isnan(value)]
    return statistics.median(measured) if measured else float("nan")


@dataclass
class Measurement:
    size: int
    workload: str
    rounds: list[RoundResult]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    @property
    def p50_ms(self) -> float:
        return _median([r.p50_ms for r in self.rounds])

    @property
    def p99_ms(self) -> float:
        return _median([r.p99_ms for r in self.rounds])

    @property
    def non2xx(self) -> int:
        return sum(r.non2xx for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    @property
    def failed(self) -> bool:
        return sum(r.ok for r in self.rounds) == 0

    @property
    def failure(self) -> str:
        """Why the measurement failed: no response completed within a round, or only errors."""
        if not self.failed:
            return ""
        if sum(r.requests for r in self.rounds) == 0 and self.errors == 0:
            return "no response within a round"
        return "only errors"

    @property
    def example_status(self) -> int | None:
        return next((r.example_status for r in self.rounds if r.example_status), None)

    @property
    def cpu_server_ms(self) -> float:
        """CPU ms per request of the server's processes (gunicorn master and workers), median of rounds."""
        return _median([r.cpu_ms(r.cpu_server) for r in self.rounds])

    @property
    def cpu_mongod_ms(self) -> float:
        return _median([r.cpu_ms(r.cpu_mongod) for r in self.rounds])

    @property
    def cpu_total_ms(self) -> float:
        return _median([r.cpu_ms(r.cpu_server + r.cpu_mongod) for r in self.rounds])


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _fmt_ms(m: Measurement, value: float) -> str:
    """A percentile; when no response completed, it was longer than a round."""
    if not any(r.requests for r in m.rounds):
        return f">{1000 * min(r.seconds for r in m.rounds):,.0f}" if m.rounds else "n/a"
    return _fmt(value)


TABLE_LEGEND = (
    "req/s: median of rounds; vs bare: req/s / the bare view's; cpu ms, mongod ms: CPU milliseconds per\n"
    "request of the server's processes and of mongod (median of rounds); x view, x config: total CPU per\n"
    "request / the bare Django view's and the bare in-memory config GET's (same server, same run)"
)


def _ratio(value: float, base: float | None, digits: int) -> str:
    ratio = value / base if base else float("nan")
    return "n/a" if math.isnan(ratio) else f"{ratio:.{digits}f}"


def format_table(measurements: list[Measurement], *, bare_name: str = BARE_VIEW, bare_config: str = BARE_CONFIG) -> str:
    """One line per size and workload: req/s (median of rounds, min-max), p50, p99, non-2xx,
    connection errors, req/s relative to the bare view of the same size, CPU ms per request of
    the server and of mongod, and the total CPU per request relative to both baselines'."""
    header = ("size", "workload", "req/s", "(min-max)", "p50 ms", "p99 ms", "non-2xx", "errors", "vs bare")
    header += ("cpu ms", "mongod ms", "total ms", "x view", "x config")
    rows = [header]
    bare = {m.size: m.rps for m in measurements if m.workload == bare_name}
    bare_cpu = {m.size: m.cpu_total_ms for m in measurements if m.workload == bare_name}
    config_cpu = {m.size: m.cpu_total_ms for m in measurements if m.workload == bare_config}
    for m in measurements:
        low, high = min(r.rps for r in m.rounds), max(r.rps for r in m.rounds)
        non2xx = f"{m.non2xx}" + (f" ({m.example_status})" if m.example_status else "")
        rows.append(
            (
                f"{m.size:,}",
                m.workload + ("  FAILED" if m.failed else ""),
                _fmt(m.rps),
                f"({_fmt(low, 0)}-{_fmt(high, 0)})",
                _fmt_ms(m, m.p50_ms),
                _fmt_ms(m, m.p99_ms),
                non2xx,
                str(m.errors),
                "1.00" if m.workload == bare_name else _ratio(m.rps, bare.get(m.size), 3),
                _fmt(m.cpu_server_ms, 2),
                _fmt(m.cpu_mongod_ms, 2),
                _fmt(m.cpu_total_ms, 2),
                _ratio(m.cpu_total_ms, bare_cpu.get(m.size), 1),
                _ratio(m.cpu_total_ms, config_cpu.get(m.size), 1),
            )
        )
    return _align(rows, right=set(range(2, len(header))))


def format_growth(measurements: list[Measurement], small: int, large: int) -> str:
    """p99 at the largest size divided by p99 at the smallest, per workload."""
    by_key = {(m.size, m.workload): m for m in measurements}
    rows = [("workload", f"p99 {small:,}", f"p99 {large:,}", "ratio")]
    for m in measurements:
        if m.size != small or (large, m.workload) not in by_key:
            continue
        other = by_key[(large, m.workload)]
        ratio = other.p99_ms / m.p99_ms if m.p99_ms else float("nan")
        if not any(r.requests for r in m.rounds) or not any(r.requests for r in other.rounds):
            ratio = float("nan")
        shown = "n/a" if math.isnan(ratio) else f"{ratio:.2f}x"
        rows.append((m.workload, _fmt_ms(m, m.p99_ms), _fmt_ms(other, other.p99_ms), shown))
    return _align(rows, right={1, 2, 3})


def _align(rows: list[tuple], *, right: set[int]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return "unknown"


# --- the run -------------------------------------------------------------------------------------


def measure(loadgen, workload: Workload, server: Server, options: Options, size: int) -> Measurement:
    """A warm-up, then the rounds; before each, the server finishes what the last one left in flight."""
    drained, busy_before = 0.0, server.still_busy
    if options.warmup > 0:
        loadgen("127.0.0.1", server.port, workload, seconds=options.warmup, connections=options.connections)
    rounds = []
    for _ in range(options.rounds):
        drained += server.wait_idle()
        server_before, mongod_before = server.cpu_split()
        result = loadgen("127.0.0.1", server.port, workload, seconds=options.seconds, connections=options.connections)
        server_after, mongod_after = server.cpu_split()
        cpu = {"cpu_server": server_after - server_before, "cpu_mongod": mongod_after - mongod_before}
        rounds.append(dataclasses.replace(result, **cpu))
    drained += server.wait_idle()
    result = Measurement(size, workload.name, rounds)
    mark = f"  <-- FAILED: {result.failure}" if result.failed else ""
    if server.still_busy > busy_before:
        mark += f"  (!! still busy after {server.still_busy - busy_before} idle waits of 120 s: rounds overlapped)"
    print(
        f"    {workload.name:<22} {result.rps:8.1f} req/s  p50 {_fmt_ms(result, result.p50_ms):>8} ms"
        f"  p99 {_fmt_ms(result, result.p99_ms):>8} ms  CPU/req {_fmt(result.cpu_server_ms, 2)} ms"
        f" + mongod {_fmt(result.cpu_mongod_ms, 2)} ms  non-2xx {result.non2xx}  errors {result.errors}"
        f"  (waited {drained:.1f} s for the server to go idle){mark}",
        flush=True,
    )
    return result


def check_through_api(port: int, token: str, loaded: Loaded, *, count: int = 3) -> None:
    """Read a few loaded requests back through the server: they must be what the loader wrote."""
    for pk in random.Random(3).sample(list(loaded.planned), min(count, len(loaded.planned))):  # noqa: S311
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", f"/api/v1/provision-requests/{pk}/", headers={"Authorization": f"Token {token}"})
            response = conn.getresponse()
            body = json.loads(response.read() or b"{}")
        finally:
            conn.close()
        planned = loaded.planned[pk]
        if response.status != 200 or body.get("status") != planned["status"]:
            raise SystemExit(f"loaded request {pk} reads back wrong through the API: {response.status} {body}")
        if body.get("parameters") != planned["parameters"]:
            raise SystemExit(f"loaded request {pk}: parameters {body.get('parameters')} != {planned['parameters']}")


def check_through_orm(loaded: Loaded, *, count: int = 5) -> None:
    from provisioning.models import ProvisionRequest

    for pk in random.Random(5).sample(list(loaded.planned), min(count, len(loaded.planned))):  # noqa: S311
        planned = loaded.planned[pk]
        request = ProvisionRequest.objects.get(pk=pk)
        if (request.status, request.parameters, request.requested_by_id) != (
            planned["status"],
            planned["parameters"],
            planned["requested_by_id"],
        ):
            raise SystemExit(f"loaded request {pk} reads back wrong through the ORM")


def main() -> int:  # noqa: PLR0915 - one linear script
    options = Options.from_env()
    loadgen_name, loadgen = choose_loadgen(options.loadgen)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # run the cleanup below: stop the servers
    marker = uuid.uuid4().hex
    secret_key = "bench-http-" + uuid.uuid4().hex + uuid.uuid4().hex
    from cryptography.fernet import Fernet

    base_env = {
        **os.environ,
        "SECRET_KEY": secret_key,
        "SECRETS_KEYS": Fernet.generate_key().decode(),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "MONGODB_NAME": f"cloudassist_bench_http_{os.getpid()}",
        "CLOUDASSIST_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "cloudassist.settings",
        # The namespace template must be requestable; nothing here provisions it.
        "SHARED_CLUSTER_KUBECONFIG_DATA": os.environ.get("SHARED_CLUSTER_KUBECONFIG_DATA") or PLACEHOLDER_KUBECONFIG,
    }
    base_env.pop("AWS_ENDPOINT_URL", None)
    data_dir = Path(tempfile.mkdtemp(prefix="cloudassist-bench-http-"))
    base_env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "prometheus")  # as the image: one directory per container
    (data_dir / "prometheus").mkdir()
    from cloudassist import embedded

    services, env = embedded.start_missing(data_dir=data_dir, mongodb_uri=None, redis_url=None, persist=False)
    base_env.update(env)
    os.environ.update(base_env)
    servers: list[Server] = []
    measurements: list[Measurement] = []
    rss: list[tuple[int, str, int, int]] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        cores = os.cpu_count()
        print(
            f"CloudAssist HTTP benchmark  commit {commit()}  cores {cores}  load generator {loadgen_name}  "
            f"{options.connections} connections  {options.rounds} x {options.seconds:g} s per workload "
            f"(+{options.warmup:g} s warm-up; median of rounds)",
            flush=True,
        )
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        users = seed_users()
        give_big_quota(users[CREATOR]["user"])
        prototypes = make_prototypes(users)
        config_names = load_configs(options.configs, owner=users[READER]["user"])
        print(
            f"  seeded demo users ({len(users)}, a token each), {len(prototypes)} prototype requests, "
            f"{len(config_names)} configs in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        product_port = free_port()
        product = Server(
            "product",
            server_env(base_env, port=product_port, marker=marker),
            product_port,
            "/health",
            data_dir / "product.log",
            application=SERVER_APPLICATION,
        )
        product.backends = [server.proc.pid for server in services.servers if server.proc is not None]
        product.mongod = next(
            (server.proc.pid for server in services.servers if server.binary_name == "mongod" and server.proc), None
        )
        servers = [product.start()]
        product.wait_ready()
        product.wait_ready_path(BARE_PATH)
        print(
            f"  server: python -m cloudassist.serving {SERVER_APPLICATION} (the product, and the baselines under "
            f"{BARE_PATH} without middleware), WEB_CONCURRENCY=2, DEBUG=false: :{product_port} "
            f"(pids {sorted(product.pids())}); mongod pid {product.mongod}",
            flush=True,
        )

        all_ids: list = []
        for size in options.sizes:
            started = time.perf_counter()
            loaded = load_requests(
                size - len(all_ids), users=users, prototypes=prototypes, start=len(all_ids), keep_every=997
            )
            all_ids.extend(loaded.ids)
            loaded_seconds = time.perf_counter() - started
            check_through_orm(loaded)
            check_through_api(product_port, users[READER]["token"], loaded)
            print(
                f"  phase {size:,}: {len(all_ids):,} loaded requests (+{len(prototypes)} prototypes; creates add "
                f"more), loaded in {loaded_seconds:.1f} s, read back through ORM and API",
                flush=True,
            )
            chosen = workloads(users=users, request_ids=all_ids, config_names=config_names)
            if options.workloads:
                chosen = [w for w in chosen if w.name in options.workloads or w.name in BASELINES]
            for workload in chosen:
                measurements.append(measure(loadgen, workload, product, options, size))
            _empty_queues()  # the created requests' analysis jobs: nobody runs them here
            for server in servers:
                total, count = server.rss_bytes()
                rss.append((size, server.name, total, count))

        print()
        print("Results")
        print(TABLE_LEGEND)
        print(format_table(measurements))
        if len(options.sizes) > 1:
            print()
            print(f"p99 growth, {options.sizes[-1]:,} requests vs {options.sizes[0]:,}:")
            print(format_growth(measurements, options.sizes[0], options.sizes[-1]))
        print()
        print("Server RSS after each phase (parent + workers, /proc VmRSS):")
        print(
            _align(
                [("size", "server", "RSS MiB", "processes")]
                + [(f"{size:,}", name, f"{total / 2**20:.0f}", str(count)) for size, name, total, count in rss],
                right={2, 3},
            )
        )
    finally:
        for server in servers:
            server.stop()
        leftovers = marked_pids(marker)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        services.stop()
        embedded.remove_data(data_dir)
    if leftovers:
        print(f"LEFTOVER server processes after stopping (killed): {leftovers}", file=sys.stderr)
        return 1
    print(f"servers stopped: no process of this run left (checked /proc for {SERVER_ENV_MARKER})")
    failed = [m for m in measurements if m.failed]
    if failed:
        names = "; ".join(
            f"{m.workload} at {m.size:,}: {m.failure}" + (f" (e.g. {m.example_status})" if m.example_status else "")
            for m in failed
        )
        print(f"\n!!! FAILED MEASUREMENTS (no 2xx response at all): {names} !!!", file=sys.stderr)
        return 1
    return 0


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
