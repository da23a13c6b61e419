"""Pin the MongoDB commands a hot path sends (no timing): capture them, check their shape, explain them.

The recorder is registered with pymongo before any client exists (see pytest_plugin), so it sees
every command of the backend's client. Tests use the ``mongo_commands`` fixture::

    with mongo_commands() as seen:
        client.get(url)
    page = seen.one("aggregate", "provisioning_provisionrequest")
    assert_page_pipeline(page["pipeline"])
    assert_uses_index("provisioning_provisionrequest", page)
"""

from __future__ import annotations

import contextlib
import copy
import threading
from dataclasses import dataclass, field

from pymongo import monitoring

from cloudassist import changes

# Commands a driver sends on its own (handshakes, monitoring, sessions); not the product's queries.
_DRIVER_COMMANDS = {"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue", "buildInfo"}
# Stages that join or group: never before the page is cut ($match, $sort, $limit).
JOIN_STAGES = ("$lookup", "$group", "$unionWith", "$graphLookup", "$facet", "$unwind")


@dataclass
class Captured:
    commands: list[dict] = field(default_factory=list)

    def named(self, name: str, collection: str | None = None) -> list[dict]:
        return [c for c in self.commands if c["name"] == name and (collection is None or c["collection"] == collection)]

    def one(self, name: str, collection: str | None = None) -> dict:
        found = self.named(name, collection)
        assert len(found) == 1, f"expected one {name} on {collection}, got {len(found)}: {self.summary()}"
        return found[0]

    def on(self, collection: str) -> list[dict]:
        return [c for c in self.commands if c["collection"] == collection]

    def summary(self) -> list[str]:
        return [f"{c['name']} {c['collection']}" for c in self.commands]


class CommandRecorder(monitoring.CommandListener):
    """Records commands while at least one capture is open (thread-safe; off otherwise)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Captured] = []

    @contextlib.contextmanager
    def capture(self):
        captured = Captured()
        with self._lock:
            self._open.append(captured)
        try:
            yield captured
        finally:
            with self._lock:
                self._open.remove(captured)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self._open or event.command_name in _DRIVER_COMMANDS or changes.is_feed_thread():
            return  # the change feed's own getMores are not the product's queries
        command = event.command
        entry = {
            "name": event.command_name,
            "collection": command.get(event.command_name) if isinstance(command.get(event.command_name), str) else "",
            "database": event.database_name,
            "command": copy.deepcopy(dict(command)),
        }
        entry["pipeline"] = entry["command"].get("pipeline", [])
        with self._lock:
            for captured in self._open:
                captured.commands.append(entry)

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


RECORDER = CommandRecorder()

_WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}


class LocalWrites(monitoring.CommandListener):
    """Tests write MongoDB directly (``Model.objects.filter(...).update(...)``) where production would
    have another process do it, then expect the next request to see the write. The change feed
    (cloudassist/changes.py) delivers it within milliseconds, but not before the next line of the
    test: so in the test process every write to a collection that has subscribers also sends them
    "reset" at once. ``feed_only()`` turns that off, for tests of the feed and of the services'
    own ``publish_local`` calls."""

    def __init__(self) -> None:
        self.enabled = True

    @contextlib.contextmanager
    def feed_only(self):
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.enabled or event.command_name not in _WRITE_COMMANDS or changes.is_feed_thread():
            return
        collection = event.command.get(event.command_name)
        if isinstance(collection, str) and changes.subscribed(collection):
            changes.publish_local(collection, None, operation="reset")

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


LOCAL_WRITES = LocalWrites()


def register() -> None:
    """Register the recorder (and LOCAL_WRITES) for every MongoClient created from now on."""
    monitoring.register(RECORDER)
    monitoring.register(LOCAL_WRITES)


def stage_names(pipeline: list[dict]) -> list[str]:
    return [next(iter(stage)) for stage in pipeline]


def assert_page_pipeline(pipeline: list[dict], *, sort: bool = True, limit: bool = True) -> None:
    """The page is cut first: ``$match`` (optional when nothing is filtered), then ``$sort`` and
    ``$limit``; no join or group runs before the page is cut."""
    names = stage_names(pipeline)
    cut = [name for name in ("$sort", "$limit") if (name == "$sort" and sort) or (name == "$limit" and limit)]
    for name in cut:
        assert name in names, f"no {name} in {names}"
    last_cut = max(names.index(name) for name in cut) if cut else 0
    before = names[: last_cut + 1]
    joined = [name for name in before if name in JOIN_STAGES]
    assert not joined, f"{joined} runs before the page is cut: {names}"
    leading = [name for name in before if name not in ("$match", "$sort", "$skip", "$limit", "$project", "$addFields")]
    assert not leading, f"unexpected stages before the page is cut: {names}"
    if names and names[0] != "$match":
        assert names[0] in ("$sort", "$limit", "$skip"), f"the pipeline starts with {names[0]}: {names}"


def assert_no_joins(pipeline: list[dict]) -> None:
    names = stage_names(pipeline)
    joined = [name for name in names if name in JOIN_STAGES]
    assert not joined, f"{joined} in {names}"


def _plan_stages(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        stage = node.get("stage")
        if isinstance(stage, str):
            found.add(stage)
        for value in node.values():
            _plan_stages(value, found)
    elif isinstance(node, list):
        for value in node:
            _plan_stages(value, found)
    return found


def explain(captured_command: dict) -> dict:
    """The ``queryPlanner`` explain of a captured find, aggregate or count, on the same database."""
    from django.db import connection

    command = {
        key: value
        for key, value in captured_command["command"].items()
        if key not in ("lsid", "$db", "$clusterTime", "txnNumber", "autocommit", "startTransaction", "readConcern")
        and not key.startswith("$")
    }
    if captured_command["name"] == "aggregate":
        command["cursor"] = {}  # explain wants the aggregate with a cursor (not its batch size)
    return connection.database.command({"explain": command, "verbosity": "queryPlanner"})


def _winning_plans(explained: dict) -> list[dict]:
    winning = []
    if "queryPlanner" in explained:
        winning.append(explained["queryPlanner"].get("winningPlan", {}))
    for stage in explained.get("stages", []):
        cursor = stage.get("$cursor", {})
        if "queryPlanner" in cursor:
            winning.append(cursor["queryPlanner"].get("winningPlan", {}))
    for shard in explained.get("shards", {}).values():
        winning.append(shard.get("queryPlanner", {}).get("winningPlan", {}))
    return winning


def explain_stages(captured_command: dict) -> set[str]:
    """The plan stages (IXSCAN, COLLSCAN, FETCH, ...) of the winning plan of a captured find,
    aggregate or count, explained on the same database."""
    return _plan_stages(_winning_plans(explain(captured_command)), set())


def pipeline_stages_after_query(captured_command: dict) -> list[str]:
    """The aggregation stages MongoDB still runs after its query layer (``$cursor``) for a
    captured aggregate, e.g. ``["$sort"]`` when a sort could not be pushed into an index."""
    explained = explain(captured_command)
    return [name for stage in explained.get("stages", []) for name in stage if name != "$cursor"]


INDEX_STAGES = {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "COUNT_SCAN", "DISTINCT_SCAN", "RECORD_STORE_FAST_COUNT"}


def assert_uses_index(captured_command: dict, *, sorted_by_index: bool = False) -> None:
    """The winning plan reads an index (no collection scan); with ``sorted_by_index`` the index
    also gives the order (see assert_sorted_by_index)."""
    stages = explain_stages(captured_command)
    assert "COLLSCAN" not in stages, f"collection scan: {sorted(stages)}"
    assert stages & INDEX_STAGES, f"no index: {sorted(stages)}"
    if sorted_by_index:
        assert_sorted_by_index(captured_command)


def assert_sorted_by_index(captured_command: dict) -> None:
    """The index gives the order: no blocking SORT in the plan and no ``$sort`` left to run
    after the query layer (a page then reads only its own documents)."""
    stages = explain_stages(captured_command)
    assert "COLLSCAN" not in stages, f"collection scan: {sorted(stages)}"
    assert "SORT" not in stages, f"blocking sort in the plan: {sorted(stages)}"
    after = pipeline_stages_after_query(captured_command)
    assert "$sort" not in after, f"$sort runs after the query layer: {after}"


def assert_index_count(captured_command: dict) -> None:
    """A count answered by an index or the collection's metadata: ``count`` without a query
    (estimatedDocumentCount), or pymongo's countDocuments shape ``$match`` + ``$group`` of 1s."""
    if captured_command["name"] == "count":
        assert not captured_command["command"].get("query"), captured_command["command"]
        return
    names = stage_names(captured_command["pipeline"])
    assert names in (["$match", "$group"], ["$match", "$skip", "$group"]), names
    assert captured_command["pipeline"][-1]["$group"] == {"_id": 1, "n": {"$sum": 1}}
    assert_uses_index(captured_command)
