"""The context: configuration, plugins and I/O threads shared by a group of sockets."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from mqsdk._kernel.poller import PollerBackend
from mqsdk._kernel.reactor import Reactor
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk.config import Config, load_config
from mqsdk.errors import ContextTerminated

if TYPE_CHECKING:
    from mqsdk._kernel.core import SocketCore
    from mqsdk._kernel.socket import Socket


class Context:
    """Owns the plugin registry, the I/O threads and (later) the sockets made from it.

    ``Context()`` reads the configuration (code > environment > file > defaults; see
    :mod:`mqsdk.config`) and resolves the poller at once, so a bad setting fails here.
    I/O threads start on first use and stop in :meth:`term`. Thread-safe.
    """

    _instance: ClassVar[Context | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        io_threads: int | None = None,
        *,
        config: Config | Mapping[str, Any] | None = None,
    ) -> None:
        code: dict[str, Any] = {}
        if isinstance(config, Config):
            code = {name: getattr(config, name) for name in config.model_fields_set}
        elif config is not None:
            code = dict(config)
        if io_threads is not None:
            code["io_threads"] = io_threads
        loaded = load_config(code)
        self.config: Config = loaded.config
        self.registry: Registry = get_registry(loaded)
        self.poller_class: type[PollerBackend] = self.registry.choose_poller()
        self._lock = threading.Lock()
        self._reactors: list[Reactor] = []
        self._next_reactor = itertools.count()
        self._closed = False
        self._sockets: set[Socket] = set()
        self.shared: dict[str, Any] = {}
        """Per-context state of plugins (the inproc namespace...), keyed by plugin."""
        self.shared_lock = threading.Lock()
        self._lingering: set[object] = set()
        self._linger_done = threading.Condition(self._lock)
        self.registry.notify("mqsdk_context_created", context=self, config=self.config)

    @classmethod
    def instance(cls, io_threads: int | None = None) -> Context:
        """A process-wide shared context, created on first call (like pyzmq's)."""
        with cls._instance_lock:
            if cls._instance is None or cls._instance.closed:
                cls._instance = cls(io_threads)
            return cls._instance

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def io_threads(self) -> int:
        return self.config.io_threads

    def reactor(self) -> Reactor:
        """An I/O thread to hand work to, started on first use; spread round-robin."""
        with self._lock:
            if self._closed:
                raise ContextTerminated("the context was terminated")
            if not self._reactors:
                self._reactors = [
                    Reactor(self.poller_class, name=f"mqsdk-io-{index}")
                    for index in range(self.config.io_threads)
                ]
                for reactor in self._reactors:
                    reactor.start()
            return self._reactors[next(self._next_reactor) % len(self._reactors)]

    def socket(self, socket_type: int | str) -> Socket:
        """A new socket of ``socket_type`` (``mqsdk.PUSH``, 8, or ``"PUSH"``)."""
        from mqsdk._kernel.socket import Socket

        if self._closed:
            raise ContextTerminated("the context was terminated")
        socket: Socket = Socket(self, socket_type)
        return socket

    def _socket_opened(self, socket: SocketCore) -> None:
        with self._lock:
            self._sockets.add(cast("Socket", socket))

    def _socket_closed(self, socket: Socket) -> None:
        with self._lock:
            self._sockets.discard(socket)

    def _linger_started(self, item: object) -> None:
        """A closed socket's connection keeps going until its messages are out."""
        with self._lock:
            self._lingering.add(item)

    def _linger_finished(self, item: object) -> None:
        with self._lock:
            self._lingering.discard(item)
            self._linger_done.notify_all()

    def term(self) -> None:
        """Terminate: close the sockets still open, wait for lingering messages, stop
        the I/O threads and release their fds. Idempotent.

        Unlike libzmq, ``term()`` does not wait for other threads to close their
        sockets: it closes them (with their linger), and a thread blocked in one of
        them gets :class:`~mqsdk.errors.ContextTerminated`.
        """
        self._terminate(None)

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket with ``linger`` ms (None: each socket's own), then terminate
        as :meth:`term` does; a thread blocked in one of them gets
        :class:`~mqsdk.errors.ContextTerminated` too."""
        self._terminate(linger)

    def _terminate(self, linger: int | None) -> None:
        with self._lock:
            if self._closed:
                return
            # Marked before any socket closes: a thread woken by the close must learn
            # that the context went (ContextTerminated), not just that its socket did.
            self._closed = True
            sockets = list(self._sockets)
        for socket in sockets:
            socket._waker.wake()
        for socket in sockets:
            socket.close(linger)
        with self._lock:
            while self._lingering:
                self._linger_done.wait(1.0)
            reactors, self._reactors = self._reactors, []
        for reactor in reactors:
            reactor.stop()
        self.registry.notify("mqsdk_context_terminated", context=self)

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.term()

    def __repr__(self) -> str:
        state = "terminated" if self._closed else f"poller={self.poller_class.name}"
        return f"<mqsdk.Context {state} io_threads={self.config.io_threads}>"
