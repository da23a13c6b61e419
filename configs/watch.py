"""Change notifications for the long-poll watch. ``changed(name, version)`` is called after a
write has committed; the watch view waits for it (see configs/api/watch.py)."""

from __future__ import annotations


def changed(name: str, version: int) -> None:
    """Announce that ``name`` is now at ``version`` (best effort; waiters also poll)."""
    return None
