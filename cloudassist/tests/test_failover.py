"""MongoDB elections under write load, with real servers: `manage.py serve` (what `make run` runs) on
a 3-member replica set of this module's own (cloudassist/testing/replicaset.py), its own Redis, an
SMTP server (aiosmtpd) receiving every email, and the AWS emulator (moto) that serve starts.

Four developers submit S3 buckets, a reviewer approves them and two config writers replace their
configs, all at once, while the primary steps down gracefully, then is killed (SIGKILL) and comes
back. Afterwards:

- no answer was a 500 (a 503 carries Retry-After, as a client would retry it);
- no acknowledged write is lost: every 201 submission exists, every approved request reaches DEPLOYED,
  every config holds its last acknowledged value or a later attempt;
- no write was applied twice: one request per submission, one approval per reviewer, one config
  version per attempt at most;
- the quota ledgers equal the live requests without a correction (none logged, none needed now);
- every delivery is SENT, and every email arrived exactly once.

No timing assertions: each wait has a generous limit that only guards against hanging.
"""

from __future__ import annotations

import collections
import email
import email.policy
import logging
import queue
import subprocess
import sys
import threading
import time
import urllib.error
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from cloudassist import embedded
from cloudassist.testing.replicaset import ReplicaSet
from cloudassist.testing.stack import BASE_DIR, Stack, api, until

DEVELOPERS = ("bbb", "ccc", "ddd", "eee")
CONFIG_WRITERS = ("kkk", "lll")
NOTIFICATION_HEADER = "X-CloudAssist-Notification"


class Mailbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


@dataclass
class Load:
    """What the clients sent and heard."""

    answers: list[tuple[str, int, dict]] = field(default_factory=list)  # (what, status, headers)
    errors: list[str] = field(default_factory=list)  # connections the server dropped
    submitted: dict[str, str] = field(default_factory=dict)  # description -> request id (201)
    attempted: set[str] = field(default_factory=set)  # descriptions of every submission sent
    approved: set[str] = field(default_factory=set)  # request ids approved with a 200
    config_attempts: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    config_acked: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def heard(self, what: str, answer) -> None:
        with self.lock:
            self.answers.append((what, answer.status, dict(answer.headers)))


def _send(load: Load, what: str, url: str, data=None, token=None, method: str | None = None):
    try:
        answer = api(url, data, token, method=method)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        with load.lock:
            load.errors.append(f"{what}: {exc!r}")
        return None
    load.heard(what, answer)
    return answer


def _developer(stack: Stack, load: Load, user: str, stop: threading.Event, to_review: queue.Queue) -> None:
    token = stack.tokens[user]
    n = 0
    while not stop.is_set():
        n += 1
        description = f"failover {user} {n}"
        body = {"template": "s3-bucket", "description": description, "parameters": {"bucket": f"fo-{user}-{n}"}}
        with load.lock:
            load.attempted.add(description)
        answer = _send(load, "submit", f"{stack.base}/api/v1/provision-requests/", body, token)
        if answer is not None and answer.status == 201:
            pk = answer.json()["id"]
            with load.lock:
                load.submitted[description] = pk
            to_review.put(pk)
        time.sleep(2)  # ~30 requests in the run: the worker provisions them one by one afterwards


def _reviewer(stack: Stack, load: Load, stop: threading.Event, to_review: queue.Queue) -> None:
    token = stack.tokens["jjj"]
    while not (stop.is_set() and to_review.empty()):
        try:
            pk = to_review.get(timeout=0.2)
        except queue.Empty:
            continue
        url = f"{stack.base}/api/v1/provision-requests/{pk}/approve/"
        answer = _send(load, "approve", url, {"note": "ok"}, token)
        if answer is not None and answer.status == 200:
            with load.lock:
                load.approved.add(pk)
        elif answer is None or answer.status == 503:
            to_review.put(pk)  # as a reviewer would: try again
            time.sleep(0.2)


def _config_writer(stack: Stack, load: Load, user: str, stop: threading.Event) -> None:
    token, name = stack.tokens[user], f"failover.{user}"
    created = None
    while created is None or created.status not in (201, 409):  # 409: an earlier attempt created it
        created = _send(load, "config create", f"{stack.base}/configs", {"name": name, "data": {"n": 0}}, token)
        time.sleep(0.2)
    n = 0
    while not stop.is_set():
        n += 1
        with load.lock:
            load.config_attempts[name].append(n)
        answer = _send(
            load, "config put", f"{stack.base}/configs/{name}", {"name": name, "data": {"n": n}}, token, method="PUT"
        )
        if answer is not None and answer.status == 200:
            with load.lock:
                load.config_acked[name].append(n)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failover")
    replica_set = ReplicaSet(tmp).start()
    mailbox = Mailbox()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO
    smtp = Controller(mailbox, hostname="127.0.0.1", port=embedded.free_port())
    smtp.start()
    stack = None
    try:
        stack = Stack(
            tmp,
            mongo=replica_set,
            env={"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "DEBUG": "true"},
        )
        stack.tokens.update({user: stack.token(user) for user in (*DEVELOPERS, *CONFIG_WRITERS)})
        yield stack, replica_set, mailbox
    finally:
        if stack is not None:
            stack.stop()
        replica_set.stop()
        smtp.stop()


def test_elections_under_write_load_lose_nothing_double_nothing_and_answer_no_500(cluster):
    stack, replica_set, mailbox = cluster
    load, stop, to_review = Load(), threading.Event(), queue.Queue()
    threads = [threading.Thread(target=_developer, args=(stack, load, user, stop, to_review)) for user in DEVELOPERS]
    threads.append(threading.Thread(target=_reviewer, args=(stack, load, stop, to_review)))
    threads += [threading.Thread(target=_config_writer, args=(stack, load, user, stop)) for user in CONFIG_WRITERS]
    for thread in threads:
        thread.start()
    try:
        time.sleep(5)
        stepped_down, primary = replica_set.step_down()
        print(f"\nstepped down {stepped_down.host}; new primary {primary.host}")
        time.sleep(5)
        killed, primary = replica_set.kill_primary()
        print(f"killed {killed.host}; new primary {primary.host}")
        time.sleep(4)
        replica_set.restart(killed)
        time.sleep(4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    _check_answers(load)
    db = replica_set.client()["cloudassist"]
    _check_requests(stack, load, db)
    _check_configs(stack, load)
    _check_ledgers(stack)
    _check_deliveries(db, mailbox)


def _check_answers(load: Load) -> None:
    statuses = collections.Counter((what, status) for what, status, _headers in load.answers)
    print(f"answers: {dict(statuses)}; dropped connections: {len(load.errors)}")
    assert not load.errors, load.errors[:5]
    assert not [a for a in load.answers if a[1] >= 500 and a[1] != 503], statuses
    assert all(int(headers["Retry-After"]) > 0 for _what, status, headers in load.answers if status == 503)
    assert not [a for a in load.answers if a[1] >= 400 and a[1] not in (409, 503)], statuses
    # The load did something in each path.
    assert load.submitted
    assert load.approved
    assert load.config_acked


def _check_requests(stack: Stack, load: Load, db) -> None:
    """One request per acknowledged submission, none doubled; one approval per reviewer; every
    approved request DEPLOYED."""
    requests = db.provisioning_provisionrequest
    for description in load.attempted:
        found = requests.count_documents({"description": description})
        assert found <= 1, description
        if description in load.submitted:
            assert found == 1, description
    for document in requests.find({"description": {"$regex": "^failover "}}, {"approvals": 1}):
        reviewers = [approval["user_id"] for approval in document.get("approvals", [])]
        assert len(reviewers) == len(set(reviewers)), document
        if reviewers:
            load.approved.add(str(document["_id"]))  # approved, whatever the client heard

    def status(pk: str) -> str:
        return api(f"{stack.base}/api/v1/provision-requests/{pk}/", token=stack.tokens["jjj"]).json()["status"]

    def all_deployed():
        return all(status(pk) == "DEPLOYED" for pk in load.approved)

    until(all_deployed, what=f"{len(load.approved)} approved requests DEPLOYED")


def _check_configs(stack: Stack, load: Load) -> None:
    """Every acknowledged config write is in the history once; the entry holds the last one (or a
    later attempt whose answer was lost)."""
    for name, acked in load.config_acked.items():
        token = stack.tokens[name.removeprefix("failover.")]
        versions = api(f"{stack.base}/configs/{name}/versions/?page_size=1000", token=token).json()
        written = [version["data"]["n"] for version in versions["results"] if version["data"]["n"]]
        assert len(written) == len(set(written)), f"{name}: a write applied twice: {sorted(written)}"
        assert set(acked) <= set(written), f"{name}: acknowledged writes lost: {set(acked) - set(written)}"
        current = api(f"{stack.base}/configs/{name}", token=token).json()["data"]["n"]
        assert current >= acked[-1], (name, current, acked[-1])
        assert current in load.config_attempts[name], (name, current)


def _check_ledgers(stack: Stack) -> None:
    """The ledgers equal the live requests: the reconcile finds nothing to correct, and the sweep
    (which runs it too) corrected nothing during the run."""
    reconciled = subprocess.run(
        [sys.executable, "manage.py", "reconcile_quotas"],
        cwd=BASE_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "ledgers_corrected=0" in reconciled.stdout, reconciled.stdout + reconciled.stderr
    assert "quota ledger of user" not in stack.log.read_text()


def _check_deliveries(db, mailbox: Mailbox) -> None:
    """Every delivery SENT; every email received exactly once."""
    deliveries = db.notifications_delivery
    until(lambda: deliveries.count_documents({"status": {"$ne": "SENT"}}) == 0, what="every delivery SENT")
    sent = deliveries.count_documents({"channel": "email", "status": "SENT"})
    assert sent > 0
    until(lambda: len(mailbox.messages) >= sent, what=f"{sent} emails received")
    received = collections.Counter(message[NOTIFICATION_HEADER] for message in mailbox.messages)
    assert len(received) == sent, (len(received), sent)
    assert [key for key, count in received.items() if count > 1] == []  # no email twice
