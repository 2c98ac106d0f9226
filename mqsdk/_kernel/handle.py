"""The socket as its plugins see it: :class:`SocketHandle`.

Transports and patterns never get the user's :class:`mqsdk.Socket`; they get this
handle, made by the kernel once per socket. It offers what a plugin may do to a
socket and nothing else: attach and detach pipes, say a pipe became readable or
writable, hand over a command, count traffic, report a monitor event, run code in the
I/O thread, wait in the user's thread until something holds. The kernel keeps what
every transport would otherwise re-implement: the statistics, the description of this
socket a peer learns (:meth:`SocketHandle.peer_info`), the pattern's greeting for a new
connection, and which socket types may talk to each other.

Several methods are the socket core's bound methods stored on the handle at creation,
so a plugin's call costs what a direct call to the core would (``pipe_readable`` runs
once per burst of messages on every transport).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mqsdk._kernel.options import KernelOptions, OptionModel
from mqsdk._kernel.pipe import PeerInfo
from mqsdk.zmtp.constants import PROP_IDENTITY

if TYPE_CHECKING:
    from mqsdk._kernel.core import SocketCore
    from mqsdk._kernel.pattern import Pattern
    from mqsdk._kernel.pipe import Pipe
    from mqsdk.zmtp.frames import Command

_Model = TypeVar("_Model", bound=OptionModel)

_DROP_COUNTERS = {"hwm": "dropped_hwm", "unroutable": "unroutable"}
"""Drop kinds whose ``stats`` key is not ``dropped_<kind>``."""

_WAIT_SLICE = 0.05
"""Longest single sleep of :meth:`SocketHandle.wait_until`: each turn reads the
connections itself, so a wake-up missed costs at most one slice."""


class TimerHandle(Protocol):
    """What :meth:`IoThread.call_later` returns."""

    @property
    def cancelled(self) -> bool:
        """:meth:`cancel` was called."""

    def cancel(self) -> None:
        """Forget the call if it has not run yet (safe from any thread)."""


class IoThread(Protocol):
    """The socket's I/O thread, as plugins may use it. Callbacks run in that thread
    and must not block; ``call_soon`` and ``call_later`` may be called from any thread,
    ``add_reader``/``remove_reader`` from the I/O thread (or before it runs)."""

    @property
    def running(self) -> bool:
        """The thread runs (False before the first use and after the context ends)."""

    def in_thread(self) -> bool:
        """True when the caller is the I/O thread."""

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` in the I/O thread as soon as it can."""

    def call_later(self, delay: float, fn: Callable[[], object]) -> TimerHandle:
        """Run ``fn`` in the I/O thread after ``delay`` seconds."""

    def add_reader(self, fd: int, callback: Callable[[], object]) -> None:
        """Call ``callback`` whenever ``fd`` is readable."""

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` for reading."""


class SocketHandle:
    """A socket, as its transports and patterns may use it (see the module docstring).

    Made by the kernel; plugins receive it (``Pattern.socket``, the first argument of
    every :class:`~mqsdk._kernel.transport.MessageTransport` method, ``Pipe.owner``) and never
    make one. Threads: each method says which thread may call it.
    """

    __slots__ = (
        "__weakref__",
        "_core",
        "deliver_command",
        "io_thread",
        "options",
        "peer_types",
        "pipe_readable",
        "pipe_writable",
        "socket_type",
        "stats",
    )

    def __init__(self, core: SocketCore, pattern: type[Pattern]) -> None:
        self._core = core
        self.socket_type: str = core.socket_type_name
        """This socket's type as ZMTP names it (``"PUB"``)."""
        self.peer_types: frozenset[str] = pattern.peer_types
        """The socket types this one talks to (``{"SUB", "XSUB"}``)."""
        self.options: KernelOptions = core.options
        """The kernel's option values, live (read them, never assign them). A
        component's own options: :meth:`component_options`."""
        self.stats: dict[str, int] = core.stats
        """The socket's counters. Use :meth:`count_sent`/:meth:`count_received` for
        traffic; a transport may add its own keys (``"dropped_malformed"``)."""
        self.io_thread: IoThread = core.reactor
        """The I/O thread serving this socket."""
        # Bound methods of the core, stored so that a call costs no extra frame.
        self.pipe_readable: Callable[[Pipe], None] = core._pipe_readable
        """``pipe_readable(pipe)``: ``pipe.inq`` went from empty to non-empty (any
        thread). :meth:`~mqsdk._kernel.pipe.Pipe.deliver` calls it for you."""
        self.pipe_writable: Callable[[Pipe], None] = core._pipe_writable
        """``pipe_writable(pipe)``: ``pipe`` has room again after being full (any
        thread): a blocked send re-checks."""
        self.deliver_command: Callable[[Pipe, Command], bool] = core._pipe_command
        """``deliver_command(pipe, command)``: a command (SUBSCRIBE, JOIN...) arrived on
        ``pipe`` (any thread); the pattern gets it in the user's thread, in order with
        attach and detach. False if the pattern does not take that command."""

    # -- who this socket is -------------------------------------------------------------

    def accepts(self, peer_type: str) -> bool:
        """May a socket of type ``peer_type`` (ZMTP name) talk to this one?"""
        return peer_type in self.peer_types

    def compatible(self, other: SocketHandle) -> bool:
        """Both sockets accept each other's type (inproc's check before connecting)."""
        return other.socket_type in self.peer_types and self.socket_type in other.peer_types

    def peer_info(self) -> PeerInfo:
        """What a peer learns about this socket in a handshake: its type and, for types
        that send one (REQ, DEALER, ROUTER), its routing id."""
        metadata = self._core.handshake_metadata()
        return PeerInfo(self.socket_type, metadata.get(PROP_IDENTITY, b""), "", metadata)

    def greeting(self, pipe: Pipe, zmtp_minor: int = 1) -> bytes:
        """The encoded frames this socket's pattern sends first on a new connection of
        ``pipe`` (a SUB's subscriptions), empty when it sends none."""
        return b"".join(self._core.pattern.greet(pipe, zmtp_minor))

    def component_options(self, model: type[_Model]) -> _Model:
        """This socket's values of the options ``model`` declares (a transport's
        ``option_model``)."""
        return self._core.component_options(model)

    def context_state(self, key: str, factory: Callable[[], Any]) -> Any:
        """A per-context object shared by every socket of this socket's context, made
        by ``factory`` on first use (inproc keeps its bound names here). Any thread."""
        context = self._core.context
        with context.shared_lock:
            state = context.shared.get(key)
            if state is None:
                state = context.shared[key] = factory()
            return state

    # -- pipes ----------------------------------------------------------------------------

    def attach_pipe(self, pipe: Pipe) -> None:
        """Give the pattern a new pipe now (the user's thread, e.g. in ``bind``)."""
        self._core._attach(pipe)

    def connect(self, endpoint: str) -> None:
        """Connect as the user's ``connect()`` does (the user's thread). Unless the
        socket's ``immediate`` is set, the new pipe is attached before this returns, so
        the pattern can name it to the caller (PEER's ``connect_peer``)."""
        # The user's socket class (mqsdk._kernel.socket) has the endpoint methods; the
        # core it derives from does not.
        socket: Any = self._core
        socket._connect(endpoint)

    def post_attach(self, pipe: Pipe) -> None:
        """Attach ``pipe`` at the socket's next call (any thread)."""
        self._core._post_pipe_event("attach", pipe)

    def post_detach(self, pipe: Pipe) -> None:
        """Detach ``pipe`` at the socket's next call (any thread). Messages already in
        its ``inq`` may still be received."""
        self._core._post_pipe_event("detach", pipe)

    # -- accounting and events ------------------------------------------------------------

    def count_sent(self, messages: int, nbytes: int) -> None:
        """Messages and bytes that left through this socket's transport."""
        stats = self.stats
        stats["msgs_out"] += messages
        stats["bytes_out"] += nbytes

    def count_received(self, messages: int, nbytes: int) -> None:
        """Messages and bytes that arrived (counted once, by whoever decoded them)."""
        stats = self.stats
        stats["msgs_in"] += messages
        stats["bytes_in"] += nbytes

    def count_dropped(self, kind: str, messages: int = 1) -> None:
        """Messages dropped: ``"hwm"`` (a full peer or queue), ``"unroutable"`` or
        ``"malformed"``; reported to ``mqsdk_messages_dropped`` observers in batches."""
        key = _DROP_COUNTERS.get(kind) or f"dropped_{kind}"
        stats = self.stats
        stats[key] = stats.get(key, 0) + messages

    def report_event(self, name: str, endpoint: str, value: int) -> None:
        """A monitor event (``"listening"``, ``"bind_failed"``, ``"disconnected"``...:
        the names of :class:`mqsdk.monitor.Event`, lowercase) to the socket's monitors
        and the ``mqsdk_socket_event`` observers. Any thread."""
        self._core._event(name, endpoint, value)

    # -- threads ----------------------------------------------------------------------------

    def call_in_io_thread(self, fn: Callable[[], object], *, wait: bool = False) -> None:
        """Run ``fn`` in the I/O thread (at once if the caller is that thread); with
        ``wait``, return once it ran (MQError ETIMEDOUT after 30 s)."""
        self._core._in_reactor(fn, wait=wait)

    def check_open(self) -> None:
        """Raise what a call on a closed socket raises (ContextTerminated when the
        context ended, MQError ENOTSOCK when the socket was closed)."""
        self._core._check_open()

    def wait_until(self, ready: Callable[[], bool], timeout: float | None = None) -> bool:
        """Block the user's thread until ``ready()`` is true, at most ``timeout`` seconds
        (None: no limit). Meanwhile the socket keeps reading its connections and
        applying attaches, detaches and commands, so ``ready`` sees them (a PUB's
        ``wait_for_subscribers``). Returns ``ready()``'s last answer.

        :raises MQError: the socket was closed.
        :raises ContextTerminated: the context was terminated.
        """
        core = self._core
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            core._check_open()
            core._read_engines()
            if core._pipe_events:
                core._apply_pipe_events()
            if ready():
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            limit = now + _WAIT_SLICE
            core._wait(limit if deadline is None else min(deadline, limit), writing=False)

    def __repr__(self) -> str:
        return f"<SocketHandle of {self._core!r}>"


__all__ = ["IoThread", "SocketHandle", "TimerHandle"]
