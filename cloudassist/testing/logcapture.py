"""Every log line the project would write, at DEBUG, as the console handler formats it (JSON).

    with capture_logs() as lines:
        ...                                  # requests, jobs, deliveries
    assert "secret" not in lines.text()

The root logger is at DEBUG for the block (the loggers LOGGING pins at WARNING stay there, as in
production with LOG_LEVEL=DEBUG), and the lines go through the project's ContextFilter and
JsonFormatter (extra fields included), so what is checked is what a log would hold.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from cloudassist.logs import ContextFilter, JsonFormatter


class CapturedLogs:
    def __init__(self, stream: io.StringIO):
        self._stream = stream

    def text(self) -> str:
        return self._stream.getvalue()

    def lines(self) -> list[str]:
        return self.text().splitlines()


@contextlib.contextmanager
def capture_logs() -> Iterator[CapturedLogs]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield CapturedLogs(stream)
    finally:
        root.setLevel(previous)
        root.removeHandler(handler)
