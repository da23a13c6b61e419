"""The OpenAPI document is the truth: schemathesis over the served schema finds no server error and
no response the schema does not describe.

The production server (gunicorn, cloudassist/testing/server.py) runs with DEBUG on, as `make run`
serves it, against the test database seeded with what makes the operations meaningful (the seed's
templates with prices, a developer's request, a config entry, a quota); schemathesis's CLI runs
every operation with a fixed seed and a bounded number of examples per operation, once as a
developer and once as an admin, with these checks:

- not_a_server_error: no 5xx;
- status_code_conformance: every status answered is documented for the operation;
- content_type_conformance: the body's media type is documented;
- response_schema_conformance: the body matches the documented schema (errors included: the one
  JSON error shape of cloudassist/api/errors.py).

The suite runs a few examples per operation (FUZZ_MAX_EXAMPLES, default 5); `make fuzz` runs many
more (and prints schemathesis's summary). A failure prints schemathesis's report: each failing case
with a curl line that reproduces it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from cloudassist import roles
from cloudassist.testing.server import running_server

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "17"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
PASSWORD = "fuzz-Passphrase-4242"

# Operations let off the two checks a 500 fails (not_a_server_error, and status_code_conformance
# since 500 is undocumented), each with its cause; every other check still applies to them. Empty:
# since issue 17 every input gets a documented 4xx. Add an entry only with the issue that removes it.
KNOWN_SERVER_ERRORS: dict[tuple[str, str], str] = {}


# In the suite, to stay within a few minutes: the coverage phase (schemathesis's deterministic edge
# cases: boundaries, enums, formats; ~6,000 cases per role with the invalid ones) runs its valid
# cases only, once per operation, as the role that may use it: these tags (users, roles,
# templates, quotas and prices) as the admin, the rest as the developer. The other phases
# (examples, random valid and invalid data, stateful sequences) run for both roles on everything.
# FUZZ_FULL=1 (`make fuzz`): the whole coverage phase, valid and invalid, for both roles.
ADMIN_TAGS = ["users", "templates", "quotas"]
FULL = os.environ.get("FUZZ_FULL", "") == "1"


def _toml(value) -> str:
    return json.dumps(value)  # a JSON string or list of strings is a TOML one


def config_file(path: Path, role: str, *, max_examples: int) -> Path:
    """schemathesis.toml for one role: checks, seed, examples, and the known server errors as
    per-operation check switches."""
    lines = [
        f"seed = {SEED}",
        "workers = 1  # a fixed seed reproduces only with one worker",
        'suppress-health-check = ["all"]',
        "request-timeout = 30",
        "",
        "[generation]",
        f"max-examples = {max_examples}",
        "",
        "[checks]",
        "enabled = false",
        *(f"{check}.enabled = true" for check in CHECKS),
        "",
    ]
    if not FULL:
        lines += ["[phases.coverage.generation]", 'mode = "positive"', ""]
        key = "exclude-tag" if role == "admin" else "include-tag"
        lines += ["[[operations]]", f"{key} = {_toml(ADMIN_TAGS)}", "phases.coverage.enabled = false", ""]
    for (method, operation_path), why in KNOWN_SERVER_ERRORS.items():
        lines += [
            f"# known: {why}",
            "[[operations]]",
            f"include-path = {_toml(operation_path)}",
            f"include-method = {_toml(method)}",
            "checks.not_a_server_error.enabled = false",
            "checks.status_code_conformance.enabled = false",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def seeded(templates, make_user, make_request):
    """Users of both roles, and an object of each kind so detail operations can find real ones
    (with their nullable fields null: a role's quota has no user, the seed's templates no creator)."""
    from django.contrib.auth.models import Group

    from configs import services as config_services
    from quotas.models import Quota

    dev = make_user("fuzz-dev", roles.DEV)
    admin = make_user("fuzz-admin", roles.ADMIN)
    for user in (dev, admin):  # hashed as the server checks it (the tests' own hasher is MD5)
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])
    make_request(user=dev)
    config_services.create(actor=dev, name="fuzz.config", data={"replicas": 2}, labels={"env": "dev"})
    Quota.objects.create(user=dev, max_live_environments=5, usd_budget=Decimal("100.00"))
    Quota.objects.create(role=Group.objects.get(name=roles.DEV), max_live_environments=3)
    return {"dev": dev, "admin": admin}


def _token(url: str, username: str) -> str:
    request = urllib.request.Request(
        f"{url}/api/v1/auth/token/",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]


def schemathesis_run(url: str, token: str, *, config: Path, report_dir: Path):
    """The CLI, as an outside run would use it (in report_dir: its .schemathesis cache, out of the tree)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{url}/api/schema/?format=json",
        "--header",
        f"Authorization: Token {token}",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False, cwd=report_dir)


@pytest.fixture
def server(seeded, tmp_path):
    # DEBUG on, as `make run` serves it; a config watch waits at most 2 s (the fuzzer finds ?wait=).
    env = {"DEBUG": "true", "CONFIG_MAX_WAIT_SECONDS": "2", "AUTH_TOKEN_RATE": "10000/minute", "LOG_LEVEL": "ERROR"}
    with (tmp_path / "server.log").open("w") as log, running_server(env=env, log=log) as started:
        started.log = tmp_path / "server.log"
        yield started


def test_every_response_matches_the_openapi_document(server, seeded, tmp_path):
    failures = []
    for role, user in seeded.items():
        config = config_file(tmp_path / f"{role}.toml", role, max_examples=MAX_EXAMPLES)
        result = schemathesis_run(server.url, _token(server.url, user.username), config=config, report_dir=tmp_path)
        summary = result.stdout[result.stdout.rfind("SUMMARY") :]
        print(f"\n--- schemathesis as {role} ---\n{summary}")  # `make fuzz` (pytest -s) shows it
        if result.returncode != 0:
            failures.append(f"as {role} (exit {result.returncode}):\n{result.stdout[-30000:]}\n{result.stderr[-3000:]}")
    if failures:  # the server's tracebacks of any 500
        failures.append("server log (end):\n" + "\n".join(server.log.read_text().splitlines()[-300:]))
    assert not failures, "\n\n".join(failures)
