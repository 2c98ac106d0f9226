"""mqsdk poller backend on Linux ``epoll``: O(ready fds) per wait, the default on Linux."""

from __future__ import annotations

import select
import sys
from contextlib import suppress

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

__all__ = ["EpollPoller", "mqsdk_pollers"]

_IN = getattr(select, "EPOLLIN", 0x001)
_OUT = getattr(select, "EPOLLOUT", 0x004)
_ERR = getattr(select, "EPOLLERR", 0x008)
_HUP = getattr(select, "EPOLLHUP", 0x010)
_MASK = _IN | _OUT | _ERR | _HUP
_MAX_S = (2**31 - 1) / 1000

# Interest (READ/WRITE) -> epoll mask.
_TO_EPOLL = (0, _IN, _OUT, _IN | _OUT)

# epoll mask (restricted to _MASK) -> READ/WRITE/ERROR, built once so poll() does one
# index per event. A hang-up reads as READ so the owner reads and sees EOF.
_FROM_EPOLL = tuple(
    (READ if ev & (_IN | _HUP) else 0) | (WRITE if ev & _OUT else 0) | (ERROR if ev & _ERR else 0)
    for ev in range(_MASK + 1)
)


class EpollPoller(PollerBackend):
    """Level-triggered ``select.epoll`` (close-on-exec, as Python creates it)."""

    name = "epoll"
    priority = 40

    @classmethod
    def available(cls) -> Availability:
        if not hasattr(select, "epoll"):
            return Availability.no(
                f"select.epoll is missing: epoll is a Linux API and this OS is {sys.platform}"
            )
        return Availability.yes()

    def __init__(self) -> None:
        if not (ok := self.available()):
            raise PollerError(ok.reason)
        self._ep = select.epoll()
        self._interest: dict[int, int] = {}
        # Set when an unregister could not reach the kernel (fd already closed). If the
        # file lives on through a dup (or a forked child), epoll keeps reporting it under
        # the old number; rebuilding the epoll set before the next wait drops it.
        self._stale = False

    def register(self, fd: int, events: int) -> None:
        check_events(events)
        if not isinstance(fd, int) or fd < 0:
            raise PollerError(f"epoll: fd must be a non-negative int, not {fd!r}")
        if fd in self._interest:
            raise PollerError(f"epoll: fd {fd} is already registered; use modify()")
        try:
            self._ep.register(fd, _TO_EPOLL[events])
        except OSError as e:
            raise PollerError(f"epoll cannot watch fd {fd}: {e.strerror}", e.errno) from e
        except ValueError as e:
            raise PollerError(f"epoll: the poller is closed ({e})") from e
        self._interest[fd] = events

    def modify(self, fd: int, events: int) -> None:
        check_events(events)
        if fd not in self._interest:
            raise PollerError(f"epoll: fd {fd} is not registered; use register()")
        try:
            self._ep.modify(fd, _TO_EPOLL[events])
        except OSError as e:
            raise PollerError(f"epoll cannot modify fd {fd}: {e.strerror}", e.errno) from e
        self._interest[fd] = events

    def unregister(self, fd: int) -> None:
        if self._interest.pop(fd, None) is None:
            raise PollerError(f"epoll: fd {fd} is not registered")
        try:
            self._ep.unregister(fd)
        except OSError:
            # Closed since it was registered; the kernel may still hold its file.
            self._stale = True

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        if self._stale:
            self._rebuild()
        if timeout is None:
            timeout = -1
        elif timeout < 0:
            timeout = 0  # a deadline already past means "don't wait", never "forever"
        elif timeout > _MAX_S:
            timeout = _MAX_S  # epoll_wait takes a C int of ms; waking early is harmless
        try:
            # Python retries on EINTR itself and rounds the timeout up to whole ms.
            ready = self._ep.poll(timeout, len(self._interest) or 1)
        except ValueError as e:
            raise PollerError(f"epoll: the poller is closed ({e})") from e
        if not ready:
            return ready
        table, mask, err, interest = _FROM_EPOLL, _MASK, _ERR, self._interest
        return [
            (fd, table[ev & mask] | interest.get(fd, 0)) if ev & err else (fd, table[ev & mask])
            for fd, ev in ready
        ]

    def _rebuild(self) -> None:
        try:
            ep = select.epoll()
        except OSError:
            return  # out of fds: keep the old set and try again on the next wait
        self._ep.close()
        self._ep = ep
        self._stale = False
        for fd, events in self._interest.items():
            # One closed while registered is silently ignored until unregistered.
            with suppress(OSError):
                ep.register(fd, _TO_EPOLL[events])

    def close(self) -> None:
        self._ep.close()
        self._interest.clear()
        self._stale = False


@hookimpl
def mqsdk_pollers() -> list[type[PollerBackend]]:
    return [EpollPoller]
