"""``zmq.Stopwatch``: pyzmq's deprecated microsecond timer (``time.monotonic`` does this)."""

from __future__ import annotations

import time
import warnings

from mqsdk.errors import ZMQError


class Stopwatch:
    """``start()``, then ``stop()`` returns the microseconds elapsed."""

    def __init__(self) -> None:
        warnings.warn(
            "zmq.Stopwatch is deprecated; use time.monotonic_ns()", DeprecationWarning, stacklevel=2
        )
        self._started: int | None = None

    def start(self) -> None:
        self._started = time.monotonic_ns()

    def stop(self) -> int:
        if self._started is None:
            raise ZMQError(msg="the stopwatch was not started")
        elapsed = time.monotonic_ns() - self._started
        self._started = None
        return elapsed // 1000


__all__ = ["Stopwatch"]
