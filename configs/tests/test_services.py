"""configs.services: a compare-and-set that loses a race says why (written meanwhile: 412 with the
current version when the writer sent If-Match, else it reads again and wins; deleted meanwhile: not
found), for writes and deletes alike."""

from __future__ import annotations

import pytest

from cloudassist.exceptions import Conflict, NotFound, SchemaViolation
from configs import services
from configs.models import Config


@pytest.fixture
def stale(dev_user, monkeypatch):
    """The entry as a writer read it at version 1; the write itself runs after others' changes.
    A writer that reads again (last-write-wins, without If-Match) sees the entry as it is now."""
    config = services.create(actor=dev_user, name="raced", data=1)
    reads = [Config.objects.get(pk=config.pk)]
    real = services.by_name
    monkeypatch.setattr(services, "by_name", lambda name, now=None: reads.pop() if reads else real(name, now=now))
    return config


WRITES = {
    "replace": {"data": 9},
    "patch": {"document": [{"op": "replace", "path": "", "value": 9}], "json_patch": True},
    "delete": {},
}


@pytest.mark.django_db
@pytest.mark.parametrize("write", list(WRITES))
def test_written_meanwhile_with_if_match_is_a_precondition_failure_naming_the_version(stale, dev_user, write):
    Config.objects.filter(pk=stale.pk).update(version=3)
    with pytest.raises(services.PreconditionFailed) as refused:
        getattr(services, write)(actor=dev_user, name="raced", if_match=1, **WRITES[write])
    assert refused.value.extra == {"current_version": 3}
    assert Config.objects.get(pk=stale.pk).data == 1


@pytest.mark.django_db
@pytest.mark.parametrize("write", list(WRITES))
def test_written_meanwhile_without_if_match_reads_again_and_wins(stale, dev_user, write):
    Config.objects.filter(pk=stale.pk).update(version=3, data=5)
    getattr(services, write)(actor=dev_user, name="raced", **WRITES[write])
    if write == "delete":
        assert not Config.objects.exists()
    else:
        assert Config.objects.filter(pk=stale.pk).values_list("version", "data").get() == (4, 9)


@pytest.mark.django_db
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_that_keeps_losing_gives_up_with_a_conflict(dev_user, monkeypatch, write):
    config = services.create(actor=dev_user, name="raced", data=1)
    read = Config.objects.get(pk=config.pk)
    monkeypatch.setattr(services, "by_name", lambda name, now=None: read)  # always the old version
    monkeypatch.setattr(services, "MAX_WRITE_ATTEMPTS", 3)
    Config.objects.filter(pk=config.pk).update(version=3)
    with pytest.raises(Conflict):
        getattr(services, write)(actor=dev_user, name="raced", **WRITES[write])


@pytest.mark.django_db
@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("if_match", [None, 1])
def test_deleted_meanwhile_is_not_found(stale, dev_user, write, if_match):
    Config.objects.filter(pk=stale.pk).delete()
    with pytest.raises(NotFound):
        getattr(services, write)(actor=dev_user, name="raced", if_match=if_match, **WRITES[write])
    assert not Config.objects.exists()


def test_a_schema_pattern_cannot_stall_the_process():
    with pytest.raises(SchemaViolation):  # with Python's re this runs for minutes (ReDoS)
        services.validate("a" * 40 + "!", {"type": "string", "pattern": "^(a+)+$"})


@pytest.mark.django_db(transaction=True)
def test_a_commit_with_an_unknown_result_does_not_apply_the_write_twice(dev_user):
    """The commit is applied, then its answer is lost (a write concern timeout: pymongo labels it
    UnknownTransactionCommitResult): committed again, not written again (cloudassist/db.py)."""
    from cloudassist.testing.failpoints import fail_command

    services.create(actor=dev_user, name="elected", data={"items": []})
    concern = {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "timed out", "errInfo": {"wtimeout": True}}
    with fail_command(["commitTransaction"], times=1, writeConcernError=concern):
        services.patch(
            actor=dev_user, name="elected", document=[{"op": "add", "path": "/items/-", "value": 1}], json_patch=True
        )
    config = Config.objects.get(name="elected")
    assert (config.version, config.data) == (2, {"items": [1]})
    assert sorted(config.versions.values_list("version", flat=True)) == [1, 2]
