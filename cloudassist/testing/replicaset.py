"""A 3-member MongoDB replica set of the embedded mongod binary, for the failover tests.

Elections are made quick (1 s election timeout, 250 ms heartbeats) so that a killed primary is
replaced within seconds; every member may become primary. ``step_down()`` is a graceful election,
``kill_primary()`` a SIGKILL, ``restart(member)`` brings a member back (it rejoins as a secondary).
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, OperationFailure

from cloudassist import embedded

ELECTION_GUARD = 60  # seconds: a set with no primary for longer than this is broken


class Member(embedded.EmbeddedMongo):
    """One member: started alone; the set is initiated once all three answer."""

    test_commands = True

    def after_start(self) -> None:
        pass


class ReplicaSet:
    def __init__(self, tmp: Path, size: int = 3):
        self.members = [Member(data_dir=tmp / f"member{index}") for index in range(size)]

    @property
    def url(self) -> str:
        hosts = ",".join(member.host for member in self.members)
        return f"mongodb://{hosts}/?replicaSet={embedded.REPLICA_SET}"

    def start(self) -> ReplicaSet:
        for member in self.members:
            if not member.is_running():
                member.start()
        with MongoClient(self.members[0].url, serverSelectionTimeoutMS=5000) as client:
            try:
                client.admin.command("replSetGetConfig")
            except OperationFailure as exc:
                if exc.code != 94:  # NotYetInitialized
                    raise
                client.admin.command(
                    "replSetInitiate",
                    {
                        "_id": embedded.REPLICA_SET,
                        "members": [{"_id": index, "host": m.host} for index, m in enumerate(self.members)],
                        "settings": {"electionTimeoutMillis": 1000, "heartbeatIntervalMillis": 250},
                    },
                )
        self.primary()
        return self

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def client(self) -> MongoClient:
        return MongoClient(self.url, serverSelectionTimeoutMS=ELECTION_GUARD * 1000)

    def primary(self, *, other_than: Member | None = None) -> Member:
        """The member that is primary now (waiting for an election if there is none)."""
        deadline = time.monotonic() + ELECTION_GUARD
        while time.monotonic() < deadline:
            for member in self.members:
                if member is other_than or not member.is_running():
                    continue
                try:
                    with MongoClient(member.url, serverSelectionTimeoutMS=500) as client:
                        if client.admin.command("hello").get("isWritablePrimary"):
                            return member
                except (ConnectionFailure, OperationFailure):
                    continue
            time.sleep(0.1)
        raise AssertionError(f"no primary within {ELECTION_GUARD} s")

    def step_down(self) -> tuple[Member, Member]:
        """A graceful stepdown of the primary; returns (old primary, new primary)."""
        old = self.primary()
        # A stepping-down primary may close the connection.
        with MongoClient(old.url, serverSelectionTimeoutMS=2000) as client, contextlib.suppress(AutoReconnect):
            client.admin.command("replSetStepDown", 10, secondaryCatchUpPeriodSecs=5)
        return old, self.primary(other_than=old)

    def kill_primary(self) -> tuple[Member, Member]:
        """SIGKILL the primary; returns (killed member, new primary)."""
        old = self.primary()
        old.proc.send_signal(signal.SIGKILL)
        old.proc.wait(timeout=30)
        old.proc = None
        old.pid_file.unlink(missing_ok=True)
        return old, self.primary(other_than=old)

    def restart(self, member: Member) -> None:
        member.start()
