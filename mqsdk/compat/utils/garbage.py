"""``zmq.utils.garbage``: pyzmq's registry of buffers lent to libzmq without a copy.

pyzmq keeps each zero-copy buffer in ``gc.refs`` until libzmq's thread releases it.
mqsdk has no such thread: a zero-copy Frame, or a ``copy=False`` send, refers to the
buffer directly and lets it go with ordinary reference counting, so ``refs`` stays empty
(``MessageTracker`` says when a buffer is free again).
"""

from __future__ import annotations

from typing import Any


class GarbageCollector:
    """Kept for code that inspects pyzmq's collector: nothing is ever registered."""

    def __init__(self) -> None:
        self.refs: dict[int, Any] = {}

    @property
    def is_alive(self) -> bool:
        return False

    def start(self) -> None:
        """Nothing to start: no collector thread exists."""

    def stop(self) -> None:
        """Nothing to stop."""


gc = GarbageCollector()

__all__ = ["GarbageCollector", "gc"]
