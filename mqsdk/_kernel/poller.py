"""The poller backend interface: readiness of file descriptors, nothing else.

A backend wraps one OS readiness API (epoll, kqueue, poll, select). The reactor owns one
backend instance and is the only thread that calls it, so backends need no locking.

Contract every backend keeps (the shared conformance suite checks each point):

- ``register(fd, events)`` watches ``fd`` for ``events`` (a non-empty mask of
  :data:`READ` and :data:`WRITE`). Registering an fd that is already registered raises
  :class:`~mqsdk.errors.PollerError`; registering an invalid (closed) fd raises
  :class:`~mqsdk.errors.PollerError` too, with the OS reason.
- ``modify(fd, events)`` replaces the interest set of a registered fd; an unknown fd
  raises :class:`~mqsdk.errors.PollerError`.
- ``unregister(fd)`` stops watching; an unknown fd raises :class:`~mqsdk.errors.PollerError`.
  It succeeds even when the fd was closed after it was registered.
- ``poll(timeout)`` waits at most ``timeout`` seconds (``None``: until something is
  ready; ``0``: do not wait) and returns ``[(fd, events), ...]`` for every ready fd.
  It is level-triggered: an fd that stays ready is reported again on the next call.
  A hang-up is reported as :data:`READ` (so the owner reads and sees EOF); an error
  condition as :data:`ERROR` together with the fd's registered interest. A registered
  fd that was closed without being unregistered never makes ``poll`` raise or hang: it
  is reported with :data:`ERROR` or silently ignored, depending on the OS API.
  An interrupted wait (EINTR) returns an empty list or the ready fds, never raises.
- ``close()`` releases the backend's own OS resources; it is idempotent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar

from mqsdk._kernel.component import Component
from mqsdk.errors import PollerError

READ = 1
"""Interest in / readiness for reading (same value as ``mqsdk.POLLIN``)."""
WRITE = 2
"""Interest in / readiness for writing (same value as ``mqsdk.POLLOUT``)."""
ERROR = 4
"""An error condition on the fd (same value as ``mqsdk.POLLERR``); only ever reported."""


class PollerBackend(Component, ABC):
    """One OS readiness API. Subclasses set ``name`` and ``priority``.

    ``priority`` orders backends for ``poller = "auto"``: the available backend with the
    highest priority wins (bundled: epoll 40, kqueue 30, poll 20, select 10). A
    third-party backend that should never be picked automatically keeps 0 or less.
    """

    kind: ClassVar[str] = "poller"
    priority: ClassVar[int] = 0
    """Higher wins when the configuration says ``poller = "auto"`` (see above)."""

    @abstractmethod
    def register(self, fd: int, events: int) -> None:
        """Start watching ``fd`` for ``events`` (READ, WRITE or both)."""

    @abstractmethod
    def modify(self, fd: int, events: int) -> None:
        """Replace the interest set of an already registered ``fd``."""

    @abstractmethod
    def unregister(self, fd: int) -> None:
        """Stop watching ``fd``; works even if ``fd`` was closed meanwhile."""

    @abstractmethod
    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds; return ``(fd, events)`` for each ready fd."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's OS resources. Idempotent."""

    def __enter__(self) -> PollerBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_events(events: int) -> None:
    """Raise PollerError unless ``events`` is a non-empty mask of READ and WRITE."""
    if not isinstance(events, int) or events & ~(READ | WRITE) or not events:
        raise PollerError(f"poller interest must be READ, WRITE or both, not {events!r}")
