"""``zmq.eventloop.future``: pyzmq's future-returning sockets for tornado.

Tornado runs on asyncio (tornado 5 and later), and its futures are asyncio's, so these
are :mod:`mqsdk.asyncio`'s Context, Socket and Poller. What differs from pyzmq's: a
cancelled future raises :class:`asyncio.CancelledError` (``CancelledError`` here is
that class), where pyzmq's tornado futures held an exception of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from tornado.ioloop import IOLoop

import mqsdk.asyncio

CancelledError = asyncio.CancelledError


def _no_events(fd: Any, events: int) -> None:
    """Registered for no events: never called."""


class Socket(mqsdk.asyncio.Socket):
    """:class:`mqsdk.asyncio.Socket`, known to the tornado IOLoop it was used in, so
    ``IOLoop.close(all_fds=True)`` closes it, as pyzmq's does."""

    __slots__ = ("_tornado_fd", "_tornado_loop")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tornado_loop: IOLoop | None = None
        self._tornado_fd = -1

    def _get_loop(self) -> IOLoop:
        """The current IOLoop; the socket is registered with it (for no events: the
        socket's own futures do the waiting), which is what ``close(all_fds=True)``
        closes."""
        loop = IOLoop.current()
        if self._tornado_loop is not loop:
            self._forget_tornado_loop()
            fd = self.fileno()
            loop.add_handler(self, _no_events, 0)
            self._tornado_loop, self._tornado_fd = loop, fd
        return loop

    def _forget_tornado_loop(self) -> None:
        loop, self._tornado_loop = self._tornado_loop, None
        if loop is not None:
            # By number: the socket may be closed, and its fileno() gone. The loop may be
            # closed too (a closed loop has forgotten its handlers already).
            with contextlib.suppress(Exception):
                loop.remove_handler(self._tornado_fd)

    def close(self, linger: int | None = None) -> None:
        if self._tornado_loop is not None and not self.closed:
            self._forget_tornado_loop()
        super().close(linger)


class Poller(mqsdk.asyncio.Poller):
    """:class:`mqsdk.asyncio.Poller`: ``poll()`` returns a future."""


class Context(mqsdk.asyncio.Context):
    """A context whose sockets are :class:`Socket` (its own ``instance()``)."""

    _instance: ClassVar[mqsdk.asyncio.Context | None] = None
    _socket_class = Socket

    def __init__(self, *args: Any, io_loop: Any = None, **kwargs: Any) -> None:
        # pyzmq's io_loop argument is deprecated and ignored there too.
        super().__init__(*args, **kwargs)


__all__ = ["CancelledError", "Context", "Poller", "Socket"]
