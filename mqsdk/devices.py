"""Background devices: a proxy, monitored queue or steerable proxy that owns its sockets
and runs in a thread or a child process (pyzmq's ``zmq.devices``).

A device is configured with socket *types* and queued calls (``bind_in``,
``connect_out``, ``setsockopt_mon``...); the sockets are made and set up in the thread
or process that runs the device, because a socket belongs to the thread that uses it::

    dev = ThreadProxy(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUB)
    port = dev.bind_in_to_random_port("tcp://127.0.0.1")
    dev.connect_out("tcp://127.0.0.1:5556")
    dev.start()

The device stops when its context is terminated (or, for a steerable proxy, on
``TERMINATE``); its sockets are closed on the way out.
"""

from __future__ import annotations

import errno
import multiprocessing
import random
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from mqsdk._kernel.context import Context
from mqsdk._kernel.polling import Poller
from mqsdk._kernel.proxy import proxy, proxy_steerable
from mqsdk._kernel.socket import Socket
from mqsdk.constants import POLLIN, SocketType
from mqsdk.errors import ETERM, ZMQBindError, ZMQError

# libzmq's device types (zmq_device). All three run the same proxy loop: the sockets'
# types, not the device type, decide how messages flow.
STREAMER = 1
FORWARDER = 2
QUEUE = 3

_DEFAULT_PORTS = (49152, 65536)  # Socket.bind_to_random_port's defaults: any free port
_RESERVE_TRIES = 100


def device(device_type: int, frontend: Socket, backend: Socket) -> None:
    """libzmq's deprecated ``zmq_device``: :func:`mqsdk.proxy` under its old name (the
    device type is accepted and ignored, as libzmq does)."""
    del device_type
    proxy(frontend, backend)


def _relay(source: Socket, target: Socket, monitor: Socket, prefix: bytes, swap: bool) -> None:
    message = source.recv_multipart()
    if swap:
        # ROUTER to ROUTER: the sender's identity comes first and the addressee's second;
        # the target ROUTER routes on the first frame, so they trade places.
        message[:2] = message[1::-1]
    target.send_multipart(message)
    monitor.send_multipart([prefix, *message])


def monitored_queue(
    in_socket: Socket,
    out_socket: Socket,
    mon_socket: Socket,
    in_prefix: bytes = b"in",
    out_prefix: bytes = b"out",
) -> None:
    """A queue between ``in_socket`` and ``out_socket`` that also publishes every message
    on ``mon_socket``, behind ``in_prefix`` or ``out_prefix`` by the side it came from.

    Unlike :func:`mqsdk.proxy` it also joins two ROUTERs. Runs until the context is
    terminated (raising :class:`mqsdk.ContextTerminated`).
    """
    for name, prefix in (("in_prefix", in_prefix), ("out_prefix", out_prefix)):
        if not isinstance(prefix, bytes):
            raise TypeError(f"{name} must be bytes, not {type(prefix).__name__}")
    swap = in_socket.type == SocketType.ROUTER and out_socket.type == SocketType.ROUTER
    poller = Poller()
    try:
        poller.register(in_socket, POLLIN)
        poller.register(out_socket, POLLIN)
        while True:
            ready = dict(poller.poll())
            if ready.get(in_socket):
                _relay(in_socket, out_socket, mon_socket, in_prefix, swap)
            if ready.get(out_socket):
                _relay(out_socket, in_socket, mon_socket, out_prefix, swap)
    finally:
        poller.close()


class _SocketPlan:
    """What to do to one of a device's sockets once it exists in the device's thread."""

    __slots__ = ("binds", "connects", "options")

    def __init__(self) -> None:
        self.options: list[tuple[int, Any]] = []
        self.binds: list[str] = []
        self.connects: list[str] = []

    def make(self, context: Context, socket_type: int) -> Socket:
        sock = context.socket(socket_type)
        try:
            # Options first: some (ROUTING_ID, SUBSCRIBE...) only count before connecting.
            for option, value in self.options:
                sock.setsockopt(option, value)
            for address in self.binds:
                sock.bind(address)
            for address in self.connects:
                sock.connect(address)
        except BaseException:
            sock.close(0)
            raise
        return sock


class Device:
    """A proxy between an "in" and an "out" socket, run by :meth:`start` in the calling
    thread (subclasses run it in the background).

    ``out_type < 0`` uses the in socket for both sides (an echo device on one REP, say).
    """

    context_factory: ClassVar[Callable[[], Context]] = Context.instance
    """Makes the device's context: the shared ``Context.instance()`` for threads,
    a new ``Context`` in a child process (whose parent's context is not usable)."""

    def __init__(
        self, device_type: int = QUEUE, in_type: int | None = None, out_type: int | None = None
    ) -> None:
        if in_type is None:
            raise TypeError("in_type must be specified")
        if out_type is None:
            raise TypeError("out_type must be specified")
        self.device_type = device_type
        self.in_type = in_type
        self.out_type = out_type
        self.daemon = True
        """Whether the background thread or process is a daemon (it does not keep the
        program alive)."""
        self.done = False
        self._plans: dict[str, _SocketPlan] = {"in": _SocketPlan(), "out": _SocketPlan()}
        self._reserved: set[str] = set()
        self._sockets: list[Socket] = []
        self._context: Context | None = None
        self._finished = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        # A child process started by spawn or forkserver (macOS's and Python 3.14's
        # default) gets the device pickled: only its configuration goes, not the
        # parent's thread-bound state or the process object itself.
        state = self.__dict__.copy()
        for name in ("_finished", "_sockets", "_context", "launcher"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._finished = threading.Event()
        self._sockets = []
        self._context = None

    # --- configuration, queued until the device runs -------------------------------

    def bind_in(self, addr: str) -> None:
        """Bind the in socket to ``addr`` when the device starts."""
        self._plans["in"].binds.append(addr)

    def bind_out(self, addr: str) -> None:
        """Bind the out socket to ``addr`` when the device starts."""
        self._plans["out"].binds.append(addr)

    def connect_in(self, addr: str) -> None:
        """Connect the in socket to ``addr`` when the device starts."""
        self._plans["in"].connects.append(addr)

    def connect_out(self, addr: str) -> None:
        """Connect the out socket to ``addr`` when the device starts."""
        self._plans["out"].connects.append(addr)

    def setsockopt_in(self, opt: int, value: Any) -> None:
        """Set an option on the in socket when the device starts."""
        self._plans["in"].options.append((opt, value))

    def setsockopt_out(self, opt: int, value: Any) -> None:
        """Set an option on the out socket when the device starts."""
        self._plans["out"].options.append((opt, value))

    def bind_in_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Pick a free port on ``addr`` now (arguments as ``Socket.bind_to_random_port``),
        bind the in socket to it when the device starts, and return it."""
        return self._bind_random("in", addr, *args, **kwargs)

    def bind_out_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Like :meth:`bind_in_to_random_port`, for the out socket."""
        return self._bind_random("out", addr, *args, **kwargs)

    def _bind_random(self, side: str, addr: str, *args: Any, **kwargs: Any) -> int:
        port = self._reserve_port(addr, *args, **kwargs)
        self._plans[side].binds.append(f"{addr}:{port}")
        return port

    def _reserve_port(
        self,
        addr: str,
        min_port: int = _DEFAULT_PORTS[0],
        max_port: int = _DEFAULT_PORTS[1],
        max_tries: int = _RESERVE_TRIES,
    ) -> int:
        """A port on ``addr`` that is free now and not yet promised to another of this
        device's sockets. Free now only: the bind happens later, in the device's thread,
        so another program can still take it in between (as with pyzmq)."""
        any_port = (min_port, max_port) == _DEFAULT_PORTS
        candidates = [
            port for port in range(min_port, max_port) if f"{addr}:{port}" not in self._reserved
        ]
        random.shuffle(candidates)
        # Every port tried stays bound on the probe until the end, so no try repeats one.
        with Context() as context, context.socket(SocketType.PUSH) as probe:
            probe.set("linger", 0)
            for attempt in range(max_tries):
                if any_port:
                    port = probe.bind_to_random_port(addr)
                    if f"{addr}:{port}" in self._reserved:
                        continue
                elif attempt < len(candidates):
                    port = candidates[attempt]
                    try:
                        probe.bind(f"{addr}:{port}")
                    except ZMQError as exc:
                        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                            continue
                        raise
                else:
                    break
                self._reserved.add(f"{addr}:{port}")
                return port
        raise ZMQBindError(f"could not reserve a free port on {addr} in [{min_port}, {max_port})")

    # --- running -------------------------------------------------------------------

    def _make_socket(self, side: str, socket_type: int) -> Socket:
        assert self._context is not None
        sock = self._plans[side].make(self._context, socket_type)
        self._sockets.append(sock)
        return sock

    def _setup_sockets(self) -> tuple[Socket, Socket]:
        self._context = type(self).context_factory()
        if self.out_type < 0:
            # One socket serves both sides: both plans apply to it, options first.
            both = _SocketPlan()
            for plan in (self._plans["in"], self._plans["out"]):
                both.options += plan.options
                both.binds += plan.binds
                both.connects += plan.connects
            ins = both.make(self._context, self.in_type)
            self._sockets.append(ins)
            return ins, ins
        return self._make_socket("in", self.in_type), self._make_socket("out", self.out_type)

    def run_device(self) -> None:
        """Make the sockets and run the device loop (called by :meth:`run`)."""
        ins, outs = self._setup_sockets()
        proxy(ins, outs)

    def run(self) -> None:
        """Run the device until its context is terminated, then close its sockets."""
        try:
            self.run_device()
        except ZMQError as exc:
            # Terminating the context (or closing the sockets under the device) is how
            # a device is stopped: not an error.
            if exc.errno not in (ETERM, errno.ENOTSOCK):
                raise
        finally:
            self.done = True
            for sock in self._sockets:
                if not sock.closed:
                    sock.close()
            self._finished.set()

    def start(self) -> None:
        """Run the device; here, in the calling thread (blocks)."""
        self.run()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the device has stopped, or ``timeout`` seconds."""
        self._finished.wait(timeout)


class _MonitorSocket:
    """Adds the third, "mon" socket (a PUB by default) that sees every message."""

    _plans: dict[str, _SocketPlan]
    _bind_random: Callable[..., int]
    _make_socket: Callable[[str, int], Socket]

    def _init_mon(self, mon_type: int) -> None:
        self.mon_type = mon_type
        self._plans["mon"] = _SocketPlan()

    def bind_mon(self, addr: str) -> None:
        """Bind the monitor socket to ``addr`` when the device starts."""
        self._plans["mon"].binds.append(addr)

    def connect_mon(self, addr: str) -> None:
        """Connect the monitor socket to ``addr`` when the device starts."""
        self._plans["mon"].connects.append(addr)

    def setsockopt_mon(self, opt: int, value: Any) -> None:
        """Set an option on the monitor socket when the device starts."""
        self._plans["mon"].options.append((opt, value))

    def bind_mon_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Like ``bind_in_to_random_port``, for the monitor socket."""
        return self._bind_random("mon", addr, *args, **kwargs)


class Proxy(_MonitorSocket, Device):
    """A device running :func:`mqsdk.proxy` with a capture ("mon") socket that gets a copy
    of every message."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = SocketType.PUB) -> None:
        Device.__init__(self, QUEUE, in_type, out_type)
        self._init_mon(mon_type)

    def _setup_sockets(self) -> tuple[Socket, Socket, Socket]:  # type: ignore[override]
        ins, outs = Device._setup_sockets(self)
        return ins, outs, self._make_socket("mon", self.mon_type)

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        proxy(ins, outs, mons)


class ProxySteerable(Proxy):
    """A :class:`Proxy` steered through a fourth, control socket (``PAUSE``, ``RESUME``,
    ``TERMINATE``, ``STATISTICS``; see :func:`mqsdk.proxy_steerable`)."""

    def __init__(
        self,
        in_type: int,
        out_type: int,
        mon_type: int = SocketType.PUB,
        ctrl_type: int | None = None,
    ) -> None:
        super().__init__(in_type, out_type, mon_type)
        if ctrl_type is None:
            raise TypeError("ctrl_type must be specified (PAIR or REP)")
        self.ctrl_type = ctrl_type
        self._plans["ctrl"] = _SocketPlan()

    def bind_ctrl(self, addr: str) -> None:
        """Bind the control socket to ``addr`` when the device starts."""
        self._plans["ctrl"].binds.append(addr)

    def connect_ctrl(self, addr: str) -> None:
        """Connect the control socket to ``addr`` when the device starts."""
        self._plans["ctrl"].connects.append(addr)

    def setsockopt_ctrl(self, opt: int, value: Any) -> None:
        """Set an option on the control socket when the device starts."""
        self._plans["ctrl"].options.append((opt, value))

    def bind_ctrl_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Like ``bind_in_to_random_port``, for the control socket."""
        return self._bind_random("ctrl", addr, *args, **kwargs)

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        proxy_steerable(ins, outs, mons, self._make_socket("ctrl", self.ctrl_type))


class MonitoredQueue(Proxy):
    """A device running :func:`monitored_queue`: like :class:`Proxy`, but the monitor
    copy is prefixed with ``in_prefix`` or ``out_prefix`` by direction, and two ROUTERs
    can be joined."""

    def __init__(
        self,
        in_type: int,
        out_type: int,
        mon_type: int = SocketType.PUB,
        in_prefix: bytes = b"in",
        out_prefix: bytes = b"out",
    ) -> None:
        super().__init__(in_type, out_type, mon_type)
        self.in_prefix = in_prefix
        self.out_prefix = out_prefix

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        monitored_queue(ins, outs, mons, self.in_prefix, self.out_prefix)


class _Background:
    """Runs the device's :meth:`Device.run` in a thread or process made by ``launcher``."""

    _launch: ClassVar[Callable[..., threading.Thread | multiprocessing.Process]]
    launcher: threading.Thread | multiprocessing.Process | None = None
    daemon: bool
    run: Callable[[], None]

    def start(self) -> None:
        """Start the device in the background; returns at once."""
        self.launcher = type(self)._launch(target=self.run, daemon=self.daemon)
        self.launcher.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the background device has stopped, or ``timeout`` seconds."""
        if self.launcher is not None:
            self.launcher.join(timeout)


class _InThread(_Background):
    _launch = threading.Thread


class _InProcess(_Background):
    _launch = multiprocessing.Process
    # A child process must never use a context made before the fork.
    context_factory: ClassVar[Callable[[], Context]] = Context


class BackgroundDevice(_Background, Device):
    """Base of the devices that run in the background."""


class ThreadDevice(_InThread, Device):
    """A :class:`Device` in a background thread."""


class ProcessDevice(_InProcess, Device):
    """A :class:`Device` in a child process."""


class ThreadProxy(_InThread, Proxy):
    """A :class:`Proxy` in a background thread."""


class ProcessProxy(_InProcess, Proxy):
    """A :class:`Proxy` in a child process."""


class ThreadProxySteerable(_InThread, ProxySteerable):
    """A :class:`ProxySteerable` in a background thread."""


class ProcessProxySteerable(_InProcess, ProxySteerable):
    """A :class:`ProxySteerable` in a child process."""


class ThreadMonitoredQueue(_InThread, MonitoredQueue):
    """A :class:`MonitoredQueue` in a background thread."""


class ProcessMonitoredQueue(_InProcess, MonitoredQueue):
    """A :class:`MonitoredQueue` in a child process."""


__all__ = [
    "FORWARDER",
    "QUEUE",
    "STREAMER",
    "BackgroundDevice",
    "Device",
    "MonitoredQueue",
    "ProcessDevice",
    "ProcessMonitoredQueue",
    "ProcessProxy",
    "ProcessProxySteerable",
    "Proxy",
    "ProxySteerable",
    "ThreadDevice",
    "ThreadMonitoredQueue",
    "ThreadProxy",
    "ThreadProxySteerable",
    "device",
    "monitored_queue",
]
