"""mqsdk poller backend on BSD/macOS ``kqueue``: O(ready fds) per wait, the default there."""

from __future__ import annotations

import select
import sys
from contextlib import suppress
from typing import Any

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

__all__ = ["KqueuePoller", "mqsdk_pollers"]

# typeshed declares the kqueue API only for BSD/macOS; reading it through getattr keeps
# this module importable and type-checkable on every OS (available() says no elsewhere).
_kqueue: Any = getattr(select, "kqueue", None)
_kevent: Any = getattr(select, "kevent", None)
_FILTER_READ: int = getattr(select, "KQ_FILTER_READ", -1)
_FILTER_WRITE: int = getattr(select, "KQ_FILTER_WRITE", -2)
_EV_ADD: int = getattr(select, "KQ_EV_ADD", 0x1)
_EV_DELETE: int = getattr(select, "KQ_EV_DELETE", 0x2)
_EV_EOF: int = getattr(select, "KQ_EV_EOF", 0x8000)
_EV_ERROR: int = getattr(select, "KQ_EV_ERROR", 0x4000)

# Interest (READ/WRITE) -> number of kernel filters it takes.
_NFILTERS = (0, 1, 1, 2)


class KqueuePoller(PollerBackend):
    """Level-triggered ``select.kqueue``: one read and/or one write filter per fd."""

    name = "kqueue"
    priority = 30

    @classmethod
    def available(cls) -> Availability:
        if _kqueue is None:
            return Availability.no(
                f"select.kqueue is missing: kqueue is a BSD/macOS API and this OS is {sys.platform}"
            )
        return Availability.yes()

    def __init__(self) -> None:
        if not (ok := self.available()):
            raise PollerError(ok.reason)
        self._kq: Any = _kqueue()
        self._interest: dict[int, int] = {}
        self._filters = 0  # kernel filters in place: each can yield one event per wait

    def register(self, fd: int, events: int) -> None:
        check_events(events)
        if not isinstance(fd, int) or fd < 0:
            raise PollerError(f"kqueue: fd must be a non-negative int, not {fd!r}")
        if fd in self._interest:
            raise PollerError(f"kqueue: fd {fd} is already registered; use modify()")
        self._change(fd, events, _EV_ADD, "watch")
        self._interest[fd] = events
        self._filters += _NFILTERS[events]

    def modify(self, fd: int, events: int) -> None:
        check_events(events)
        old = self._interest.get(fd)
        if old is None:
            raise PollerError(f"kqueue: fd {fd} is not registered; use register()")
        # Add first: if the fd is gone this fails before anything changed.
        if events & ~old:
            self._change(fd, events & ~old, _EV_ADD, "modify")
        if old & ~events:
            self._change(fd, old & ~events, _EV_DELETE, "modify")
        self._interest[fd] = events
        self._filters += _NFILTERS[events]
        self._filters -= _NFILTERS[old]

    def unregister(self, fd: int) -> None:
        old = self._interest.pop(fd, None)
        if old is None:
            raise PollerError(f"kqueue: fd {fd} is not registered")
        self._filters -= _NFILTERS[old]
        with suppress(PollerError):  # closing the fd already removed its filters
            self._change(fd, old, _EV_DELETE, "unregister")

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        if timeout is not None and timeout < 0:
            timeout = 0
        try:
            # Python retries on EINTR itself, with the remaining timeout.
            kevents = self._kq.control(None, self._filters or 1, timeout)
        except ValueError as e:
            raise PollerError(f"kqueue: the poller is closed ({e})") from e
        if not kevents:
            return []
        ready: dict[int, int] = {}
        interest = self._interest
        for kev in kevents:
            fd = kev.ident
            flags = kev.flags
            if flags & _EV_ERROR:
                ev = ERROR | interest.get(fd, 0)
            elif kev.filter == _FILTER_READ:
                ev = READ  # EV_EOF here is a hang-up: reading sees it
            elif flags & _EV_EOF:
                ev = ERROR | interest.get(fd, 0)  # no reader left: writing fails, as POLLERR
            else:
                ev = WRITE
            ready[fd] = ready.get(fd, 0) | ev
        return list(ready.items())

    def _change(self, fd: int, events: int, action: int, what: str) -> None:
        changes = []
        if events & READ:
            changes.append(_kevent(fd, _FILTER_READ, action))
        if events & WRITE:
            changes.append(_kevent(fd, _FILTER_WRITE, action))
        try:
            self._kq.control(changes, 0, 0)
        except OSError as e:
            raise PollerError(f"kqueue cannot {what} fd {fd}: {e.strerror}", e.errno) from e
        except ValueError as e:
            raise PollerError(f"kqueue: the poller is closed ({e})") from e

    def close(self) -> None:
        self._kq.close()
        self._interest.clear()
        self._filters = 0


@hookimpl
def mqsdk_pollers() -> list[type[PollerBackend]]:
    return [KqueuePoller]
