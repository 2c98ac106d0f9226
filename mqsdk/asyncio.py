"""``mqsdk.asyncio``: the same Context, Socket and Poller, with I/O that returns futures.

As in pyzmq, ``send``, ``recv``, ``poll`` and the other I/O methods return an
:class:`asyncio.Future` at once: the operation is under way from the call (``rcvtimeo``
and ``sndtimeo`` are read then), so ``.done()``, ``.cancel()``, ``.result()`` and
``asyncio.wait([sock.recv(), ...])`` work, and several receives wait in the order they
were made. The futures are awaitable as coroutines were; ``asyncio.ensure_future`` (not
``create_task``) makes a task of one.

An operation that can complete at once does, so its future is returned done. Otherwise
it waits in the socket's queue, and the running loop plays the thread a blocking call
would have blocked: it watches the socket's connections itself (``add_reader``) and
reads them in its own thread, so a message that arrives is read, queued and given to
the first waiting receive in one pass of the loop, without the I/O thread handing it
over. A message is taken from the socket only for a
receive that is still waiting, and a task cancelled just after its receive got a
message is handed the message, and the cancellation at its next await (see
:class:`IoFuture`), so cancelling never loses a message. Closing the socket cancels
what still waits.
Works with any loop that implements ``add_reader`` (the default selector loop, uvloop).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import functools
import json
import pickle
import warnings
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any, ClassVar, TypeVar, cast

import mqsdk._kernel.context
import mqsdk._kernel.polling
import mqsdk._kernel.socket
from mqsdk._asyncio_io import LoopIo, release_when_safe
from mqsdk._kernel.polling import _fd_of
from mqsdk.constants import NOBLOCK, POLLIN, POLLOUT
from mqsdk.errors import Again, ContextTerminated, MQError
from mqsdk.monitor import Event, MonitorEvent

_T = TypeVar("_T")
_get_running_loop = asyncio._get_running_loop  # None, not an error, outside a loop
_Future = asyncio.Future
_BaseSocket = mqsdk._kernel.socket.Socket


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class IoFuture(asyncio.Future[_T]):
    """The future an I/O method returns: an :class:`asyncio.Future` whose ``await``
    keeps a result it already has when the awaiting task is cancelled.

    A plain future's awaiter, cancelled between the moment the future got its result
    and the moment the task resumes, drops the result: for a receive, a message taken
    from the socket and lost. Here the await returns the result instead, and the
    cancellation is delivered again at the task's next await, unless it was taken back
    meanwhile (an ``asyncio.timeout`` whose block completed with the result)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, _T]:
        if self.done():
            # Nothing to wait for, so no cancellation can come between: the plain
            # future's own (faster) iteration gives the result.
            return super().__await__()
        return self  # type: ignore[return-value]

    __iter__ = __await__

    def __next__(self) -> Any:
        if not self.done():
            self._asyncio_future_blocking = True
            return self
        raise StopIteration(self.result())

    def send(self, value: object) -> Any:
        """The generator protocol of ``await`` (the event loop calls it, not you)."""
        return self.__next__()

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """The generator protocol of ``await``: a cancellation arriving after the result
        returns the result and cancels the task again at its next await."""
        exc = typ if isinstance(typ, BaseException) else (typ() if val is None else val)
        if isinstance(exc, asyncio.CancelledError):
            if self.done() and not self.cancelled() and self.exception() is None:
                task = asyncio.current_task()
                if task is not None:
                    self.get_loop().call_soon(
                        _cancel_again, task, task.cancelling(), exc.args[0] if exc.args else None
                    )
                raise StopIteration(self.result())
            self.cancel()  # the awaiter gives up: nothing may be taken for it any more
        raise exc


def _completed(
    loop: asyncio.AbstractEventLoop, result: Any = None, exception: BaseException | None = None
) -> asyncio.Future[Any]:
    """A future done at once. A plain one: with nothing to wait for, no cancellation can
    come between its result and its awaiter (and the C future is faster to await)."""
    future: asyncio.Future[Any] = _Future(loop=loop)
    if exception is None:
        future.set_result(result)
    else:
        future.set_exception(exception)
    return future


def _cancel_again(task: asyncio.Task[Any], requested: int, message: Any) -> None:
    """A cancellation an await answered with its result is still wanted (nothing
    called ``uncancel()`` since): the task gets it at its next await."""
    if not task.done() and task.cancelling() >= requested:
        task.uncancel()  # the count stays that of the cancel() calls made
        task.cancel(message)


def _settle(future: asyncio.Future[Any], attempt: Callable[..., Any], *args: Any) -> bool:
    """Run a non-blocking ``attempt(*args)`` for ``future``; False if it would block."""
    try:
        result = attempt(*args)
    except Again:
        return False
    except Exception as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)
    return True


def _time_out(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(Again("timed out (rcvtimeo/sndtimeo)"))


class _Waiting:
    """A send or receive waiting in a socket's queue."""

    __slots__ = ("attempt", "future", "timer")

    def __init__(self, future: IoFuture[Any], attempt: Callable[[], Any]) -> None:
        self.future = future
        self.attempt = attempt  # the non-blocking operation; raises Again if it would block
        self.timer: asyncio.TimerHandle | None = None


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "mqsdk.asyncio sockets are used from a coroutine (their I/O methods return "
            "futures of the running event loop), and no loop is running"
        ) from None


class Socket(mqsdk._kernel.socket.Socket):
    """A socket whose I/O methods return futures. Create it with Context.socket()."""

    # No __dict__: a typo'd option raises.
    __slots__ = (
        "_loop_io",
        "_poll_futures",
        "_pollout_waiting",
        "_pump",
        "_recv_futures",
        "_send_futures",
    )

    def __init__(
        self,
        context: mqsdk._kernel.context.Context,
        socket_type: int | str,
        *,
        io_loop: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(context, socket_type, **kwargs)
        if io_loop is not None:
            warnings.warn(
                "Socket(io_loop=) is ignored, as in pyzmq: each operation uses the running loop",
                DeprecationWarning,
                stacklevel=2,
            )
        self._loop_io: LoopIo | None = None
        # The operations waiting, oldest first (pyzmq's names: code written for it looks).
        self._recv_futures: collections.deque[_Waiting] = collections.deque()
        self._send_futures: collections.deque[_Waiting] = collections.deque()
        self._poll_futures: list[tuple[IoFuture[int], int]] = []
        self._pump: asyncio.Future[None] | None = None  # resolved when the socket may have changed
        self._pollout_waiting = False

    def _core(self) -> mqsdk._kernel.socket.Socket:
        """The socket the I/O goes to: this one, or the blocking socket an asyncio
        handle made by :meth:`shadow` stands for."""
        return self

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
            # Used from another loop now (the first one stopped, maybe closed, with
            # operations still waiting): that loop lets go of the socket.
            release_when_safe(io)
            self._loop_io = None
        try:
            io = LoopIo(self._core(), loop)
        except OSError:
            self._check_usable()  # closed by another thread meanwhile
            raise
        self._loop_io = io
        return io

    def _watch(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None]) -> None:
        """Resolve ``waiter`` when the socket may have changed (the socket's own queue,
        an asyncio Poller). Look at the socket's state after this, not before."""
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

    def _pending_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop of the operations waiting (or of the watch), if any."""
        if self._pump is not None:
            return self._pump.get_loop()
        for waiting in (*self._recv_futures, *self._send_futures):
            return waiting.future.get_loop()
        for future, _flags in self._poll_futures:
            return future.get_loop()
        return None

    def _waiting(self) -> bool:
        return bool(self._recv_futures or self._send_futures or self._poll_futures)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have the loop service the queues when the socket may have changed."""
        pump = self._pump
        if pump is not None and not pump.done() and pump.get_loop() is loop:
            return
        self._disarm()
        waiter: asyncio.Future[None] = loop.create_future()
        self._watch(loop, waiter)
        self._pump = waiter
        waiter.add_done_callback(self._pumped)
        # Watching from now on; what changed before is seen by looking now.
        wanted = POLLIN if self._recv_futures else 0
        if self._send_futures:
            wanted |= POLLOUT
        for _future, flags in self._poll_futures:
            wanted |= flags
        if self.poll_events() & wanted:
            waiter.set_result(None)

    def _disarm(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.remove_done_callback(self._pumped)
            # Cancels it; its loop may be closed (RuntimeError), and has nothing to run then.
            with contextlib.suppress(RuntimeError):
                self._unwatch(pump)

    def _on_loop_wake(self, io: LoopIo) -> None:
        """Called by this socket's LoopIo once it resolved its waiters: the pump's done
        callback would run in the next pass of the loop, so serve the queues now."""
        pump = self._pump
        if pump is None or not pump.done() or io is not self._loop_io:
            return
        self._pump = None  # its done callback, already scheduled, sees it is not current
        self._unwatch(pump)
        if not pump.cancelled():
            self._service(pump.get_loop())

    def _pumped(self, waiter: asyncio.Future[None]) -> None:
        if self._pump is not waiter:
            return
        self._pump = None
        self._unwatch(waiter)
        if not waiter.cancelled():
            self._service(waiter.get_loop())

    def _service(self, loop: asyncio.AbstractEventLoop) -> None:
        """Complete what can be completed now, oldest first; watch again for the rest."""
        if self.closed or self.context.closed:
            self._abandon()
            return
        for queue in (self._recv_futures, self._send_futures):
            while queue:
                waiting = queue[0]
                if not waiting.future.done() and not _settle(waiting.future, waiting.attempt):
                    break  # would block: the rest wait behind it
                queue.popleft()
                if waiting.timer is not None:
                    waiting.timer.cancel()
        if self._poll_futures:
            events = self.poll_events()
            still = []
            for future, flags in self._poll_futures:
                if future.done():
                    continue
                if events & flags:
                    future.set_result(events & flags)
                else:
                    still.append((future, flags))
            self._poll_futures = still
        self._update_pollout()
        if self._waiting():
            self._arm(loop)

    def _update_pollout(self) -> None:
        """While a send (or a poll for POLLOUT) waits, every batch the I/O thread
        encodes reports room (see IoPolicy.pollout_wait_begins)."""
        wanted = bool(self._send_futures) or any(f & POLLOUT for _, f in self._poll_futures)
        if wanted != self._pollout_waiting:
            self._pollout_waiting = wanted
            if wanted:
                self.io_policy.pollout_wait_begins()
            else:
                self.io_policy.pollout_wait_ends()

    def _forget(self, queue: collections.deque[_Waiting], waiting: _Waiting, _: object) -> None:
        """A queued operation completed, timed out or was cancelled: out of the queue."""
        if waiting.timer is not None:
            waiting.timer.cancel()
        try:
            queue.remove(waiting)
        except ValueError:
            return  # completed by _service, which took it out
        self._after_forget()

    def _forget_poll(self, future: asyncio.Future[int]) -> None:
        self._poll_futures = [(f, flags) for f, flags in self._poll_futures if f is not future]
        self._after_forget()

    def _after_forget(self) -> None:
        self._update_pollout()
        if not self._waiting():
            # Nothing waits: the loop stops watching, and the I/O thread reads again.
            self._disarm()

    def _abandon(self) -> None:
        """The socket was closed: what waits is cancelled, as pyzmq's close() does; or
        its context terminated: what waits raises ContextTerminated (libzmq's ETERM)."""
        self._disarm()
        waiting = [w.future for w in (*self._recv_futures, *self._send_futures)]
        waiting += [future for future, _flags in self._poll_futures]
        self._recv_futures.clear()
        self._send_futures.clear()
        self._poll_futures = []
        self._update_pollout()
        terminated = self.context.closed
        for future in waiting:
            if future.done():
                continue
            # A future of a closed loop raises RuntimeError: nobody can await it any more.
            with contextlib.suppress(RuntimeError):
                if terminated:
                    future.set_exception(ContextTerminated("the context was terminated"))
                else:
                    future.cancel()

    def _enqueue(
        self,
        queue: collections.deque[_Waiting],
        loop: asyncio.AbstractEventLoop,
        future: IoFuture[Any],
        attempt: Callable[[], Any],
        timeout_ms: int,
    ) -> IoFuture[Any]:
        waiting = _Waiting(future, attempt)
        if timeout_ms >= 0:
            waiting.timer = loop.call_later(timeout_ms / 1000, _time_out, future)
        queue.append(waiting)
        future.add_done_callback(functools.partial(self._forget, queue, waiting))
        self._update_pollout()
        self._arm(loop)
        return future

    # -- I/O -------------------------------------------------------------------------------

    def _loop_for_new_operation(self) -> asyncio.AbstractEventLoop:
        """The running loop. Operations still waiting in another loop that has stopped
        are cancelled: nothing would ever see their results, and the messages they
        would take belong to this loop's operations now."""
        loop = _get_running_loop()
        if loop is None:
            loop = _running_loop()  # raises, saying what is wrong
        pump = self._pump  # set whenever operations wait
        if pump is not None:
            other = pump.get_loop()
            if other is not loop and not other.is_running():
                self._abandon()
        return loop

    def _add_recv(self, flags: int, attempt: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """A future of ``attempt(*args)``, a non-blocking receive (Again if it would block)."""
        loop = _get_running_loop()
        if loop is None or self._pump is not None:
            loop = self._loop_for_new_operation()
        blocking = not flags & NOBLOCK and not self.closed
        if blocking and self._recv_futures:
            pass  # earlier receives are served first
        elif blocking and self._rmsg is None and self.io_policy.skip_read_before_wait(True):
            # Right after a message went out from this thread (a request), its answer
            # cannot be there yet: wait for it without reading the connections for
            # nothing (a system call per round trip). The wait looks first anyway.
            self._flush_engines()
        else:
            # Inline, not _settle(): this is on every message's path.
            try:
                result = attempt(*args)
            except Again:
                if not blocking:
                    return _completed(loop, exception=Again("no message is waiting"))
            except Exception as exc:
                return _completed(loop, exception=exc)
            else:
                return _completed(loop, result)
        return self._wait_to_recv(loop, functools.partial(attempt, *args))

    def _wait_to_recv(
        self, loop: asyncio.AbstractEventLoop, attempt: Callable[[], Any]
    ) -> asyncio.Future[Any]:
        """A receive that cannot complete now waits, behind those already waiting."""
        return self._enqueue(
            self._recv_futures, loop, IoFuture(loop=loop), attempt, self.options.rcvtimeo
        )

    def _wait_to_send(
        self, loop: asyncio.AbstractEventLoop, attempt: Callable[[], Any]
    ) -> asyncio.Future[Any]:
        """A send that cannot complete now waits, behind those already waiting."""
        return self._enqueue(
            self._send_futures, loop, IoFuture(loop=loop), attempt, self.options.sndtimeo
        )

    def _add_send(self, flags: int, attempt: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """A future of ``attempt(*args)``, a non-blocking send (Again if it would block)."""
        loop = _get_running_loop()
        if loop is None or self._pump is not None:
            loop = self._loop_for_new_operation()
        if not self._send_futures or flags & NOBLOCK or self.closed:
            # Inline, not _settle(): this is on every message's path.
            try:
                result = attempt(*args)
            except Again:
                if flags & NOBLOCK:
                    return _completed(loop, exception=Again("the message cannot be queued now"))
            except Exception as exc:
                return _completed(loop, exception=exc)
            else:
                return _completed(loop, result)
        return self._wait_to_send(loop, functools.partial(attempt, *args))

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> asyncio.Future[Any]:
        """A future of the next frame (``copy=False``: a :class:`~mqsdk.Frame`); await
        it. With ``DONTWAIT`` the future fails with :class:`~mqsdk.Again` when no
        message is waiting; otherwise it completes when one arrives (``rcvtimeo``
        bounds the wait: Again after it). Cancelling the future takes nothing."""
        loop = _get_running_loop()
        if loop is None or self._pump is not None:  # operations wait: behind them
            return self._add_recv(
                flags, _BaseSocket.recv, self._core(), flags | NOBLOCK, copy, track
            )
        # _add_recv's steps inline, on every message's path: each call saved is a few
        # percent of an asyncio receive.
        core = self._core()
        if (
            not flags & NOBLOCK
            and core._rmsg is None
            and core.io_policy.skip_read_before_wait(True)
            and not core.closed
        ):
            core._flush_engines()  # a request just went out: its answer is not here yet
            return self._wait_to_recv(
                loop, functools.partial(_BaseSocket.recv, core, flags | NOBLOCK, copy, track)
            )
        future: asyncio.Future[Any] = _Future(loop=loop)
        try:
            future.set_result(_BaseSocket.recv(core, flags | NOBLOCK, copy, track))
        except Again:
            if not flags & NOBLOCK:
                return self._wait_to_recv(
                    loop, functools.partial(_BaseSocket.recv, core, flags | NOBLOCK, copy, track)
                )
            future.set_exception(Again("no message is waiting"))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def recv_multipart(  # type: ignore[override]
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> asyncio.Future[list[Any]]:
        """A future of every frame of the next message; as :meth:`recv` for the rest."""
        return self._add_recv(
            flags, _BaseSocket.recv_multipart, self._core(), flags | NOBLOCK, copy, track
        )

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> asyncio.Future[int]:  # type: ignore[override]
        """Receive one frame into ``buffer`` (at most ``nbytes`` bytes, 0: its size);
        the future's result is the frame's full length, larger if it was truncated."""
        # The blocking socket's checks and errors (pyzmq's: BufferError for a read-only
        # or scattered buffer), before a message is taken.
        view, room = mqsdk._kernel.socket.writable_view(buffer, nbytes)
        core = self._core()

        def receive_into() -> int:
            data = _BaseSocket.recv(core, flags | NOBLOCK)
            count = min(room, len(data))
            view[:count] = memoryview(data)[:count]
            return len(data)

        return self._add_recv(flags, receive_into)

    def send(  # type: ignore[override]
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | bytes | None = None,
    ) -> asyncio.Future[Any]:
        """Queue one frame (``SNDMORE``: more follow); the future completes when it is
        queued, at once unless the peers are at their HWM, and its result is what the
        blocking :meth:`mqsdk.Socket.send` returns (a tracker, or None). ``DONTWAIT``:
        Again at once instead of waiting; ``sndtimeo`` bounds the wait."""
        loop = _get_running_loop()
        args = (data, flags | NOBLOCK, copy, track, routing_id, group)  # pyzmq's order
        if loop is None or self._pump is not None:  # operations wait: behind them
            return self._add_send(flags, _BaseSocket.send, self._core(), *args)
        # _add_send's steps inline (see recv).
        core = self._core()
        future: asyncio.Future[Any] = _Future(loop=loop)
        try:
            future.set_result(_BaseSocket.send(core, *args))
        except Again:
            if not flags & NOBLOCK:
                return self._wait_to_send(
                    loop,
                    functools.partial(_BaseSocket.send, core, *args),
                )
            future.set_exception(Again("the message cannot be queued now"))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def send_multipart(  # type: ignore[override]
        self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> asyncio.Future[Any]:
        """Queue a whole multipart message atomically; the future as for :meth:`send`."""
        return self._add_send(
            flags, _BaseSocket.send_multipart, self._core(), msg_parts, flags | NOBLOCK, copy, track
        )

    def send_string(  # type: ignore[override]
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8"
    ) -> asyncio.Future[Any]:
        """:meth:`send` a str, encoded (UTF-8 by default); TypeError for anything else."""
        if not isinstance(u, str):
            raise TypeError(f"send_string takes str, not {type(u).__name__}")
        return self.send(u.encode(encoding), flags, copy)

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> asyncio.Future[str]:  # type: ignore[override]
        """A future of the next frame, decoded (UTF-8 by default)."""
        receive = functools.partial(_BaseSocket.recv, self._core(), flags | NOBLOCK)
        return self._add_recv(flags, lambda: bytes(receive()).decode(encoding))

    # The base class's json/pyobj helpers call self.send/self.recv and use the result.
    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> asyncio.Future[Any]:  # type: ignore[override]
        """:meth:`send` ``obj`` as UTF-8 JSON; ``kwargs`` go to :func:`json.dumps`."""
        return self.send(json.dumps(obj, **kwargs).encode("utf-8"), flags)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> asyncio.Future[Any]:
        """A future of the next frame parsed as JSON; ``kwargs`` go to :func:`json.loads`."""
        receive = functools.partial(_BaseSocket.recv, self._core(), flags | NOBLOCK)
        return self._add_recv(flags, lambda: json.loads(receive(), **kwargs))

    def send_pyobj(  # type: ignore[override]
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL
    ) -> asyncio.Future[Any]:
        """Send a pickled object. Never unpickle data from peers you do not trust."""
        return self.send(pickle.dumps(obj, protocol), flags)

    def recv_pyobj(self, flags: int = 0) -> asyncio.Future[Any]:
        """Receive and unpickle an object. Unsafe with untrusted peers: unpickling runs code."""
        receive = functools.partial(_BaseSocket.recv, self._core(), flags | NOBLOCK)
        return self._add_recv(flags, lambda: pickle.loads(receive()))

    def send_serialized(
        self,
        msg: Any,
        serialize: Callable[[Any], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        """Send ``serialize(msg)``, a list of frames, as one multipart message."""
        return self.send_multipart(serialize(msg), flags, copy, **kwargs)

    def recv_serialized(
        self, deserialize: Callable[[list[Any]], _T], flags: int = 0, copy: bool = True
    ) -> asyncio.Future[_T]:
        """Receive a multipart message; the result is ``deserialize(frames)``."""
        receive = functools.partial(_BaseSocket.recv_multipart, self._core(), flags | NOBLOCK, copy)
        return self._add_recv(flags, lambda: deserialize(receive()))

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> asyncio.Future[int]:  # type: ignore[override]
        """A future of the events in ``flags`` the socket has, once it has one, or 0
        after ``timeout`` ms (None or negative: no limit)."""
        if self.closed and not self.context.closed:
            raise MQError("poll on a closed socket", errno.ENOTSUP)  # as the blocking poll
        self._check_usable()
        loop = self._loop_for_new_operation()
        future: IoFuture[int] = IoFuture(loop=loop)
        events = self.poll_events() & flags
        if events or timeout == 0:
            future.set_result(events)
            return future
        self._poll_futures.append((future, flags))
        if timeout is not None and timeout >= 0:
            timer = loop.call_later(timeout / 1000, _resolve_with, future, 0)
            future.add_done_callback(lambda _: timer.cancel())
        future.add_done_callback(self._forget_poll)
        self._update_pollout()
        self._arm(loop)
        return future

    @classmethod
    def shadow(cls, address: Any) -> Socket:
        """Another handle on a socket, given as the socket or its ``underlying`` number
        (pyzmq's ``Socket.shadow``). A blocking socket gets an asyncio handle: I/O
        through it returns futures, and acts on that socket."""
        handle: Any = _BaseSocket.shadow(address)  # a ShadowSocket: resolves every form
        target = handle._target
        if isinstance(target, cls):
            return cast("Socket", super().shadow(address))
        return _AsyncHandle(target, address, cls)  # type: ignore[return-value]

    @classmethod
    def from_socket(cls, socket: Any, io_loop: Any = None) -> Socket:
        """pyzmq's name: an asyncio handle on ``socket`` (see :meth:`shadow`)."""
        return cls.shadow(socket)

    def close(self, linger: int | None = None) -> None:
        """Close the socket, as :meth:`mqsdk.Socket.close`; its pending futures are
        cancelled."""
        _BaseSocket.close(self._core(), linger)
        loop = self._pending_loop()
        if loop is not None:
            if asyncio._get_running_loop() is loop:
                self._abandon()
            else:
                # Closed in another thread (term()): the loop's objects are touched only
                # in the loop's thread.
                # A closed loop raises RuntimeError: nothing will ever run its futures.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._abandon)
        io = self._loop_io
        if io is not None:
            # In another thread (term()) the loop's objects must not be touched: the base
            # close signalled the waker, and the loop releases them itself.
            release_when_safe(io)


class _AsyncHandle(mqsdk._kernel.socket.ShadowSocket):
    """An asyncio handle on a blocking socket (``mqsdk.asyncio.Socket(sock)``, pyzmq's
    ``from_socket``): its I/O methods return futures, as an asyncio socket's do, and
    everything else goes to the socket. The waiting operations are the handle's own."""

    __slots__ = (*Socket.__slots__, "_async_class")

    def __init__(self, target: mqsdk._kernel.socket.Socket, made_from: object, cls: type) -> None:
        super().__init__(target, made_from)
        object.__setattr__(self, "_async_class", cls)
        for name, value in (
            ("_loop_io", None),
            ("_recv_futures", collections.deque()),
            ("_send_futures", collections.deque()),
            ("_poll_futures", []),
            ("_pump", None),
            ("_pollout_waiting", False),
        ):
            object.__setattr__(self, name, value)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(handle, mqsdk.asyncio.Socket) holds
        return self._async_class  # type: ignore[no-any-return]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _AsyncHandle.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._target, name, value)

    def _core(self) -> mqsdk._kernel.socket.Socket:
        return cast("mqsdk._kernel.socket.Socket", self._target)


# The handle runs the asyncio socket's own methods (they reach the socket through _core()).
for _name, _value in list(Socket.__dict__.items()):
    if (
        _name not in ("__init__", "__slots__", "__module__", "__qualname__", "__doc__", "_core")
        and (callable(_value) or isinstance(_value, property))
        and not isinstance(_value, type)
        and _name not in Socket.__slots__
    ):
        setattr(_AsyncHandle, _name, _value)
del _name, _value


def _resolve_with(future: asyncio.Future[_T], value: _T) -> None:
    if not future.done():
        future.set_result(value)


class Context(mqsdk._kernel.context.Context):
    """A context whose sockets are :class:`mqsdk.asyncio.Socket`."""

    _socket_class = Socket
    # Its own instance(), apart from the blocking context's (as in pyzmq).
    _instance: ClassVar[mqsdk._kernel.context.Context | None] = None

    def socket(
        self,
        socket_type: int | str,
        socket_class: Callable[..., mqsdk._kernel.socket.Socket] | None = None,
        **kwargs: Any,
    ) -> Socket:
        """A new :class:`Socket` (asyncio: its I/O methods return futures), as
        :meth:`mqsdk.Context.socket` takes it."""
        # Typed for the usual case; socket_class= may ask for a blocking socket instead.
        return super().socket(socket_type, socket_class, **kwargs)  # type: ignore[return-value]


class Poller(mqsdk._kernel.polling.Poller):
    """``await poller.poll(timeout_ms)``: waits in the event loop, never blocking it."""

    def poll(self, timeout: float | None = None) -> asyncio.Future[list[tuple[Any, int]]]:  # type: ignore[override]
        """A future of ``[(socket_or_fd, events), ...]`` once one is ready, or of ``[]``
        after ``timeout`` ms (None or negative: no limit)."""
        loop = _running_loop()
        future: IoFuture[list[tuple[Any, int]]] = IoFuture(loop=loop)
        if timeout == 0:
            try:
                future.set_result(_as_pyzmq_results(mqsdk._kernel.polling.Poller.poll(self, 0)))
            except Exception as exc:
                future.set_exception(exc)
            return future
        task = loop.create_task(self._poll_until(timeout))

        def deliver(task: asyncio.Task[list[tuple[Any, int]]]) -> None:
            if future.done():
                return
            if task.cancelled():
                future.cancel()
            elif task.exception() is not None:
                future.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                future.set_result(task.result())

        def withdraw(future: asyncio.Future[list[tuple[Any, int]]]) -> None:
            if not task.done():
                task.cancel()

        task.add_done_callback(deliver)
        future.add_done_callback(withdraw)
        return future

    async def _poll_until(self, timeout: float | None) -> list[tuple[Any, int]]:
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
                ready = _as_pyzmq_results(super().poll(0))
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


def _as_pyzmq_results(ready: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """Sockets as they were registered, anything else (a file, a socket.socket) as its
    fd number, as pyzmq's Poller gives them."""
    return [
        (obj if isinstance(obj, mqsdk._kernel.socket.Socket) else _fd_of(obj), events)
        for obj, events in ready
    ]


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


__all__ = ["Context", "IoFuture", "Poller", "Socket", "monitor_events"]
