"""Report the messages a socket dropped by design to ``mqsdk_messages_dropped`` observers.

The patterns and transports count each drop where it happens with one integer increment
in ``socket.stats`` (libzmq drops silently and reports nothing per message). This module
turns those counters into hook calls off the per-message path: the I/O thread compares
the counters with what it last reported, about once a second while observers exist, and
once more when the socket closes, and calls the hook with the difference.

Threads: :meth:`DropReporter.report` runs in the I/O thread (its timer) or in the thread
that closes the socket; a lock keeps the two from reporting the same drops twice.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqsdk._kernel.core import SocketCore
    from mqsdk._kernel.reactor import TimerHandle

__all__ = ["DROP_COUNTERS", "REPORT_INTERVAL", "DropReporter"]

REPORT_INTERVAL = 1.0
"""Seconds between two reports of a socket that keeps dropping."""

DROP_COUNTERS: dict[str, str] = {
    "dropped_hwm": "hwm",  # PUB, XPUB, RADIO (and udp's full OS buffer) at a full peer
    "hwm_dropped": "hwm",  # ROUTER to a peer at SNDHWM, router_mandatory unset
    "unroutable": "unroutable",  # ROUTER to an unknown routing id, router_mandatory unset
    "dropped_malformed": "malformed",  # udp datagrams that are not a valid message
}
"""``socket.stats`` key -> the ``reason`` the hook is called with."""

_HOOK = "mqsdk_messages_dropped"


class DropReporter:
    """Turns one socket's drop counters into batched ``mqsdk_messages_dropped`` calls."""

    __slots__ = ("_closed", "_lock", "_reported", "_socket", "_timer")

    def __init__(self, socket: SocketCore) -> None:
        # Weak: the timer must not keep a socket alive that its user let go of.
        self._socket = weakref.ref(socket)
        self._reported: dict[str, int] = {}
        self._lock = threading.Lock()
        self._timer: TimerHandle | None = None
        self._closed = False
        # Only a process with an observer pays for the periodic timer; an observer
        # registered later still gets the final report when the socket closes.
        if socket.context.registry.manager.hook.mqsdk_messages_dropped.get_hookimpls():
            self._timer = socket.reactor.call_later(REPORT_INTERVAL, self._tick)

    def _tick(self) -> None:
        self.report()
        socket = self._socket()
        with self._lock:
            # Under the lock: a close() between the report and here must not be
            # followed by a new timer that would tick for the socket's whole life.
            if socket is not None and not self._closed:
                self._timer = socket.reactor.call_later(REPORT_INTERVAL, self._tick)

    def report(self) -> None:
        """Call the hook once per reason whose counters grew since the last report."""
        socket = self._socket()
        if socket is None:
            return
        with self._lock:
            grown: dict[str, int] = {}
            stats = socket.stats
            for key, reason in DROP_COUNTERS.items():
                count = stats.get(key, 0)
                delta = count - self._reported.get(key, 0)
                if delta > 0:
                    self._reported[key] = count
                    grown[reason] = grown.get(reason, 0) + delta
        notify = socket.context.registry.notify
        for reason, count in grown.items():
            notify(_HOOK, socket=socket, reason=reason, count=count)

    def close(self) -> None:
        """Stop the timer and report what is left (the socket is closing)."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.report()
