"""The embedded servers: real mongod, redis-server and moto server processes."""

import importlib.util
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import redis
from pymongo import MongoClient

from cloudassist import embedded

BASE_DIR = Path(__file__).resolve().parents[2]


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


# --- the AWS emulator (moto) ---------------------------------------------------------------------


def _s3(url: str):
    return boto3.client(
        "s3", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_moto_serves_aws_apis_resets_and_stops(tmp_path):
    moto = embedded.EmbeddedMoto(data_dir=tmp_path).start()
    pid = moto.proc.pid
    try:
        assert moto.url == f"http://127.0.0.1:{moto.port}"
        assert moto.pid_file.read_text() == str(pid)
        _s3(moto.url).create_bucket(Bucket="kept-until-reset")
        assert [b["Name"] for b in _s3(moto.url).list_buckets()["Buckets"]] == ["kept-until-reset"]
        embedded.reset_emulator(moto.url)
        assert _s3(moto.url).list_buckets()["Buckets"] == []
    finally:
        proc = moto.proc
        moto.stop()
    assert proc.returncode != -signal.SIGKILL  # it stopped on SIGTERM; it did not have to be killed
    assert not embedded._pid_alive(pid)
    assert not moto.pid_file.exists()
    assert not moto.ping()


def test_moto_on_a_busy_port_is_a_one_line_error(tmp_path):
    first = embedded.EmbeddedMoto(data_dir=tmp_path / "a").start()
    try:
        with pytest.raises(embedded.EmbeddedServerError) as info:
            embedded.EmbeddedMoto(data_dir=tmp_path / "b", port=first.port).start()
    finally:
        first.stop()
    message = str(info.value)
    assert "\n" not in message
    assert f"port {first.port} is already in use" in message
    assert "AWS_ENDPOINT_URL" in message


def test_moto_missing_says_what_to_set(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        embedded.importlib.util, "find_spec", lambda name: None if name == "moto.server" else find_spec(name)
    )
    with pytest.raises(embedded.EmbeddedServerError) as info:
        embedded.EmbeddedMoto(data_dir=tmp_path).start()
    message = str(info.value)
    assert "\n" not in message
    assert "moto[server] is not installed" in message
    assert "AWS_USE_EMULATOR=false" in message


def test_moto_dies_with_the_process_that_started_it(tmp_path):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from cloudassist import embedded\n"
        "moto = embedded.EmbeddedMoto(data_dir=Path(sys.argv[1])).start()\n"
        "print(moto.proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        moto_pid = int(parent.stdout.readline())
        assert embedded._pid_alive(moto_pid)
    finally:
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait()
    deadline = time.monotonic() + 15
    while embedded._pid_alive(moto_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not embedded._pid_alive(moto_pid)


def test_a_moto_left_behind_by_a_killed_run_is_stopped(tmp_path):
    orphan = embedded.EmbeddedMoto(data_dir=tmp_path).start()
    orphan_pid = orphan.proc.pid
    orphan.proc = None  # forget it, as a SIGKILLed parent would
    replacement = embedded.EmbeddedMoto(data_dir=tmp_path, port=orphan.port).start()
    try:
        assert not embedded._pid_alive(orphan_pid)
        assert replacement.ping()
    finally:
        replacement.stop()


def test_start_missing_starts_the_emulator_when_asked_and_points_boto3_at_it(tmp_path):
    services, env = embedded.start_missing(
        data_dir=tmp_path, mongodb_uri="mongodb://elsewhere", redis_url="redis://elsewhere", aws_emulator=True
    )
    try:
        assert [type(server) for server in services.servers] == [embedded.EmbeddedMoto]
        (moto,) = services.servers
        assert env == {
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_USE_EMULATOR": "true",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        # boto3 needs nothing else: it reads the endpoint and the credentials from the environment.
        script = "import boto3; print(boto3.client('s3', region_name='us-east-1').list_buckets()['Buckets'])"
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        result = subprocess.run(
            [sys.executable, "-c", script], env={**base, **env}, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"
    finally:
        services.stop()
    assert services.servers == []
