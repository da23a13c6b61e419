"""The embedded servers: real mongod and redis-server processes."""

import stat

import pytest
import redis
from pymongo import MongoClient

from cloudassist import embedded


def test_mongo_starts_as_a_replica_set_primary_and_keeps_data(tmp_path):
    mongo = embedded.EmbeddedMongo(data_dir=tmp_path).start()
    pid = mongo.proc.pid
    try:
        with MongoClient(mongo.url) as client:
            hello = client.admin.command("hello")
            assert hello["setName"] == "rs0"
            assert hello["isWritablePrimary"]
            with client.start_session() as session, session.start_transaction():
                client.t.items.insert_one({"name": "kept"}, session=session)
    finally:
        mongo.stop()
    assert not embedded._pid_alive(pid)
    assert not mongo.pid_file.exists()

    # Restarted on another port, the same data dir still serves the data as primary.
    again = embedded.EmbeddedMongo(data_dir=tmp_path).start()
    try:
        with MongoClient(again.url) as client:
            assert client.t.items.find_one({}, {"_id": 0}) == {"name": "kept"}
    finally:
        again.stop()


def test_redis_persists_across_restarts(tmp_path):
    server = embedded.EmbeddedRedis(data_dir=tmp_path).start()
    try:
        redis.Redis.from_url(server.url).set("k", "v")
    finally:
        server.stop()
    again = embedded.EmbeddedRedis(data_dir=tmp_path).start()
    try:
        assert redis.Redis.from_url(again.url).get("k") == b"v"
    finally:
        again.stop()


def test_a_busy_port_is_a_clear_error(tmp_path):
    first = embedded.EmbeddedRedis(data_dir=tmp_path / "a").start()
    try:
        with pytest.raises(embedded.EmbeddedServerError, match=rf"port {first.port} is already in use.*REDIS_URL"):
            embedded.EmbeddedRedis(data_dir=tmp_path / "b", port=first.port).start()
    finally:
        first.stop()


def test_missing_binary_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded.EmbeddedMongo, "binary", lambda self: tmp_path / "nowhere" / "mongod")
    with pytest.raises(embedded.EmbeddedServerError) as info:
        embedded.EmbeddedMongo(data_dir=tmp_path).start()
    message = str(info.value)
    assert "\n" not in message
    assert "is missing" in message
    assert "set MONGODB_URI" in message


def test_broken_binary_says_what_to_set(tmp_path, monkeypatch):
    broken = tmp_path / "redis-server"
    broken.write_text("#!/bin/sh\necho 'cannot execute' >&2\nexit 3\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(embedded.EmbeddedRedis, "binary", lambda self: broken)
    with pytest.raises(embedded.EmbeddedServerError, match=r"does not run.*set REDIS_URL"):
        embedded.EmbeddedRedis(data_dir=tmp_path / "data").start()


def test_start_missing_starts_only_what_is_not_configured(tmp_path):
    services, env = embedded.start_missing(
        data_dir=tmp_path, mongodb_uri="mongodb://elsewhere:27017", redis_url=None, persist=False
    )
    try:
        assert set(env) == {"REDIS_URL"}
        assert [type(server) for server in services.servers] == [embedded.EmbeddedRedis]
    finally:
        services.stop()
    assert services.servers == []


def test_a_server_left_behind_by_a_killed_run_is_stopped(tmp_path):
    orphan = embedded.EmbeddedRedis(data_dir=tmp_path).start()
    orphan_pid = orphan.proc.pid
    orphan.proc = None  # forget it, as a SIGKILLed parent would
    # Same data dir and port: without the stale-pid cleanup this start fails with "port in use".
    replacement = embedded.EmbeddedRedis(data_dir=tmp_path, port=orphan.port).start()
    try:
        assert not embedded._pid_alive(orphan_pid)
        assert replacement.ping()
    finally:
        replacement.stop()
