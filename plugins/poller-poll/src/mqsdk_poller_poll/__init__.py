"""mqsdk poller backend on POSIX ``poll()``: no fd limit, O(registered fds) per wait."""

from __future__ import annotations

import os
import select
import sys
from math import ceil

from mqsdk.plugin import (
    ERROR,
    READ,
    WRITE,
    Availability,
    PollerBackend,
    PollerError,
    check_events,
    hookimpl,
)

__all__ = ["PollPoller", "mqsdk_pollers"]

_IN = getattr(select, "POLLIN", 0x001)
_OUT = getattr(select, "POLLOUT", 0x004)
_ERR = getattr(select, "POLLERR", 0x008)
_HUP = getattr(select, "POLLHUP", 0x010)
_NVAL = getattr(select, "POLLNVAL", 0x020)
_MASK = _IN | _OUT | _ERR | _HUP | _NVAL
_BAD = _ERR | _NVAL
_MAX_MS = 2**31 - 1
_MAX_S = _MAX_MS / 1000

# Interest (READ/WRITE) -> poll mask.
_TO_POLL = (0, _IN, _OUT, _IN | _OUT)

# poll mask (restricted to _MASK) -> READ/WRITE/ERROR, built once so poll() does one
# index per event. A hang-up reads as READ so the owner reads and sees EOF.
_FROM_POLL = tuple(
    (READ if ev & (_IN | _HUP) else 0)
    | (WRITE if ev & _OUT else 0)
    | (ERROR if ev & (_ERR | _NVAL) else 0)
    for ev in range(_MASK + 1)
)


class PollPoller(PollerBackend):
    """Level-triggered ``select.poll``."""

    name = "poll"
    priority = 20

    @classmethod
    def available(cls) -> Availability:
        if not hasattr(select, "poll"):
            return Availability.no(
                f"select.poll is missing: this Python on {sys.platform} has no poll() wrapper"
            )
        return Availability.yes()

    def __init__(self) -> None:
        if not (ok := self.available()):
            raise PollerError(ok.reason)
        self._p = select.poll()
        self._interest: dict[int, int] = {}
        # Registered fds found closed (POLLNVAL): reported once, then left out of the
        # wait until unregistered, or every wait would return at once and the owner spin.
        self._dead: set[int] = set()
        self._closed = False

    def register(self, fd: int, events: int) -> None:
        check_events(events)
        if self._closed:
            raise PollerError("poll: the poller is closed")
        if not isinstance(fd, int) or fd < 0:
            raise PollerError(f"poll: fd must be a non-negative int, not {fd!r}")
        if fd in self._interest:
            raise PollerError(f"poll: fd {fd} is already registered; use modify()")
        # poll() itself accepts any number; check now so a closed fd fails here, not later.
        try:
            os.fstat(fd)
        except OSError as e:
            raise PollerError(f"poll cannot watch fd {fd}: {e.strerror}", e.errno) from e
        self._p.register(fd, _TO_POLL[events])
        self._interest[fd] = events

    def modify(self, fd: int, events: int) -> None:
        check_events(events)
        if fd not in self._interest:
            raise PollerError(f"poll: fd {fd} is not registered; use register()")
        self._interest[fd] = events
        if fd not in self._dead:
            self._p.register(fd, _TO_POLL[events])

    def unregister(self, fd: int) -> None:
        if self._interest.pop(fd, None) is None:
            raise PollerError(f"poll: fd {fd} is not registered")
        if fd in self._dead:
            self._dead.discard(fd)
        else:
            self._p.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        if self._closed:
            raise PollerError("poll: the poller is closed")
        if timeout is None:
            ms = None
        elif timeout <= 0:
            ms = 0
        elif timeout < _MAX_S:
            ms = ceil(timeout * 1000)  # round up: a 0.4 ms wait must not become a busy 0
        else:
            ms = _MAX_MS  # poll() takes a C int; waking early after ~24 days is harmless
        # Python retries on EINTR itself, with the remaining timeout.
        ready = self._p.poll(ms)
        if not ready:
            return ready
        table, mask, bad = _FROM_POLL, _MASK, _BAD
        return [
            (fd, self._error(fd, ev)) if ev & bad else (fd, table[ev & mask]) for fd, ev in ready
        ]

    def _error(self, fd: int, ev: int) -> int:
        if ev & _NVAL:
            self._p.unregister(fd)
            self._dead.add(fd)
        return _FROM_POLL[ev & _MASK] | self._interest.get(fd, 0)

    def close(self) -> None:
        self._closed = True
        self._interest.clear()
        self._dead.clear()


@hookimpl
def mqsdk_pollers() -> list[type[PollerBackend]]:
    return [PollPoller]
