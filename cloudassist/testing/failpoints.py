"""MongoDB's ``failCommand`` fail point on the test server (started with enableTestCommands=1):
make the next command(s) of a kind fail as they would during an election."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from pymongo import MongoClient
from pymongo.errors import OperationFailure


@contextmanager
def fail_command(commands: list[str], *, times: int | None = 1, skip: int = 0, **data: Any) -> Iterator[None]:
    """Fail the next ``times`` of ``commands`` (every one while inside, when ``times`` is None,
    after the first ``skip``) with ``data``: ``errorCode``, ``errorLabels``, ``closeConnection``,
    ``writeConcernError``."""
    client: MongoClient = MongoClient(settings.DATABASES["default"]["HOST"], serverSelectionTimeoutMS=2000)
    mode: Any = {"times": times} if times is not None else {"skip": skip} if skip else "alwaysOn"
    try:
        client.admin.command("configureFailPoint", "failCommand", mode=mode, data={"failCommands": commands, **data})
    except OperationFailure as exc:  # a server started without enableTestCommands (MONGODB_URI given)
        client.close()
        pytest.skip(f"the test MongoDB does not allow fail points: {exc}")
    try:
        yield
    finally:
        client.admin.command("configureFailPoint", "failCommand", mode="off")
        client.close()
