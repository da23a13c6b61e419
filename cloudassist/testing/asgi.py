"""The ASGI application served by a real uvicorn server in a thread of the test process.

Requests go over real HTTP to the same settings and test database as the test itself (use
``@pytest.mark.django_db(transaction=True)`` so the server's threads see the test's data).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from cloudassist import embedded


@contextlib.contextmanager
def running_server(*, timeout: float = 10.0) -> Iterator[str]:
    """Yield the base URL of uvicorn serving ``cloudassist.asgi.application``; stop it afterwards."""
    from cloudassist.asgi import application

    port = embedded.free_port()
    config = uvicorn.Config(
        app=application,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
