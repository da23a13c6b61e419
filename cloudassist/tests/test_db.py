"""cloudassist/db.py: which MongoDB errors are an election, and run_atomic's retries against the
real server (its failCommand fail point stands in for the election)."""

from __future__ import annotations

import pymongo.helpers_shared
import pytest
from django.db import DatabaseError
from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure, ServerSelectionTimeoutError, WriteError

from cloudassist import db
from cloudassist.testing.failpoints import fail_command
from configs.models import Config

STEPPED_DOWN = 189


@pytest.mark.parametrize("attribute", ["_NOT_PRIMARY_CODES", "_RETRYABLE_ERROR_CODES"])
def test_every_code_pymongo_retries_is_an_election_here(attribute):
    # pymongo's lists are private: this fails loudly, naming the attribute, if one moves or grows.
    codes = getattr(pymongo.helpers_shared, attribute, None)
    assert codes is not None, f"pymongo.helpers_shared.{attribute} is gone: check db.RETRYABLE_CODES by hand"
    assert set(codes) <= db.RETRYABLE_CODES, f"pymongo.helpers_shared.{attribute} has {set(codes) - db.RETRYABLE_CODES}"
    assert set(pymongo.helpers_shared._NOT_PRIMARY_CODES) <= db.NOT_PRIMARY_CODES


def _wrapped(error: Exception) -> DatabaseError:
    try:
        try:
            raise error
        except Exception as exc:
            raise DatabaseError from exc
    except DatabaseError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        WriteError("Not primary while writing", code=STEPPED_DOWN),
        OperationFailure("interrupted", code=11602),
        OperationFailure("not writable primary", code=10107),
        BulkWriteError({"writeErrors": [{"code": 11602, "errmsg": "interrupted"}]}),
        OperationFailure("ok, but", code=0, details={"writeConcernError": {"code": 91, "errmsg": "shutting down"}}),
        AutoReconnect("connection reset"),
        ServerSelectionTimeoutError("no primary"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_elections_and_lost_connections_are_unavailable_however_wrapped(error):
    assert db.is_unavailable(error)
    assert db.is_unavailable(_wrapped(error))
    assert db.is_retryable(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [OperationFailure("E11000 duplicate key", code=11000), OperationFailure("WriteConflict", code=112), ValueError()],
    ids=["duplicate", "conflict", "bug"],
)
def test_other_errors_are_not_unavailable(error):
    assert not db.is_unavailable(_wrapped(error))


def test_describe_names_the_class_and_message_of_what_the_backend_wrapped():
    described = db.describe(_wrapped(WriteError("Not primary while writing", code=STEPPED_DOWN)))
    assert described == "DatabaseError <- WriteError: Not primary while writing"


def _writer(calls: list[int], name: str):
    def unit() -> None:
        calls.append(1)
        Config.objects.filter(name=name).update(version=Config.objects.get(name=name).version + 1)

    return unit


@pytest.fixture
def entry(dev_user):
    return Config.objects.create(name="elections", data={}, owner=dev_user)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "failure",
    [
        {"errorCode": STEPPED_DOWN, "errorLabels": ["TransientTransactionError"]},
        {"closeConnection": True},  # AutoReconnect + TransientTransactionError: given up on at once before
        {"errorCode": 11602},  # InterruptedDueToReplStateChange
    ],
    ids=["not-primary", "connection-dropped", "interrupted"],
)
def test_a_unit_that_meets_an_election_runs_again_and_commits_once(entry, failure):
    calls: list[int] = []
    with fail_command(["update"], times=1, **failure):
        db.run_atomic(_writer(calls, entry.name))
    assert len(calls) == 2
    entry.refresh_from_db()
    assert entry.version == 2


@pytest.mark.django_db(transaction=True)
def test_a_commit_with_an_unknown_result_is_committed_again_not_run_again(entry):
    # The commit is applied, then its write concern times out: pymongo labels it UnknownTransactionCommitResult.
    calls: list[int] = []
    concern = {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "timed out", "errInfo": {"wtimeout": True}}
    with fail_command(["commitTransaction"], times=1, writeConcernError=concern):
        db.run_atomic(_writer(calls, entry.name))
    assert len(calls) == 1
    entry.refresh_from_db()
    assert entry.version == 2  # applied once


@pytest.mark.django_db(transaction=True)
def test_an_election_that_outlasts_the_budget_is_raised_as_unavailable(entry, monkeypatch):
    monkeypatch.setattr(db, "retry_budget", lambda using="default": 0.3)  # MONGODB_TIMEOUT_MS
    calls: list[int] = []
    with fail_command(["update"], times=None, errorCode=STEPPED_DOWN), pytest.raises(DatabaseError) as raised:
        db.run_atomic(_writer(calls, entry.name))
    assert db.is_unavailable(raised.value)
    assert len(calls) > 1
    entry.refresh_from_db()
    assert entry.version == 1


@pytest.mark.django_db(transaction=True)
def test_retry_write_repeats_a_plain_write_through_an_election(entry):
    with fail_command(["update"], times=1, errorCode=STEPPED_DOWN):
        written = db.retry_write(lambda: Config.objects.filter(name=entry.name).update(version=5))
    assert written == 1
    entry.refresh_from_db()
    assert entry.version == 5
