"""cloudassist/changes.py against the suite's real MongoDB (a single-node replica set): a write from
another client reaches a subscriber, publish_local is synchronous, a restart sends "reset"."""

from __future__ import annotations

import threading
import time

import pytest
from bson import ObjectId

from cloudassist import changes

COLLECTION = "cloudassist_test_changes"
GUARD_SECONDS = 20  # generous: the machine is shared; the feed normally answers in milliseconds


class Recorder:
    def __init__(self) -> None:
        self.seen: list[changes.Change] = []
        self.event = threading.Condition()

    def __call__(self, change: changes.Change) -> None:
        with self.event:
            self.seen.append(change)
            self.event.notify_all()

    def wait_for(self, predicate) -> changes.Change:
        deadline = time.monotonic() + GUARD_SECONDS
        with self.event:
            while True:
                found = next((change for change in self.seen if predicate(change)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"not seen within {GUARD_SECONDS} s: {self.seen}"
                self.event.wait(remaining)


@pytest.fixture
def recorder(db):
    recorder = Recorder()
    changes.subscribe(COLLECTION, recorder)
    assert changes.wait_started(GUARD_SECONDS), "the change feed did not start"
    yield recorder
    changes.unsubscribe(COLLECTION, recorder)


def test_a_write_from_another_client_reaches_the_subscriber(recorder, other_client):
    key = other_client[COLLECTION].insert_one({"n": 1}).inserted_id
    inserted = recorder.wait_for(lambda change: change.key == key)
    assert inserted == changes.Change(COLLECTION, "insert", key)

    other_client[COLLECTION].update_one({"_id": key}, {"$set": {"n": 2}})
    recorder.wait_for(lambda change: change.key == key and change.operation == "update")
    other_client[COLLECTION].delete_one({"_id": key})
    recorder.wait_for(lambda change: change.key == key and change.operation == "delete")


def test_only_subscribed_collections_are_dispatched(recorder, other_client):
    other_client["cloudassist_test_changes_other"].insert_one({"n": 1})
    key = other_client[COLLECTION].insert_one({"n": 1}).inserted_id
    recorder.wait_for(lambda change: change.key == key)
    assert {change.collection for change in recorder.seen} == {COLLECTION}


def test_publish_local_reaches_subscribers_synchronously(recorder):
    key = ObjectId()
    changes.publish_local(COLLECTION, key)
    assert changes.Change(COLLECTION, "update", key) in recorder.seen


def test_a_restart_sends_reset_and_the_feed_comes_back(recorder, other_client):
    changes.restart()
    recorder.wait_for(lambda change: change.operation == "reset")
    reset = next(change for change in recorder.seen if change.operation == "reset")
    assert reset == changes.Change(COLLECTION, "reset", None)
    assert changes.wait_started(GUARD_SECONDS)
    key = other_client[COLLECTION].insert_one({"n": 1}).inserted_id
    recorder.wait_for(lambda change: change.key == key)


def test_a_new_subscription_is_watched_and_reported_only_once_covered(recorder, other_client):
    late = Recorder()
    changes.subscribe("cloudassist_test_changes_late", late)
    try:
        assert changes.wait_started(GUARD_SECONDS)  # reopened over the new set
        key = other_client["cloudassist_test_changes_late"].insert_one({"n": 1}).inserted_id
        late.wait_for(lambda change: change.key == key)
    finally:
        changes.unsubscribe("cloudassist_test_changes_late", late)


def test_a_failing_subscriber_does_not_stop_the_others(recorder):
    def broken(change):
        raise RuntimeError("boom")

    changes.subscribe(COLLECTION, broken)
    try:
        key = ObjectId()
        changes.publish_local(COLLECTION, key)
        assert changes.Change(COLLECTION, "update", key) in recorder.seen
    finally:
        changes.unsubscribe(COLLECTION, broken)


def test_the_feeds_own_commands_are_not_recorded(recorder, mongo_commands):
    with mongo_commands() as seen:
        time.sleep(changes.AWAIT_SECONDS * 2.5)  # at least two getMores of the feed
    assert not seen.commands
