"""``mqsdk.Poller``: wait on mqsdk sockets and plain fds together, like ``zmq.Poller``."""

from __future__ import annotations

import errno
import time
from typing import Any

from mqsdk._kernel.poller import ERROR, READ, WRITE, PollerBackend
from mqsdk._kernel.socket import Socket
from mqsdk.constants import POLLERR, POLLIN, POLLOUT
from mqsdk.errors import ContextTerminated, MQError

_POLLOUT_RECHECK = 0.01  # s; see _wait: a socket readable for POLLIN but polled for POLLOUT


def _fd_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        raise TypeError(f"cannot poll {obj!r}: it is not an mqsdk socket, an fd or a file")
    return int(fileno())


class Poller:
    """Register sockets and fds with :meth:`register`, then :meth:`poll` (milliseconds).

    ``dict(poller.poll(1000))`` maps each ready socket, or the fd number of anything
    else registered (a file, a ``socket.socket``), to its events (POLLIN, POLLOUT,
    POLLERR), as with pyzmq. The wait is done by the configured poller backend.
    """

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []
        """What is registered: ``(socket or fd-like object, flags)`` pairs, as in pyzmq."""
        self._flags: dict[Any, int] = {}
        self._backend: PollerBackend | None = None
        self._registered: dict[int, int] = {}  # fd -> interest in the backend

    def register(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        """Watch ``socket`` (an mqsdk socket, an fd, or anything with ``fileno()``);
        ``flags=0`` stops watching it (registered or not, as in pyzmq)."""
        if not flags:
            if socket in self._flags:
                self.unregister(socket)
            return
        if isinstance(socket, Socket):
            socket.fileno()  # the socket's level-triggered readiness fd, made now
        else:
            _fd_of(socket)  # fail early on objects without an fd
        self._flags[socket] = flags
        self.sockets = list(self._flags.items())

    modify = register
    """Change what a registered object is watched for (:meth:`register` again)."""

    def unregister(self, socket: Any) -> None:
        """Stop watching ``socket``; unknown objects raise KeyError, as in pyzmq."""
        del self._flags[socket]
        self.sockets = list(self._flags.items())

    def __contains__(self, socket: Any) -> bool:
        return socket in self._flags

    def _backend_for(self) -> PollerBackend:
        if self._backend is None:
            context = next((s.context for s in self._flags if isinstance(s, Socket)), None)
            if context is not None:
                backend_class = context.poller_class
            else:
                from mqsdk._kernel.registry import get_registry

                backend_class = get_registry().choose_poller()
            self._backend = backend_class()
        return self._backend

    def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait up to ``timeout`` ms (None or negative: forever); return ready items."""
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
        backend = self._backend_for()
        # Sockets polled for POLLOUT announce a waiter before their state is first read,
        # so an engine that makes room afterwards signals their fd.
        sockets = [o for o, _ in self.sockets if isinstance(o, Socket)]
        writers = [o for o, f in self.sockets if isinstance(o, Socket) and f & POLLOUT]
        for sock in sockets:
            sock._fd_wait_begin()
        for sock in writers:
            sock.io_policy.pollout_wait_begins()
        try:
            return self._poll(backend, deadline)
        finally:
            for sock in writers:
                sock.io_policy.pollout_wait_ends()
            for sock in sockets:
                sock._fd_wait_end()

    def _poll(self, backend: PollerBackend, deadline: float | None) -> list[tuple[Any, int]]:
        first = True
        while True:
            ready: list[tuple[Any, int]] = []
            pollout_blocked = False
            for obj, flags in self.sockets:
                if isinstance(obj, Socket):
                    if obj.context.closed:
                        raise ContextTerminated("the context was terminated")
                    if obj.closed:
                        raise MQError(f"{obj!r} is closed; unregister it first", errno.ENOTSOCK)
                    if first:
                        obj._read_engines()  # what the OS already has, without waiting
                    events = obj.poll_events()
                    if events & flags:
                        ready.append((obj, events & flags))
                    elif flags & POLLOUT and events & POLLIN:
                        pollout_blocked = True
            first = False
            fds = self._sync(backend)
            wait: float | None = 0.0
            if not ready:
                wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if pollout_blocked:
                    # Its fd stays readable (a message waits) while we want POLLOUT: do not
                    # spin on it, look again shortly instead.
                    wait = _POLLOUT_RECHECK if wait is None else min(wait, _POLLOUT_RECHECK)
            fired = backend.poll(wait)
            for fd, mask in fired:
                obj = fds.get(fd)
                if obj is None or isinstance(obj, Socket):
                    continue
                flags = self._flags[obj]
                events = (POLLIN if mask & READ else 0) | (POLLOUT if mask & WRITE else 0)
                events |= POLLERR if mask & ERROR else 0
                events &= flags | POLLERR
                if events:
                    ready.append((fd, events))  # pyzmq gives the fd, not the file object
            if ready:
                return ready
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def _sync(self, backend: PollerBackend) -> dict[int, Any]:
        """Bring the backend's registrations in line; return fd -> registered object."""
        wanted: dict[int, int] = {}
        owners: dict[int, Any] = {}
        for obj, flags in self.sockets:
            if isinstance(obj, Socket):
                fd = obj.fileno()
                interest = READ
            else:
                fd = _fd_of(obj)
                interest = (READ if flags & POLLIN else 0) | (WRITE if flags & POLLOUT else 0)
                if not interest:
                    continue
            wanted[fd] = wanted.get(fd, 0) | interest
            owners[fd] = obj
        current = self._registered
        for fd in [fd for fd in current if fd not in wanted]:
            backend.unregister(fd)
            del current[fd]
        for fd, interest in wanted.items():
            if fd not in current:
                backend.register(fd, interest)
            elif current[fd] != interest:
                backend.modify(fd, interest)
            current[fd] = interest
        return owners

    def close(self) -> None:
        """Release the backend's fd (also done when the Poller is garbage collected)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self._registered.clear()

    def __del__(self) -> None:
        backend = getattr(self, "_backend", None)
        if backend is not None:
            backend.close()


def select(
    rlist: list[Any], wlist: list[Any], xlist: list[Any], timeout: float | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """``zmq.select``: like ``select.select`` for mqsdk sockets and fds (timeout in seconds)."""
    poller = Poller()
    for obj in rlist:
        poller.register(obj, POLLIN)
    for obj in wlist:
        poller.register(obj, poller._flags.get(obj, 0) | POLLOUT)
    for obj in xlist:
        poller.register(obj, poller._flags.get(obj, 0) | POLLERR)
    try:
        ready = dict(poller.poll(None if timeout is None else timeout * 1000))
    finally:
        poller.close()

    # The poller reports a file by its fd; select gives back what it was given, as
    # select.select does.
    def events(obj: Any) -> int:
        return int(ready.get(obj if isinstance(obj, Socket) else _fd_of(obj), 0))

    return (
        [o for o in rlist if events(o) & POLLIN],
        [o for o in wlist if events(o) & POLLOUT],
        [o for o in xlist if events(o) & POLLERR],
    )
