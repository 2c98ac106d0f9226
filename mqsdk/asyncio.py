"""``mqsdk.asyncio``: the same Context, Socket and Poller, with awaitable I/O.

Every await first tries the operation without blocking; only if it would block does it
wait for the socket's level-triggered fd (:meth:`mqsdk.Socket.fileno`) with the running
loop's ``add_reader``. A message is taken from the socket only by a call that returns
it, so cancelling an await (or a timeout around it) never loses a message. Works with
any loop that implements ``add_reader`` (the default selector loop, uvloop).
"""

from __future__ import annotations

import asyncio
import errno
import json
import pickle
from collections.abc import AsyncIterator, Sequence
from typing import Any

import mqsdk._kernel.context
import mqsdk._kernel.polling
import mqsdk._kernel.socket
from mqsdk.constants import NOBLOCK, POLLIN, POLLOUT
from mqsdk.errors import Again, ContextTerminated, MQError
from mqsdk.monitor import Event, MonitorEvent

_POLLOUT_RECHECK = 0.005  # s, see Socket._wait_for


class Socket(mqsdk._kernel.socket.Socket):
    """A socket whose send/recv/poll are coroutines. Create it with Context.socket()."""

    __slots__ = ("_reader_loop", "_waiters")  # no __dict__: a typo'd option raises

    def __init__(self, context: mqsdk._kernel.context.Context, socket_type: int) -> None:
        super().__init__(context, socket_type)
        self._waiters: list[asyncio.Future[None]] = []
        self._reader_loop: asyncio.AbstractEventLoop | None = None

    # -- waiting ---------------------------------------------------------------------------

    def _on_fd(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        # Level-triggered: with nobody waiting, stop watching or the loop would spin.
        self._unwatch_if_idle()

    def _watch(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None]) -> None:
        """Resolve ``waiter`` when the socket's fd fires. Every waiter on this socket (a
        recv, a send, an asyncio Poller) goes through here: the loop has one reader per fd."""
        self._waiters.append(waiter)
        self._fd_wait_begin()
        if self._reader_loop is None:
            loop.add_reader(self.fileno(), self._on_fd)
            self._reader_loop = loop

    def _unwatch(self, waiter: asyncio.Future[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            waiter.cancel()
        self._unwatch_if_idle()
        self._fd_wait_end()

    def _unwatch_if_idle(self) -> None:
        loop = self._reader_loop
        if loop is not None and not self._waiters:
            ready = self._ready
            if ready is not None:
                loop.remove_reader(ready.fileno())
            self._reader_loop = None

    def _check_usable(self) -> None:
        if self.context.closed:
            raise ContextTerminated("the context was terminated")
        if self.closed:
            raise MQError("the socket was closed", errno.ENOTSOCK)

    async def _wait_for(self, wanted: int, timeout_ms: int) -> None:
        """Wait until ``events & wanted`` or raise Again after ``timeout_ms`` (-1: never)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_ms < 0 else loop.time() + timeout_ms / 1000
        # Make the fd before the first look at the state: a change that lands in between
        # then signals it, instead of happening while there was no fd to signal.
        self.fileno()
        if wanted & POLLOUT:
            self.io_policy.pollout_wait_begins()
        try:
            await self._wait_loop(loop, wanted, deadline)
        finally:
            if wanted & POLLOUT:
                self.io_policy.pollout_wait_ends()

    async def _wait_loop(
        self, loop: asyncio.AbstractEventLoop, wanted: int, deadline: float | None
    ) -> None:
        while True:
            self._check_usable()  # closed or terminated (maybe by another thread) meanwhile
            # One look per round: each look drains the fd, so a second one could swallow
            # the signal of a change that happened after the first.
            events = self.poll_events()
            if events & wanted:
                return
            if deadline is not None and loop.time() >= deadline:
                raise Again("timed out")
            waiter: asyncio.Future[None] = loop.create_future()
            self._watch(loop, waiter)
            delay = None if deadline is None else max(deadline - loop.time(), 0)
            if wanted & POLLOUT and events & POLLIN:
                # The fd is readable for a waiting message while we want room to send.
                delay = _POLLOUT_RECHECK if delay is None else min(delay, _POLLOUT_RECHECK)
            try:
                if delay is None:
                    await waiter
                else:
                    await asyncio.wait_for(asyncio.shield(waiter), delay)
            except TimeoutError:
                pass
            finally:
                self._unwatch(waiter)

    # -- I/O -------------------------------------------------------------------------------

    async def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        while True:
            try:
                return super().recv(flags | NOBLOCK, copy, track)
            except Again:
                if flags & NOBLOCK:
                    raise
            await self._wait_for(POLLIN, self.options.rcvtimeo)

    async def recv_multipart(  # type: ignore[override]
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[Any]:
        while True:
            try:
                return super().recv_multipart(flags | NOBLOCK, copy, track)
            except Again:
                if flags & NOBLOCK:
                    raise
            await self._wait_for(POLLIN, self.options.rcvtimeo)

    async def send(  # type: ignore[override]
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        group: str | bytes | None = None,
    ) -> None:
        while True:
            try:
                super().send(data, flags | NOBLOCK, copy, track, group)
                return
            except Again:
                if flags & NOBLOCK:
                    raise
            await self._wait_for(POLLOUT, self.options.sndtimeo)

    async def send_multipart(  # type: ignore[override]
        self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> None:
        while True:
            try:
                super().send_multipart(msg_parts, flags | NOBLOCK, copy, track)
                return
            except Again:
                if flags & NOBLOCK:
                    raise
            await self._wait_for(POLLOUT, self.options.sndtimeo)

    async def send_string(  # type: ignore[override]
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8"
    ) -> None:
        if not isinstance(u, str):
            raise TypeError(f"send_string takes str, not {type(u).__name__}")
        await self.send(u.encode(encoding), flags, copy)

    async def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:  # type: ignore[override]
        data = await self.recv(flags)
        return bytes(data).decode(encoding)

    # The base class's json/pyobj helpers call self.send/self.recv without awaiting them.
    async def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:  # type: ignore[override]
        await self.send(json.dumps(obj, **kwargs).encode("utf-8"), flags)

    async def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return json.loads(await self.recv(flags), **kwargs)

    async def send_pyobj(  # type: ignore[override]
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL
    ) -> None:
        """Send a pickled object. Never unpickle data from peers you do not trust."""
        await self.send(pickle.dumps(obj, protocol), flags)

    async def recv_pyobj(self, flags: int = 0) -> Any:
        """Receive and unpickle an object. Unsafe with untrusted peers: unpickling runs code."""
        return pickle.loads(await self.recv(flags))

    async def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:  # type: ignore[override]
        try:
            await self._wait_for(flags, -1 if timeout is None else timeout)
        except Again:
            return 0
        return self.poll_events() & flags

    def close(self, linger: int | None = None) -> None:
        # Waiters are not touched here: close() may run in another thread (term()), where
        # the loop's objects must not be. The base close signals the fd; each waiting
        # coroutine wakes in its loop, sees the socket closed, raises and unwatches.
        super().close(linger)


class Context(mqsdk._kernel.context.Context):
    """A context whose sockets are :class:`mqsdk.asyncio.Socket`."""

    def socket(self, socket_type: int | str) -> Socket:
        if self.closed:
            raise ContextTerminated("the context was terminated")
        return Socket(self, socket_type)  # type: ignore[arg-type]


class Poller(mqsdk._kernel.polling.Poller):
    """``await poller.poll(timeout_ms)``: waits in the event loop, never blocking it."""

    async def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None or timeout < 0 else loop.time() + timeout / 1000
        while True:
            ready = super().poll(0)
            if ready:
                return ready
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            woke: asyncio.Future[None] = loop.create_future()

            def wake(future: asyncio.Future[None] = woke) -> None:
                if not future.done():
                    future.set_result(None)

            # asyncio sockets are watched through their own waiter list (one reader per
            # fd in a loop: a second add_reader would steal a pending recv's callback).
            watched = [o for o, _ in self.sockets if isinstance(o, Socket)]
            own_fds = {o.fileno() for o in watched}
            fds = [fd for fd in self._registered if fd not in own_fds]
            for sock in watched:
                sock._watch(loop, woke)
            for fd in fds:
                loop.add_reader(fd, wake)
            writers = [
                mqsdk._kernel.polling._fd_of(obj)
                for obj, flags in self.sockets
                if not isinstance(obj, mqsdk._kernel.socket.Socket) and flags & POLLOUT
            ]
            for fd in writers:
                loop.add_writer(fd, wake)
            try:
                await asyncio.wait_for(asyncio.shield(woke), remaining)
            except TimeoutError:
                pass
            finally:
                woke.cancel()
                for sock in watched:
                    sock._unwatch(woke)
                for fd in fds:
                    loop.remove_reader(fd)
                for fd in writers:
                    loop.remove_writer(fd)


async def monitor_events(
    socket: mqsdk._kernel.socket.Socket, events: int = 0xFFFF
) -> AsyncIterator[MonitorEvent]:
    """``async for event in monitor_events(sock)``: the socket's lifecycle events, typed.

    The iteration ends after MONITOR_STOPPED (``sock.disable_monitor()`` or close).
    ``socket`` must belong to an :class:`mqsdk.asyncio.Context`.
    """
    reader = socket.get_monitor_socket(events)
    if not isinstance(reader, Socket):
        reader.close(linger=0)
        raise TypeError("monitor_events needs a socket made by an mqsdk.asyncio.Context")
    try:
        while True:
            event = MonitorEvent.decode(await reader.recv_multipart())
            yield event
            if event.event == Event.MONITOR_STOPPED:
                return
    finally:
        reader.close(linger=0)


__all__ = ["Context", "Poller", "Socket", "monitor_events"]
