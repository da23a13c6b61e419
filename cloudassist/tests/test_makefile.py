"""The Makefile's targets: listed by `make help`, `make build` produces the image's /app tree,
the target that cannot work here (artifact) fails with one clear line, and chart-check checks the Helm chart."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
TARGETS = ["setup", "clean", "lint", "test", "run", "build", "artifact", "chart-check", "bench", "help"]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str) -> subprocess.CompletedProcess:
    # The venv stamp counts as up to date, and the current interpreter's bin directory stands in for .venv/bin:
    # the tests never install anything.
    command = ["make", "--no-print-directory", "-o", ".venv/.runtime-installed", f"BIN={Path(sys.executable).parent}"]
    return subprocess.run([*command, *args], cwd=BASE_DIR, capture_output=True, text=True)


def _dockerignore() -> list[list[str]]:
    lines = (BASE_DIR / ".dockerignore").read_text().splitlines()
    return [line.strip().strip("/").split("/") for line in lines if line.strip() and not line.startswith("#")]


def _match(pattern: list[str], parts: list[str]) -> bool:
    """Docker's matching, for the patterns .dockerignore uses: `*` within a segment, `**` any segments."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[index:]) for index in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:])


def _in_docker_context(path: str, patterns: list[list[str]]) -> bool:
    parts = path.split("/")
    # A pattern that matches a directory excludes everything under it.
    return not any(_match(pattern, parts[:end]) for pattern in patterns for end in range(1, len(parts) + 1))


def test_help_lists_the_targets():
    result = _make("help")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("make ")}
    assert set(TARGETS) <= listed


def test_artifact_without_docker_fails_with_one_line():
    result = _make("artifact", "DOCKER=/nonexistent/docker")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[0].startswith("make artifact: '/nonexistent/docker' not found")
    assert "Docker engine" in result.stderr
    assert "docker build" not in result.stdout


def test_chart_check_lints_renders_and_validates_the_chart():
    result = _make("-o", ".venv/.dev-installed", "chart-check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "chart-check: OK"
    checked = [line for line in lines if "lint --strict ok" in line]
    assert {"external", "full", "existing-secret", "subcharts"} <= {line.split(":")[0].strip() for line in checked}
    assert all("valid for Kubernetes" in line for line in checked)
    assert any(line.strip().startswith("refused as expected: no secretKey") for line in lines)


def test_chart_check_fails_on_an_unknown_kubernetes_version():
    result = _make("-o", ".venv/.dev-installed", "chart-check", "KUBE_VERSION=0.1.0")
    assert result.returncode != 0
    assert "chart-check: FAILED" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the build recipe uses POSIX tools")
def test_build_produces_the_images_app_tree(tmp_path):
    build_dir = tmp_path / "cloudassist"
    result = _make("build", f"BUILD_DIR={build_dir}")
    assert result.returncode == 0, result.stdout + result.stderr
    built = {path.relative_to(build_dir).as_posix() for path in build_dir.rglob("*") if path.is_file()}
    static = {path for path in built if path.startswith("staticfiles/")}
    assert "staticfiles/admin/css/base.css.gz" in static  # collected with production (compressing) storage
    code = built - static
    assert {"manage.py", "requirements.txt", "cloudassist/asgi.py", "cloudassist/cron.py"} <= code
    assert not [path for path in code if "/tests/" in path or "__pycache__" in path or path.startswith(".env")]

    # The same tree as the Docker build context (.dockerignore), for every file git knows.
    patterns = _dockerignore()
    listed = subprocess.run(["git", "ls-files"], cwd=BASE_DIR, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = {path for path in listed.stdout.splitlines() if (BASE_DIR / path).is_file()}
    context = {path for path in tracked if _in_docker_context(path, patterns)}
    assert context == tracked & code
    assert not [path for path in code if not _in_docker_context(path, patterns)]
