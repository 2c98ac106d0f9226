"""``mqsdk.asyncio``: the same Context, Socket and Poller, with awaitable I/O.

Every await first tries the operation without blocking; only if it would block does it
wait, and then the running loop plays the thread a blocking call would have blocked:
it watches the socket's connections itself (``add_reader``) and reads them in its own
thread, so a message that arrives while a task awaits is read, queued and the task
resumed in one pass of the loop, without the I/O thread handing it over (see
:mod:`mqsdk._asyncio_io`). A message is taken from the socket only by a call that
returns it, so cancelling an await (or a timeout around it) never loses a message.
Works with any loop that implements ``add_reader`` (the default selector loop, uvloop).
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
from mqsdk._asyncio_io import LoopIo, release_when_safe
from mqsdk.constants import NOBLOCK, POLLIN, POLLOUT
from mqsdk.errors import Again, ContextTerminated, MQError
from mqsdk.monitor import Event, MonitorEvent


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Socket(mqsdk._kernel.socket.Socket):
    """A socket whose send/recv/poll are coroutines. Create it with Context.socket()."""

    __slots__ = ("_loop_io",)  # no __dict__: a typo'd option raises

    def __init__(self, context: mqsdk._kernel.context.Context, socket_type: int) -> None:
        super().__init__(context, socket_type)
        self._loop_io: LoopIo | None = None

    @property
    def loop_counters(self) -> dict[str, int]:
        """How this socket's awaits are served: ``reads``, reads of its connections done
        by the event loop that delivered messages; ``handoffs``, wake-ups of the loop by
        another thread (a connection came or went, an inproc peer sent, room to send);
        ``connections``, the connections the loop watches now."""
        io = self._loop_io
        if io is None or io.released:
            return {"reads": 0, "handoffs": 0, "connections": 0}
        return {"reads": io.reads, "handoffs": io.handoffs, "connections": io.connections}

    # -- waiting ---------------------------------------------------------------------------

    def _loop_io_for(self, loop: asyncio.AbstractEventLoop) -> LoopIo:
        io = self._loop_io
        if io is not None and io.loop is loop and not io.released:
            return io
        if io is not None:
            # Used from another loop now (the first one stopped, maybe closed, with tasks
            # still waiting): that loop lets go, and its waiting tasks, should it run
            # again, look at the socket again.
            release_when_safe(io)
            self._loop_io = None
        try:
            io = LoopIo(self, loop)
        except OSError:
            self._check_usable()  # closed by another thread meanwhile
            raise
        self._loop_io = io
        return io

    def _watch(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None]) -> None:
        """Resolve ``waiter`` when the socket may have changed (a recv, a send, an asyncio
        Poller). Look at the socket's state after this, not before."""
        self._loop_io_for(loop).add_waiter(waiter)

    def _unwatch(self, waiter: asyncio.Future[None]) -> None:
        io = self._loop_io
        if io is not None:
            io.remove_waiter(waiter)

    def _check_usable(self) -> None:
        if self.context.closed:
            raise ContextTerminated("the context was terminated")
        if self.closed:
            raise MQError("the socket was closed", errno.ENOTSOCK)

    async def _wait_for(self, wanted: int, timeout_ms: int) -> None:
        """Wait until ``events & wanted`` or raise Again after ``timeout_ms`` (-1: never)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_ms < 0 else loop.time() + timeout_ms / 1000
        if wanted & POLLOUT:
            # Before the first look: every batch the I/O thread encodes now reports room.
            self.io_policy.pollout_wait_begins()
        try:
            while True:
                self._check_usable()  # closed or terminated (maybe by another thread)
                waiter: asyncio.Future[None] = loop.create_future()
                self._watch(loop, waiter)
                timer = None
                try:
                    if self.poll_events() & wanted:
                        return
                    if deadline is not None:
                        delay = deadline - loop.time()
                        if delay <= 0:
                            raise Again("timed out")
                        timer = loop.call_later(delay, _resolve, waiter)
                    await waiter
                    # Woken: the usual answer is that the state changed; look before
                    # making a new waiter for the next round.
                    self._check_usable()
                    if self.poll_events() & wanted:
                        return
                finally:
                    if timer is not None:
                        timer.cancel()
                    self._unwatch(waiter)
        finally:
            if wanted & POLLOUT:
                self.io_policy.pollout_wait_ends()

    # -- I/O -------------------------------------------------------------------------------

    async def _wait_for_answer(self) -> None:
        """Right after a message went out from this thread (a request), its answer cannot
        be there yet: wait for it before the first try, which would read the connections
        for nothing (a system call per round trip). The wait looks first anyway."""
        self._flush_engines()  # what this thread queued goes out before we wait
        await self._wait_for(POLLIN, self.options.rcvtimeo)

    async def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        # Inline, not a coroutine of its own: this is on every message's path.
        if (
            not flags & NOBLOCK
            and self._rmsg is None
            and self.io_policy.skip_read_before_wait(True)
        ):
            await self._wait_for_answer()
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
        # Inline, not a coroutine of its own: this is on every message's path.
        if (
            not flags & NOBLOCK
            and self._rmsg is None
            and self.io_policy.skip_read_before_wait(True)
        ):
            await self._wait_for_answer()
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
        super().close(linger)
        io = self._loop_io
        if io is not None:
            # In another thread (term()) the loop's objects must not be touched: the base
            # close signalled the waker, and the loop releases them itself; its waiting
            # tasks wake, see the socket closed and raise.
            release_when_safe(io)


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
            woke: asyncio.Future[None] = loop.create_future()
            # asyncio sockets are watched by their loop (their connections and waker);
            # other mqsdk sockets through their readiness fd; anything else by its fd.
            watched: list[Socket] = []
            writing: list[Socket] = []
            readers: set[int] = set()
            writers: set[int] = set()
            for obj, flags in self.sockets:
                if isinstance(obj, Socket):
                    if not obj.closed:  # a closed one: the look below raises
                        watched.append(obj)
                        if flags & POLLOUT:
                            writing.append(obj)
                elif isinstance(obj, mqsdk._kernel.socket.Socket):
                    readers.add(obj.fileno())
                else:
                    fd = mqsdk._kernel.polling._fd_of(obj)
                    if flags & POLLIN:
                        readers.add(fd)
                    if flags & POLLOUT:
                        writers.add(fd)
            timer = None
            for sock in writing:
                sock.io_policy.pollout_wait_begins()
            try:
                # Watch first, then look: a change made after the look wakes us.
                for sock in watched:
                    sock._watch(loop, woke)
                for fd in readers:
                    loop.add_reader(fd, _resolve, woke)
                for fd in writers:
                    loop.add_writer(fd, _resolve, woke)
                ready = super().poll(0)
                if ready:
                    return ready
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return []
                    timer = loop.call_later(remaining, _resolve, woke)
                await woke
            finally:
                if timer is not None:
                    timer.cancel()
                for sock in watched:
                    sock._unwatch(woke)
                for fd in readers:
                    loop.remove_reader(fd)
                for fd in writers:
                    loop.remove_writer(fd)
                for sock in writing:
                    sock.io_policy.pollout_wait_ends()


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
