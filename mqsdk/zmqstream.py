"""``ZMQStream``: callbacks for a socket on a tornado IOLoop (pyzmq's
``zmq.eventloop.zmqstream``), for programs written in that style (Jupyter kernels and
their clients). Needs tornado (``pip install mqsdk[tornado]``); new code is simpler
with :mod:`mqsdk.asyncio`.

::

    stream = ZMQStream(ctx.socket(mqsdk.PULL))
    stream.connect("tcp://127.0.0.1:5555")
    stream.on_recv(lambda frames: print(frames))   # called from the IOLoop

Sends are queued and made from the loop; ``on_send`` callbacks hear about each.

mqsdk's :meth:`Socket.fileno` is level-triggered, so the stream watches it only while
there is something to do (a receive callback, or a send waiting for room): a socket
with unread messages and no callback does not keep the loop busy.
"""

from __future__ import annotations

import asyncio
import functools
import json
import pickle
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tornado.ioloop import IOLoop
from tornado.log import gen_log

from mqsdk._kernel.socket import Socket
from mqsdk.constants import NOBLOCK, POLLIN, POLLOUT
from mqsdk.errors import Again, ContextTerminated, ZMQError

__all__ = ["ZMQStream", "gen_log"]

_RECV_BURST = 64
"""Messages handled per wake-up before the loop runs other work (fairness)."""


class NotCallableError(TypeError, AssertionError):
    """A callback that is not callable. Also an AssertionError, which is what pyzmq
    raises here (it asserts), so code catching either keeps working."""


def _check_callable(callback: object) -> None:
    if callback is not None and not callable(callback):
        raise NotCallableError(f"callback must be callable or None, not {callback!r}")


class ZMQStream:
    """A socket driven by a tornado :class:`~tornado.ioloop.IOLoop` (the current one by
    default): receives go to the :meth:`on_recv` callback, sends are queued and made
    from the loop. Socket methods the stream does not define (``bind``, ``connect``,
    ``setsockopt``, ``linger``...) are the socket's."""

    socket: Socket | None

    def __init__(self, socket: Socket, io_loop: IOLoop | None = None) -> None:
        from mqsdk.asyncio import Socket as AsyncSocket

        # The stream's own I/O is always the blocking socket's, which returns frames,
        # where an asyncio socket's methods would return futures.
        self._recv_multipart: Callable[..., list[Any]] = functools.partial(
            Socket.recv_multipart, socket
        )
        self._send_multipart: Callable[..., Any] = functools.partial(Socket.send_multipart, socket)
        if isinstance(socket, AsyncSocket):
            warnings.warn(
                "ZMQStream takes a plain mqsdk.Socket; given an asyncio socket, it works "
                "on a Socket.shadow() of it and callbacks get frames, not futures",
                RuntimeWarning,
                stacklevel=2,
            )
            socket = Socket.shadow(socket)
        self.socket = socket
        self.io_loop = io_loop or IOLoop.current()
        self._fd = socket.fileno()
        self._recv_callback: Callable[[list[Any]], Any] | None = None
        self._recv_copy = True
        self._send_callback: Callable[[Sequence[Any], Any], Any] | None = None
        self._close_callback: Callable[[], Any] | None = None
        self._send_queue: deque[tuple[Sequence[Any], dict[str, Any]]] = deque()
        self._watching = False
        self._check_scheduled = False

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the stream does not define: the socket's own.
        socket = self.__dict__.get("socket")
        if socket is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(socket, name)

    # --- callbacks -----------------------------------------------------------------

    def on_recv(self, callback: Callable[[list[Any]], Any] | None, copy: bool = True) -> None:
        """Call ``callback(frames)`` from the loop for every message received (``copy=
        False``: Frames rather than bytes); None stops receiving. The callback may be a
        coroutine function."""
        self._check_closed()
        _check_callable(callback)
        self._recv_callback = callback
        self._recv_copy = copy
        self._schedule_check()

    def on_recv_stream(
        self, callback: Callable[[ZMQStream, list[Any]], Any] | None, copy: bool = True
    ) -> None:
        """Like :meth:`on_recv`, with the stream as the callback's first argument."""
        _check_callable(callback)
        if callback is None:
            self.on_recv(None)
        else:
            self.on_recv(lambda frames: callback(self, frames), copy=copy)

    def on_send(self, callback: Callable[[Sequence[Any], Any], Any] | None) -> None:
        """Call ``callback(msg, status)`` after each queued message is sent; ``status``
        is what ``send_multipart`` returned (a MessageTracker with ``track=True``) or
        the ZMQError it raised."""
        self._check_closed()
        _check_callable(callback)
        self._send_callback = callback

    def on_send_stream(
        self, callback: Callable[[ZMQStream, Sequence[Any], Any], Any] | None
    ) -> None:
        """Like :meth:`on_send`, with the stream as the callback's first argument."""
        _check_callable(callback)
        if callback is None:
            self.on_send(None)
        else:
            self.on_send(lambda msg, status: callback(self, msg, status))

    def stop_on_recv(self) -> None:
        """Stop receiving (messages stay queued in the socket)."""
        self.on_recv(None)

    def stop_on_send(self) -> None:
        """Stop calling the send callback."""
        self.on_send(None)

    def on_err(self, callback: Callable[..., Any] | None) -> None:
        """Does nothing: libzmq sockets report no error events (kept for pyzmq code)."""
        gen_log.warning("ZMQStream.on_err does nothing")

    def stop_on_err(self) -> None:
        """Does nothing (see :meth:`on_err`)."""
        gen_log.warning("ZMQStream.stop_on_err does nothing")

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` when the stream is closed."""
        self._close_callback = callback

    # --- sending -------------------------------------------------------------------

    def send_multipart(
        self,
        msg: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[Sequence[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a multipart message; the loop sends it. ``callback`` becomes the
        :meth:`on_send` callback, as in pyzmq."""
        self._check_closed()
        kwargs.update(flags=flags, copy=copy, track=track)
        self._send_queue.append((list(msg), kwargs))
        if callback is not None:
            self.on_send(callback)
        self._schedule_check()

    def send(
        self,
        msg: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[Sequence[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a single-frame message (see :meth:`send_multipart`)."""
        self.send_multipart([msg], flags, copy, track, callback, **kwargs)

    def send_string(
        self,
        u: str,
        flags: int = 0,
        encoding: str = "utf-8",
        callback: Callable[[Sequence[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``u`` encoded."""
        if not isinstance(u, str):
            raise TypeError(f"send_string takes a str, not {type(u).__name__}")
        self.send(u.encode(encoding), flags=flags, callback=callback, **kwargs)

    def send_json(
        self,
        obj: Any,
        flags: int = 0,
        callback: Callable[[Sequence[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``obj`` as JSON."""
        self.send(json.dumps(obj).encode(), flags=flags, callback=callback, **kwargs)

    def send_pyobj(
        self,
        obj: Any,
        flags: int = 0,
        protocol: int = pickle.DEFAULT_PROTOCOL,
        callback: Callable[[Sequence[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``obj`` pickled (only for peers you trust: unpickling runs code)."""
        self.send(pickle.dumps(obj, protocol), flags=flags, callback=callback, **kwargs)

    # --- state ---------------------------------------------------------------------

    def receiving(self) -> bool:
        """Whether a receive callback is set."""
        return self._recv_callback is not None

    def sending(self) -> bool:
        """Whether messages are queued to send."""
        return bool(self._send_queue)

    def closed(self) -> bool:
        """Whether the stream is closed (closing it if its socket was closed under it)."""
        socket = self.socket
        if socket is not None and socket.closed:
            self.close()  # closed through another handle: tidy up the stream too
        return self.socket is None

    def flush(self, flag: int = POLLIN | POLLOUT, limit: int | None = None) -> int:
        """Handle what is ready now, without waiting for the loop: receives (dropped if
        no callback is set) when ``flag`` has POLLIN, queued sends when it has POLLOUT,
        up to ``limit`` in all. Returns how many were handled."""
        self._check_closed()
        count = 0
        while limit is None or count < limit:
            socket = self.socket
            if socket is None:
                break  # a callback closed the stream
            events = socket.events
            if flag & POLLIN and events & POLLIN:
                self._recv_one()
            elif flag & POLLOUT and events & POLLOUT and self._send_queue:
                self._send_one()
            else:
                break
            count += 1
        self._update_watch()
        return count

    def close(self, linger: int | None = None) -> None:
        """Stop watching the socket and close it (with ``linger``, as Socket.close)."""
        socket = self.socket
        if socket is None:
            return
        if socket.closed:
            warnings.warn(
                f"ZMQStream closed after closing socket (fd {self._fd}) under it: close "
                "the stream instead, so the loop never watches an fd number that was "
                "reused by something else",
                stacklevel=2,
            )
            if self._watching:
                self.io_loop.remove_handler(self._fd)
        else:
            if self._watching:
                self.io_loop.remove_handler(self._fd)
            socket.close(linger)
        self._watching = False
        self.socket = None
        if self._close_callback is not None:
            self._run_callback(self._close_callback)

    # --- the loop's side -----------------------------------------------------------

    def _check_closed(self) -> None:
        if self.socket is None:
            raise OSError(f"{self!r} was closed: it has no socket any more")

    def _schedule_check(self) -> None:
        """Look at the socket on the loop's next turn (callbacks may change things)."""
        if not self._check_scheduled:
            self._check_scheduled = True
            self.io_loop.add_callback(self._scheduled_check)

    def _scheduled_check(self) -> None:
        self._check_scheduled = False
        self._handle_events(self._fd, 0)

    def _handle_events(self, fd: object, events: int) -> None:
        ready = self._ready_events()
        if ready is None:
            return
        for _ in range(_RECV_BURST):
            if self.socket is None:
                return
            did = False
            if ready & POLLIN and self._recv_callback is not None:
                self._recv_one()
                did = True
            if self.socket is not None and ready & POLLOUT and self._send_queue:
                self._send_one()
                did = True
            if not did or self.socket is None:
                break
            ready = self.socket.events
        self._update_watch()

    def _ready_events(self) -> int | None:
        """The socket's POLLIN/POLLOUT state, or None when the stream has no usable
        socket; a socket closed under the stream (through another handle) also closes the
        stream, so the loop stops watching an fd number the OS may hand out again."""
        socket = self.socket
        if socket is None:
            return None
        failure: ZMQError | None = None
        if not socket.closed:
            try:
                return socket.events
            except ZMQError as exc:
                failure = exc
        if self._socket_gone():
            gen_log.warning("ZMQStream %s was watching a closed socket; closed it too", self)
        elif isinstance(failure, ContextTerminated):
            gen_log.warning("ZMQStream %s: its socket's context was terminated", self)
        else:
            gen_log.error("ZMQStream %s: cannot read its socket's state: %s", self, failure)
        return None

    def _socket_gone(self) -> bool:
        """Close the stream if its socket was closed under it; whether it was."""
        socket = self.socket
        if socket is None or not socket.closed:
            return False
        self.close()
        return True

    def _recv_one(self) -> None:
        assert self.socket is not None
        try:
            frames = self._recv_multipart(NOBLOCK, copy=self._recv_copy)
        except Again:
            return
        if self._recv_callback is not None:
            self._run_callback(self._recv_callback, frames)

    def _send_one(self) -> None:
        assert self.socket is not None
        msg, kwargs = self._send_queue[0]
        options = dict(kwargs)
        options["flags"] = options.get("flags", 0) | NOBLOCK
        status: Any
        try:
            status = self._send_multipart(msg, **options)
        except Again:
            return  # no room yet: stays first in the queue; the fd says when there is
        except Exception as exc:
            # Any other failure (a ZMQError, or a TypeError for a frame that is not a
            # buffer) would fail again on every retry and hold back all the messages
            # queued behind it: drop this one and report it to the on_send callback.
            gen_log.error("ZMQStream %s: a queued message could not be sent: %s", self, exc)
            status = exc
        self._send_queue.popleft()
        if self._send_callback is not None:
            self._run_callback(self._send_callback, msg, status)

    def _update_watch(self) -> None:
        """Watch the fd exactly while something waits on it: a receive callback, or a
        queued send (the fd also wakes when room to send appears)."""
        if self.socket is None:
            return
        want = self._recv_callback is not None or bool(self._send_queue)
        if want and not self._watching:
            self.io_loop.add_handler(self.socket, self._handle_events, IOLoop.READ)
            self._watching = True
        elif not want and self._watching:
            self.io_loop.remove_handler(self._fd)
            self._watching = False
        elif want and self._send_queue and self.socket.events & POLLOUT:
            # Room to send does not always make the fd readable; send on the next turn.
            self._schedule_check()

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback; its exception is logged, not allowed to stop the loop."""
        try:
            result = callback(*args)
        except Exception:
            gen_log.error("Uncaught exception in ZMQStream callback", exc_info=True)
            return
        if isinstance(result, Awaitable):
            task = asyncio.ensure_future(result)
            task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        gen_log.error(
            "Uncaught exception in ZMQStream callback",
            exc_info=(type(exc), exc, exc.__traceback__) if exc else None,
        )
