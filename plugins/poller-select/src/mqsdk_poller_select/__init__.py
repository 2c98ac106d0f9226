"""mqsdk poller backend on ``select()``: the portable fallback, limited to FD_SETSIZE."""

from __future__ import annotations

import errno
import os
import select

from mqsdk.plugin import ERROR, READ, WRITE, PollerBackend, PollerError, check_events, hookimpl

__all__ = ["FD_SETSIZE", "SelectPoller", "mqsdk_pollers"]

FD_SETSIZE = 1024
"""select() on POSIX takes bitmaps of this many bits: larger fd numbers cannot be watched."""

_POSIX = os.name == "posix"


class SelectPoller(PollerBackend):
    """Level-triggered ``select.select``; works everywhere, for fds below FD_SETSIZE."""

    name = "select"
    priority = 10

    def __init__(self) -> None:
        self._interest: dict[int, int] = {}
        # Kept ready-made so each wait hands select() the lists without rebuilding them.
        self._readers: list[int] = []
        self._writers: list[int] = []
        # Registered fds found closed: reported once with ERROR, then left out of the
        # wait until unregistered (select() would fail with EBADF on every call).
        self._dead: set[int] = set()
        self._closed = False

    def register(self, fd: int, events: int) -> None:
        check_events(events)
        if self._closed:
            raise PollerError("select: the poller is closed")
        if not isinstance(fd, int) or fd < 0:
            raise PollerError(f"select: fd must be a non-negative int, not {fd!r}")
        if _POSIX and fd >= FD_SETSIZE:
            raise PollerError(
                f"select cannot watch fd {fd}: select() only handles fds below FD_SETSIZE "
                f"({FD_SETSIZE}); use the poll or epoll poller backend instead"
            )
        if fd in self._interest:
            raise PollerError(f"select: fd {fd} is already registered; use modify()")
        if _POSIX:
            try:
                os.fstat(fd)
            except OSError as e:
                raise PollerError(f"select cannot watch fd {fd}: {e.strerror}", e.errno) from e
        self._interest[fd] = events
        self._add(fd, events)

    def modify(self, fd: int, events: int) -> None:
        check_events(events)
        old = self._interest.get(fd)
        if old is None:
            raise PollerError(f"select: fd {fd} is not registered; use register()")
        self._interest[fd] = events
        if fd not in self._dead:
            self._remove(fd, old)
            self._add(fd, events)

    def unregister(self, fd: int) -> None:
        old = self._interest.pop(fd, None)
        if old is None:
            raise PollerError(f"select: fd {fd} is not registered")
        if fd in self._dead:
            self._dead.discard(fd)
        else:
            self._remove(fd, old)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        if self._closed:
            raise PollerError("select: the poller is closed")
        if timeout is not None and timeout < 0:
            timeout = 0
        try:
            # Python retries on EINTR itself, with the remaining timeout.
            r, w, _ = select.select(self._readers, self._writers, (), timeout)
        except OSError as e:
            if e.errno != errno.EBADF:
                raise
            return self._drop_closed(e)
        if not w:
            return [(fd, READ) for fd in r]
        if not r:
            return [(fd, WRITE) for fd in w]
        ready = dict.fromkeys(r, READ)
        for fd in w:
            ready[fd] = ready.get(fd, 0) | WRITE
        return list(ready.items())

    def _drop_closed(self, error: OSError) -> list[tuple[int, int]]:
        closed = []
        for fd in self._interest:
            if fd not in self._dead:
                try:
                    os.fstat(fd)
                except OSError:
                    closed.append(fd)
        if not closed:
            # Nothing to drop, so the next wait would fail the same way: say so, don't spin.
            raise PollerError(f"select failed: {error.strerror}", error.errno) from error
        result = []
        for fd in closed:
            events = self._interest[fd]
            self._remove(fd, events)
            self._dead.add(fd)
            result.append((fd, ERROR | events))
        # The live fds may be ready too; the caller is not made to wait for them.
        result.extend(self.poll(0))
        return result

    def _add(self, fd: int, events: int) -> None:
        if events & READ:
            self._readers.append(fd)
        if events & WRITE:
            self._writers.append(fd)

    def _remove(self, fd: int, events: int) -> None:
        if events & READ:
            self._readers.remove(fd)
        if events & WRITE:
            self._writers.remove(fd)

    def close(self) -> None:
        self._closed = True
        self._interest.clear()
        self._readers.clear()
        self._writers.clear()
        self._dead.clear()


@hookimpl
def mqsdk_pollers() -> list[type[PollerBackend]]:
    return [SelectPoller]
