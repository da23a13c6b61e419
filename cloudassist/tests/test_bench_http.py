"""The pieces of benchmarks/bench_http.py (`make bench`), cheaply, against this test run's servers:
the data loader, the load generators against a tiny local HTTP server, the result tables.
No wall-clock assertions."""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.util import setup_testing_defaults

import pytest
from rest_framework.test import APIClient

from benchmarks import bench_http
from configs.models import Config, ConfigVersion
from provisioning.choices import RequestStatus
from provisioning.models import Event, ProvisionRequest


@pytest.fixture
def seeded(db):
    users = bench_http.seed_users()
    prototypes = bench_http.make_prototypes(users)
    return users, prototypes


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
def test_loaded_requests_read_back_as_planned_through_the_orm_and_the_api(seeded):
    users, prototypes = seeded
    loaded = bench_http.load_requests(200, users=users, prototypes=prototypes, keep_every=1)

    assert len(loaded.ids) == len(set(loaded.ids)) == 200
    assert set(loaded.planned) == set(loaded.ids)
    requests = {r.pk: r for r in ProvisionRequest.objects.filter(pk__in=loaded.ids)}
    assert set(requests) == set(loaded.ids)
    by_template = {p.template: p for p in prototypes}
    for pk, planned in loaded.planned.items():
        request = requests[pk]
        assert request.status == planned["status"]
        assert request.parameters == planned["parameters"]
        assert request.requested_by_id == planned["requested_by_id"]
        assert request.template_id == planned["template_id"]
        assert request.created_at == planned["created_at"].replace(tzinfo=request.created_at.tzinfo)
        assert request.cost_estimate == planned["cost_estimate"]
        assert request.analysis_remarks == planned["analysis_remarks"]
        assert request.template_snapshot == by_template[request.template_id].request["template_snapshot"]
        assert request.cost_estimate
        assert request.template_snapshot["provider"]
    statuses = [r.status for r in requests.values()]
    assert statuses.count(RequestStatus.REQUESTED) == 50  # a quarter
    assert set(statuses) == set(RequestStatus.values)  # the rest over every other status
    assert len({r.requested_by_id for r in requests.values()}) == len(bench_http.REQUESTERS)
    assert {r.template_id for r in requests.values()} == set(bench_http.TEMPLATE_VARIANTS)
    assert max(r.created_at for r in requests.values()) - min(r.created_at for r in requests.values()) > (
        bench_http.timedelta(days=30)
    )
    assert Event.objects.filter(provision_request_id__in=loaded.ids, action="submit").count() == 200

    client = _client(users[bench_http.READER]["token"])
    for pk in loaded.ids[:5]:
        response = client.get(f"/api/v1/provision-requests/{pk}/")
        assert response.status_code == 200, response.content
        body = response.json()
        planned = loaded.planned[pk]
        assert (body["status"], body["parameters"], body["description"]) == (
            planned["status"],
            planned["parameters"],
            planned["description"],
        )
        assert body["template_snapshot"] == by_template[planned["template_id"]].request["template_snapshot"]
    page = client.get("/api/v1/provision-requests/?status=REQUESTED&ordering=-created_at")
    assert page.status_code == 200
    assert page.json()["count"] == 50 + len(prototypes)  # the prototypes were submitted: REQUESTED


@pytest.mark.django_db
def test_loaded_configs_read_back_and_the_create_body_is_accepted(seeded):
    users, _ = seeded
    names = bench_http.load_configs(20, owner=users[bench_http.READER]["user"])

    assert Config.objects.filter(name__in=names).count() == 20
    assert ConfigVersion.objects.filter(config__name__in=names, version=1).count() == 20
    for index, name in enumerate(names[:3]):
        entry = Config.objects.get(name=name)
        assert entry.data == bench_http.config_data(index)
        assert 900 <= len(json.dumps(entry.data, separators=(",", ":"))) <= 1100
    reader = _client(users[bench_http.READER]["token"])
    assert reader.get(f"/configs/{names[3]}").json()["data"] == bench_http.config_data(3)
    put = reader.put(f"/configs/{names[4]}", {"name": names[4], "data": bench_http.config_data(99)}, format="json")
    assert put.status_code == 200, put.content
    assert reader.get("/configs").status_code == 200

    bench_http.give_big_quota(users[bench_http.CREATOR]["user"])
    creator = _client(users[bench_http.CREATOR]["token"])
    response = creator.post("/api/v1/provision-requests/", json.loads(bench_http.create_body(1)), format="json")
    assert response.status_code == 201, response.content


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self):
        status = 500 if self.path == "/bad" else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tiny_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


WORKLOAD = bench_http.Workload("mixed", "GET", ["/ok", "/ok", "/bad"], token="t")


def _sane(result: bench_http.RoundResult) -> None:
    assert result.requests > 0
    assert 0 < result.non2xx < result.requests
    assert result.example_status == 500
    assert result.errors == 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.rps > 0


def test_python_load_generator_counts_statuses_and_percentiles(tiny_server):
    result = bench_http.python_load("127.0.0.1", tiny_server, WORKLOAD, seconds=1, connections=4)
    _sane(result)
    # Every connection cycles over the paths in order: a third of the requests are /bad.
    assert abs(result.non2xx - result.requests / 3) <= 4


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_wrk_load_generator_counts_statuses_and_percentiles(tiny_server):
    _sane(bench_http.wrk_load("127.0.0.1", tiny_server, WORKLOAD, seconds=1, connections=4))


def test_wrk_output_is_parsed():
    output = """Running 10s test @ http://127.0.0.1:8000
  Latency Distribution
     50%  812.00us
     75%    2.10ms
     90%   15.30ms
     99%    1.20s
  1000 requests in 10.00s, 1.00MB read
BENCH-JSON {"requests": 1000, "responses": 998, "non2xx": 3, "bad_status": 412, "duration_us": 10000000, \
"connect": 0, "read": 1, "write": 0, "timeout": 2}
"""
    assert bench_http.parse_wrk_latency(output) == {50: 0.812, 75: 2.1, 90: 15.3, 99: 1200.0}
    result = bench_http.parse_wrk(output)
    assert (result.requests, result.non2xx, result.errors, result.example_status) == (998, 3, 3, 412)
    assert result.rps == pytest.approx(99.8)
    assert (result.p50_ms, result.p99_ms) == (0.812, 1200.0)


def _m(size, name, rps, p50, p99, non2xx=0, requests=None, cpu=(0.0, 0.0)):
    """``cpu``: (server, mongod) CPU milliseconds per request."""
    requests = int(rps * 10) if requests is None else requests
    server, mongod = (requests * ms / 1000 for ms in cpu)
    result = bench_http.RoundResult(requests, 10.0, p50, p99, non2xx, 0, 500 if non2xx else None, server, mongod)
    return bench_http.Measurement(size, name, [result] * 3)


def test_result_tables():
    nan = float("nan")
    measurements = [
        _m(10_000, bench_http.BARE_VIEW, 2000, 5, 10, cpu=(0.25, 0.0)),
        _m(10_000, bench_http.BARE_CONFIG, 1800, 5, 10, cpu=(0.5, 0.0)),
        _m(10_000, "list", 500, 20, 40, cpu=(4.0, 1.0)),
        _m(10_000, "broken", 100, 1, 2, non2xx=1000),
        _m(100_000, bench_http.BARE_VIEW, 2000, 5, 10),
        _m(100_000, "list", 100, 100, 160),
        _m(100_000, "broken", 0, nan, nan, requests=0),
    ]
    table = bench_http.format_table(measurements).splitlines()
    header = ["size", "workload", "req/s", "(min-max)", "p50", "ms", "p99", "ms", "non-2xx", "errors", "vs", "bare"]
    header += ["cpu", "ms", "mongod", "ms", "total", "ms", "x", "view", "x", "config"]
    assert table[0].split() == header
    list_row = next(line for line in table if "10,000" in line and "list" in line).split()
    # CPU per request: server, mongod, their total, and the total / each baseline's total.
    assert list_row[:9] == ["10,000", "list", "500.0", "(500-500)", "20.0", "40.0", "0", "0", "0.250"]
    assert list_row[9:] == ["4.00", "1.00", "5.00", "20.0", "10.0"]
    bare_row = next(line for line in table if "10,000" in line and bench_http.BARE_CONFIG in line).split()
    assert bare_row[-5:] == ["0.50", "0.00", "0.50", "2.0", "1.0"]
    assert next(line for line in table if "100,000" in line and "list" in line).split()[-2:] == ["n/a", "n/a"]
    broken = next(line for line in table if "10,000" in line and "broken" in line)
    assert "FAILED" in broken
    assert "3000 (500)" in broken  # summed over the 3 rounds, with a status seen
    silent = next(line for line in table if "100,000" in line and "broken" in line)
    assert "FAILED" in silent
    assert ">10,000" in silent  # no response within a 10 s round
    end = table[0].index("req/s") + len("req/s")  # right-aligned numbers: every req/s ends there
    assert all(line[end] == " " and line[end - 1].isdigit() for line in table[1:])

    growth = bench_http.format_growth(measurements, 10_000, 100_000).splitlines()
    assert growth[1].split() == ["bare", "view", "10.0", "10.0", "1.00x"]
    assert growth[2].split() == ["list", "40.0", "160.0", "4.00x"]
    assert growth[3].split()[-1] == "n/a"
    assert bench_http.Measurement(1, "x", [bench_http.RoundResult(0, 1, nan, nan, 0)]).failure == (
        "no response within a round"
    )


def test_measure_reads_the_cpu_of_the_server_and_of_mongod_over_each_round(tiny_server, tmp_path):
    # The tiny server's "mongod" is this process (its threads answer): some CPU, read from /proc.
    server = bench_http.Server("tiny", {}, tiny_server, "/ok", tmp_path / "log", mongod=os.getpid())
    options = bench_http.Options(seconds=1, rounds=2, warmup=0)
    measured = bench_http.measure(bench_http.python_load, WORKLOAD, server, options, 10)

    assert len(measured.rounds) == 2
    assert all(r.cpu_server == 0 and r.cpu_mongod >= 0 for r in measured.rounds)  # no server process: 0
    assert measured.cpu_server_ms == 0
    assert not math.isnan(measured.cpu_mongod_ms)
    assert measured.cpu_total_ms == measured.cpu_mongod_ms


def _wsgi_get(application, path: str) -> tuple[str, dict, bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_HOST": "127.0.0.1", "HTTP_ACCEPT": "application/json"}
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    body = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], body


@pytest.mark.django_db
def test_the_baselines_are_served_without_middleware_beside_the_product():
    from benchmarks import bare_wsgi

    name = bench_http.config_name(3)
    status, headers, body = _wsgi_get(bare_wsgi.application, f"{bench_http.BARE_CONFIG_PATH}{name}")
    assert status.startswith("200")
    assert json.loads(body)["data"] == bench_http.config_data(3)
    assert headers["ETag"] == '"1"'
    assert "X-Content-Type-Options" not in headers  # no SecurityMiddleware: no middleware at all
    assert _wsgi_get(bare_wsgi.application, f"{bench_http.BARE_CONFIG_PATH}nope")[0].startswith("404")
    status, headers, body = _wsgi_get(bare_wsgi.application, bench_http.BARE_PATH)
    assert (status[:3], json.loads(body)["status"]) == ("200", "ok")

    status, headers, _ = _wsgi_get(bare_wsgi.application, "/api/v1/users/me/")  # the product, unchanged
    assert status.startswith("401")
    assert headers["X-Content-Type-Options"] == "nosniff"
