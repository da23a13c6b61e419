"""configs.services: a compare-and-set that loses a race says why (written meanwhile: 412 with the
current version; deleted meanwhile: not found), for writes and deletes alike."""

from __future__ import annotations

import pytest

from cloudassist.exceptions import NotFound, SchemaViolation
from configs import services
from configs.models import Config


@pytest.fixture
def stale(dev_user, monkeypatch):
    """The entry as a writer read it at version 1; the write itself runs after others' changes."""
    config = services.create(actor=dev_user, name="raced", data=1)
    read = Config.objects.get(pk=config.pk)
    monkeypatch.setattr(services, "by_name", lambda name, now=None: read)
    return config


@pytest.mark.django_db
@pytest.mark.parametrize("write", ["replace", "delete"])
def test_written_meanwhile_is_a_precondition_failure_naming_the_version(stale, dev_user, write):
    Config.objects.filter(pk=stale.pk).update(version=3)
    arguments = {"data": 9} if write == "replace" else {}
    with pytest.raises(services.PreconditionFailed) as refused:
        getattr(services, write)(actor=dev_user, name="raced", **arguments)
    assert refused.value.extra == {"current_version": 3}
    assert Config.objects.get(pk=stale.pk).data == 1


@pytest.mark.django_db
@pytest.mark.parametrize("write", ["replace", "delete"])
def test_deleted_meanwhile_is_not_found(stale, dev_user, write):
    Config.objects.filter(pk=stale.pk).delete()
    arguments = {"data": 9} if write == "replace" else {}
    with pytest.raises(NotFound):
        getattr(services, write)(actor=dev_user, name="raced", **arguments)
    assert not Config.objects.exists()


def test_a_schema_pattern_cannot_stall_the_process():
    with pytest.raises(SchemaViolation):  # with Python's re this runs for minutes (ReDoS)
        services.validate("a" * 40 + "!", {"type": "string", "pattern": "^(a+)+$"})
