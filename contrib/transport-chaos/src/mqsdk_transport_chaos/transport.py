"""``chaos+tcp://`` and ``chaos+ipc://``: an existing stream transport, with faults.

The inner transport (found in the registry by its scheme) parses the address, listens,
connects and configures sockets; this one only wraps each connected OS socket in a
:class:`ChaosSocket` (see ``StreamTransport.wrap``) that cuts reads and writes short,
delays writes, stalls reads and resets the connection, as the endpoint's settings ask.
The kernel above it sees a plain non-blocking socket and runs ZMTP, reconnection and
monitor events as usual, which is what an application under test then meets.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from mqsdk.plugin import EndpointError, StreamTransport, get_registry

__all__ = [
    "ChaosAddress",
    "ChaosIpcTransport",
    "ChaosSettings",
    "ChaosSocket",
    "ChaosTcpTransport",
    "ChaosTransport",
    "parse_settings",
]

_SHORT_MAX = 7  # a "few bytes": what a partial call moves, half of the time
_DELAY_QUEUE_LIMIT = 1 << 20  # bytes held by delay_ms before writes report would-block
_CLOSE_FLUSH_LIMIT = 5.0  # seconds a closed socket goes on writing its delayed bytes


@dataclass(frozen=True)
class ChaosSettings:
    """The faults one endpoint asks for; all off by default."""

    delay_ms: float = 0.0
    partial: bool = False
    reset_after: int | None = None
    drop: float = 0.0
    stall_ms: float = 0.0
    stall_every: int = 65536
    seed: int | None = None

    @property
    def active(self) -> bool:
        return bool(
            self.delay_ms or self.partial or self.reset_after is not None or self.drop
        ) or bool(self.stall_ms)


_SETTINGS_HELP = (
    "delay_ms=MS, partial=0|1, reset_after=BYTES, drop=PROBABILITY, stall_ms=MS, "
    "stall_every=BYTES, seed=INT"
)

_KNOWN = frozenset(
    ("delay_ms", "partial", "reset_after", "drop", "stall_ms", "stall_every", "seed")
)


def parse_settings(query: str, endpoint: str) -> ChaosSettings:
    """The ``?key=value&...`` part of a chaos endpoint; EndpointError saying what is wrong."""
    values: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise EndpointError(
            f"{endpoint}: malformed settings {query!r}; use {_SETTINGS_HELP}"
        ) from None
    for key, text in pairs:
        if key not in _KNOWN:
            raise EndpointError(f"{endpoint}: unknown setting {key!r}; known: {_SETTINGS_HELP}")
        try:
            if key in ("delay_ms", "stall_ms"):
                number = float(text)
                ok = 0 <= number <= 600_000
                values[key] = number
            elif key == "drop":
                number = float(text)
                ok = 0 <= number <= 1
                values[key] = number
            elif key == "partial":
                ok = text in ("0", "1")
                values[key] = text == "1"
            elif key in ("reset_after", "stall_every"):
                count = int(text)
                ok = count >= 1
                values[key] = count
            else:  # seed
                values[key] = int(text)
                ok = True
        except ValueError:
            ok = False
        if not ok:
            raise EndpointError(f"{endpoint}: bad value {text!r} for {key}; use {_SETTINGS_HELP}")
    return ChaosSettings(**values)


@dataclass(frozen=True)
class ChaosAddress:
    """A parsed chaos endpoint: the inner transport's address and the faults."""

    inner: Any
    settings: ChaosSettings
    query: str
    # Numbers the connections made through this endpoint, so that with a seed each
    # connection gets its own, reproducible, sequence of faults.
    connections: itertools.count[int] = field(default_factory=itertools.count, compare=False)

    def rng(self) -> random.Random:
        index = next(self.connections)
        seed = self.settings.seed
        return random.Random(None if seed is None else f"{seed}:{index}")


class ChaosSocket(socket.socket):
    """The connected OS socket itself (same fd), with faults in ``recv``/``send``.

    It holds no bytes it read, so the fd's readiness stays true for the kernel; delayed
    writes are held in a queue that a thread of its own writes out when they are due.
    """

    def __init__(self, sock: socket.socket, settings: ChaosSettings, rng: random.Random) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settings = settings
        self.rng = rng
        self.moved = 0  # bytes sent and received, for reset_after
        self.received_since_stall = 0
        self.stalled_until = 0.0
        self.delayer: _Delayer | None = None
        if settings.delay_ms > 0:
            self.delayer = _Delayer(self, settings.delay_ms / 1000)

    # -- faults ------------------------------------------------------------------------

    def reset(self, why: str) -> ConnectionResetError:
        """Make the close that follows send RST, as a crashed peer or middlebox would."""
        with contextlib.suppress(OSError):
            super().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return ConnectionResetError(errno.ECONNRESET, f"chaos: {why}")

    def _limit(self, size: int) -> int:
        """How many of ``size`` bytes this call moves."""
        settings = self.settings
        if settings.reset_after is not None:
            left = settings.reset_after - self.moved
            if left <= 0:
                raise self.reset(f"reset after {settings.reset_after} bytes")
            size = min(size, left)
        if settings.partial and size > 1:
            # Half of the calls move a few bytes, the others a random part: short reads
            # and writes everywhere, while an 8 MiB message still takes few calls.
            if self.rng.random() < 0.5:
                size = self.rng.randint(1, min(size, _SHORT_MAX))
            else:
                size = self.rng.randint(1, size)
        return max(size, 1)

    def _before_recv(self, size: int) -> int:
        settings = self.settings
        if settings.stall_ms:
            if time.monotonic() < self.stalled_until:
                raise BlockingIOError(errno.EAGAIN, "chaos: reading is stalled")
            if self.received_since_stall >= settings.stall_every:
                self.received_since_stall = 0
                self.stalled_until = time.monotonic() + settings.stall_ms / 1000
                raise BlockingIOError(errno.EAGAIN, "chaos: reading is stalled")
        return self._limit(size)

    def _after_recv(self, count: int) -> None:
        self.moved += count
        self.received_since_stall += count

    def _before_send(self) -> None:
        if self.settings.drop and self.rng.random() < self.settings.drop:
            raise self.reset("connection dropped")
        if self.delayer is not None:
            self.delayer.check()

    # -- the socket interface the kernel uses ------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(self._before_recv(bufsize), flags)
        self._after_recv(len(data))
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        size = nbytes or memoryview(buffer).nbytes
        count = super().recv_into(buffer, self._before_recv(size), flags)
        self._after_recv(count)
        return count

    def send(self, data: Any, flags: int = 0) -> int:
        self._before_send()
        view = memoryview(data).cast("B")
        view = view[: self._limit(view.nbytes)]
        if self.delayer is not None:
            sent = self.delayer.push(view)
        else:
            sent = super().send(view, flags)
        self.moved += sent
        return sent

    def sendmsg(
        self, buffers: Iterable[Any], ancdata: Any = (), flags: int = 0, address: Any = None
    ) -> int:
        settings = self.settings
        if not (settings.partial or settings.delay_ms or settings.reset_after is not None):
            self._before_send()
            sent = super().sendmsg(buffers)
            self.moved += sent
            return sent
        # Faults cut the write anywhere, so send the pieces as one buffer (of at most
        # what the faults let through; the kernel offers the rest again).
        return self.send(b"".join(buffers))

    def raw_send(self, data: memoryview) -> int:
        """Write to the OS socket without faults (the delay thread's writes)."""
        return super().send(data)

    def shutdown(self, how: int) -> None:
        if self.delayer is not None and self.delayer.holds_data():
            self.delayer.shutdown_after_flush = True  # SHUT_WR would cut delayed bytes off
            return
        super().shutdown(how)

    def close(self) -> None:
        if self.delayer is not None and self.delayer.close_after_flush():
            return  # the delay thread closes the socket once its bytes are written
        super().close()

    def raw_close(self) -> None:
        super().close()


class _Delayer:
    """Holds a connection's writes for ``delay`` seconds each, then writes them in order.

    A thread of its own does the late writes, so neither the I/O thread nor the user's
    is blocked; once it holds ``_DELAY_QUEUE_LIMIT`` bytes, ``send`` reports would-block.
    """

    def __init__(self, sock: ChaosSocket, delay: float) -> None:
        self.sock = sock
        self.delay = delay
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.held = 0
        self.error: OSError | None = None
        self.closing = False
        self.finished = False  # set, under the condition, when the thread stops writing
        self.shutdown_after_flush = False
        self.condition = threading.Condition()
        self.thread = threading.Thread(
            target=self._run, name=f"chaos-delay-{sock.fileno()}", daemon=True
        )
        self.thread.start()

    def check(self) -> None:
        error = self.error
        if error is not None:
            raise OSError(error.errno, f"chaos (delayed write): {error.strerror}")

    def holds_data(self) -> bool:
        with self.condition:
            return bool(self.queue)

    def push(self, data: memoryview) -> int:
        with self.condition:
            if self.held >= _DELAY_QUEUE_LIMIT:
                raise BlockingIOError(errno.EAGAIN, "chaos: the delay queue is full")
            self.queue.append((time.monotonic() + self.delay, bytes(data)))
            self.held += data.nbytes
            self.condition.notify()
        return data.nbytes

    def close_after_flush(self) -> bool:
        """True if the thread will close the socket; False if it may be closed now."""
        with self.condition:
            self.closing = True
            self.condition.notify()
            # Decided under the lock the thread takes before it stops: asking whether the
            # thread is alive instead left a window (the thread past its last look at
            # `closing`, not yet dead) in which nobody closed the socket.
            return not self.finished

    def _run(self) -> None:
        try:
            self._write_when_due()
        finally:
            with self.condition:
                self.queue.clear()
                self.held = 0
                self.finished = True
                closing = self.closing
            if closing:
                self.sock.raw_close()

    def _write_when_due(self) -> None:
        deadline: float | None = None
        while True:
            with self.condition:
                while True:
                    if self.closing and deadline is None:
                        deadline = time.monotonic() + _CLOSE_FLUSH_LIMIT
                    if not self.queue:
                        if self.closing:
                            if self.shutdown_after_flush:
                                with contextlib.suppress(OSError):
                                    socket.socket.shutdown(self.sock, socket.SHUT_WR)
                            return
                        self.condition.wait()
                        continue
                    wait = self.queue[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self.condition.wait(wait)
                data = self.queue[0][1]
            try:
                sent = self.sock.raw_send(memoryview(data))
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    return
                select.select([], [self.sock], [], 0.05)
                continue
            except OSError as exc:
                self.error = exc
                return
            with self.condition:
                self.held -= sent
                if sent == len(data):
                    self.queue.popleft()
                else:
                    self.queue[0] = (self.queue[0][0], data[sent:])


class ChaosTransport(StreamTransport):
    """A stream transport found by ``inner_scheme``, with faults on its connections."""

    name = "chaos"
    inner_scheme: ClassVar[str] = ""

    def __init__(self) -> None:
        inner = get_registry().transport(self.inner_scheme)()
        if not isinstance(inner, StreamTransport):
            raise EndpointError(f"{self.name}: {self.inner_scheme}:// is not a stream transport")
        self.inner = inner

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> ChaosAddress:
        where, _, query = address.partition("?")
        settings = parse_settings(query, f"{self.name}://{address}")
        return ChaosAddress(self.inner.parse(where, bind=bind, options=options), settings, query)

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        sock, endpoint = self.inner.listen(_check(address).inner, options)
        # The faults stay out of last_endpoint: a peer connects with its own.
        return sock, f"chaos+{endpoint}"

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        return self.inner.connect(_check(address).inner, options)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        self.inner.accepted(sock, options)

    def wrap(
        self, sock: socket.socket, address: Any, options: Mapping[str, Any], *, server_side: bool
    ) -> socket.socket | None:
        addr = _check(address)
        if not addr.settings.active:
            return None
        return ChaosSocket(sock, addr.settings, addr.rng())

    def close_listener(self, sock: socket.socket, address: Any) -> None:
        self.inner.close_listener(sock, _check(address).inner)

    def peer_address(self, sock: socket.socket) -> str:
        return self.inner.peer_address(sock)


class ChaosTcpTransport(ChaosTransport):
    """``chaos+tcp://host:port?settings``: tcp with faults."""

    name = "chaos+tcp"
    inner_scheme = "tcp"


class ChaosIpcTransport(ChaosTransport):
    """``chaos+ipc://path?settings``: ipc with faults."""

    name = "chaos+ipc"
    inner_scheme = "ipc"


def _check(address: Any) -> ChaosAddress:
    if not isinstance(address, ChaosAddress):
        raise TypeError(f"chaos transport: expected a parsed ChaosAddress, got {address!r}")
    return address
