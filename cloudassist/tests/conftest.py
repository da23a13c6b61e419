import os

import pytest

from cloudassist import embedded


@pytest.fixture
def serve_env(tmp_path):
    # As on a fresh machine: no servers and no AWS configured.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MONGODB_URI", "REDIS_URL") and not key.startswith("AWS_")
    }
    env.update(
        CLOUDASSIST_VAR_DIR=str(tmp_path / "var"),
        EMBEDDED_MONGO_PORT=str(embedded.free_port()),
        EMBEDDED_REDIS_PORT=str(embedded.free_port()),
        EMBEDDED_MOTO_PORT=str(embedded.free_port()),
        PORT=str(embedded.free_port()),
        WORKER_METRICS_PORT=str(embedded.free_port()),
        DEBUG="true",
        DEMO_PASSWORD="demo-pass-for-tests",
        PYTHONUNBUFFERED="1",
    )
    return env
