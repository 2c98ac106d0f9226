"""The context: configuration, plugins and I/O threads shared by a group of sockets."""

from __future__ import annotations

import atexit
import contextlib
import errno
import inspect
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from functools import cache
from types import GenericAlias, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import ValidationError

from mqsdk._kernel.poller import PollerBackend
from mqsdk._kernel.reactor import Reactor
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk.config import Config, load_config
from mqsdk.errors import ConfigError, ContextTerminated, MQError

if TYPE_CHECKING:
    from mqsdk._kernel.core import SocketCore
    from mqsdk._kernel.socket import Socket


# libzmq's context options (zmq_ctx_set/zmq_ctx_get) that mean something here, by name.
# THREAD_PRIORITY, THREAD_SCHED_POLICY and the CPU affinity options have no portable
# Python equivalent, MAX_MSGSZ and MSG_T_SIZE describe libzmq's internals: asking for
# them is refused (EINVAL, as libzmq does for an option it does not know).
CONTEXT_OPTIONS: Mapping[str, int] = {
    "io_threads": 1,
    "max_sockets": 2,
    "socket_limit": 3,
    "thread_name_prefix": 9,
    "ipv6": 42,
    "blocky": 70,
}
_CONTEXT_OPTION_NAMES = {number: name for name, number in CONTEXT_OPTIONS.items()}
_READ_ONLY_CONTEXT_OPTIONS = frozenset({"socket_limit"})
# libzmq's defaults: ZMQ_MAX_SOCKETS_DFLT, and the socket limit of a select()-free build.
_DEFAULT_MAX_SOCKETS = 1023
_SOCKET_LIMIT = 65535

_exiting = False


@atexit.register
def _notice_exit() -> None:
    # A context collected while the interpreter shuts down is left alone: its I/O
    # threads are stopped by then, and joining them could hang the exit.
    global _exiting
    _exiting = True


@cache
def _socket_option_numbers() -> dict[str, int]:
    """Socket options' libzmq numbers by name, single-option aliases included, to key
    context-wide defaults as pyzmq does."""
    from mqsdk._kernel.options import ALIASES, all_option_numbers

    numbers = all_option_numbers()
    for alias, targets in ALIASES.items():
        if len(targets) == 1 and targets[0] in numbers:
            numbers[alias] = numbers[targets[0]]
    return numbers


def _is_socket_option(name: str) -> bool:
    from mqsdk._kernel.options import ALIASES

    return name in _socket_option_numbers() or name in ALIASES


class _ContextState:
    """What a context and its shadows share: one context seen through several objects,
    as libzmq's context is through several pyzmq ``Context`` objects."""

    def __init__(self, config: Config, registry: Registry) -> None:
        self.config = config
        self.registry = registry
        self.poller_class: type[PollerBackend] = registry.choose_poller()
        self.shared: dict[str, Any] = {}
        self.shared_lock = threading.Lock()
        self.lock = threading.Lock()
        # Held while a socket is made, from the max_sockets check until it counts: two
        # threads making sockets at once cannot both take the last place. Reentrant: a
        # socket class may make another socket (a monitor) while it is made.
        self.socket_creation = threading.RLock()
        self.reactors: list[Reactor] = []
        self.next_reactor = itertools.count()
        self.closed = False
        self.sockets: set[Socket] = set()
        self.lingering: set[object] = set()
        self.linger_done = threading.Condition(self.lock)
        self.io_threads = config.io_threads
        self.max_sockets = _DEFAULT_MAX_SOCKETS
        self.thread_name_prefix = 0
        self.ipv6 = False
        self.blocky = True
        self.pid = os.getpid()


# ``Context.underlying`` -> the state, for ``Context.shadow(address)``.
_live_states: weakref.WeakValueDictionary[int, _ContextState] = weakref.WeakValueDictionary()


class Context:
    """Owns the plugin registry, the I/O threads and the sockets made from it.

    ``Context()`` reads the configuration (code > environment > file > defaults; see
    :mod:`mqsdk.config`) and resolves the poller at once, so a bad setting fails here.
    I/O threads start on first use and stop in :meth:`term`. Thread-safe.

    As in pyzmq, context options are attributes (``ctx.io_threads``, ``ctx.max_sockets``,
    also upper case) and so are socket options, which become defaults for the sockets
    made afterwards (``ctx.linger = 0``; see :meth:`setsockopt`). Setting any other
    attribute not declared on the class raises AttributeError, so a typo is not lost.
    ``Context(other)`` or ``Context.shadow(other)`` is a second object for the same
    context (see :meth:`shadow`).
    """

    # pyzmq's Context is generic (``zmq.Context[zmq.Socket[bytes]]``), and programs use
    # that in annotations evaluated at run time: subscripting works, as on pyzmq's.
    def __class_getitem__(cls, params: Any) -> GenericAlias:
        return GenericAlias(cls, params)

    _instance: ClassVar[Context | None] = None
    _instance_pid: ClassVar[int | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()
    _socket_class: ClassVar[Callable[..., Socket] | None] = None
    """What :meth:`socket` makes when not told (None: :class:`mqsdk.Socket`)."""

    config: Config
    """The effective configuration (code > environment > file > defaults)."""
    registry: Registry
    """The plugins this context uses: transports, patterns, mechanisms, pollers."""
    poller_class: type[PollerBackend]
    """The poller backend chosen for this context's I/O threads."""
    shared: dict[str, Any]
    """Per-context state of plugins (the inproc namespace...), keyed by plugin."""
    shared_lock: threading.Lock
    """Guards :attr:`shared`."""
    sockopts: dict[int | str, Any]
    """Default socket options for new sockets, keyed by libzmq number (by name for an
    option without one); see :meth:`setsockopt`."""
    _state: _ContextState
    _shadow: bool
    _shadow_of: Context | None

    def __init__(
        self,
        io_threads: int | Context | None = None,
        shadow: Context | int | None = None,
        *,
        config: Config | Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(io_threads, Context):  # pyzmq's Context(other): a shadow
            shadow, io_threads = io_threads, None
        self.sockopts = {}
        if shadow is not None and shadow is not False and shadow != 0:
            if config is not None:
                raise TypeError("a shadow shares its context's configuration: omit config=")
            self._adopt(_state_of(shadow))
            self._shadow = True
            # Kept alive as long as its shadow, as pyzmq keeps the object it was given.
            self._shadow_of = shadow if isinstance(shadow, Context) else None
            return
        code: dict[str, Any] = {}
        if isinstance(config, Config):
            code = {name: getattr(config, name) for name in config.model_fields_set}
        elif config is not None:
            code = dict(config)
        if io_threads is not None:
            code["io_threads"] = io_threads
        loaded = load_config(code)
        self._shadow = False
        self._shadow_of = None
        self._adopt(_ContextState(loaded.config, get_registry(loaded)))
        _live_states[id(self._state)] = self._state
        self.registry.notify("mqsdk_context_created", context=self, config=self.config)

    def _adopt(self, state: _ContextState) -> None:
        self._state = state
        # Plain attributes, read on hot paths; a shadow holds the same objects.
        self.config = state.config
        self.registry = state.registry
        self.poller_class = state.poller_class
        self.shared = state.shared
        self.shared_lock = state.shared_lock

    @classmethod
    def instance(cls, io_threads: int | None = None) -> Context:
        """A process-wide shared context, created on first call (like pyzmq's).

        One per process: after ``os.fork()`` the child gets a new one (the parent's I/O
        threads do not exist there). A terminated one is replaced. ``cls._instance`` is
        looked up through the class hierarchy and stored on ``cls``, as pyzmq does.
        """
        with cls._instance_lock:
            current = cls._instance
            if current is None or current.closed or cls._instance_pid != os.getpid():
                current = cls._instance = cls(io_threads=io_threads)
                cls._instance_pid = os.getpid()
            return current

    @classmethod
    def shadow(cls, address: Context | int) -> Context:
        """Another object for the same context: ``address`` is a context or its
        :attr:`underlying`. Sockets made from either are in the same context (inproc
        endpoints included); terminating either terminates it; deleting a shadow does
        not. Its default socket options (:attr:`sockopts`) are its own."""
        return cls(shadow=address)

    @property
    def underlying(self) -> int:
        """A number naming this context in the process, for :meth:`shadow` (pyzmq: the
        address of the libzmq context)."""
        return id(self._state)

    @property
    def closed(self) -> bool:
        """True once the context is terminated (:meth:`term` or :meth:`destroy`)."""
        return self._state.closed

    @property
    def io_threads(self) -> int:
        """How many I/O threads the context runs (settable before the first socket)."""
        return self._state.io_threads

    @io_threads.setter
    def io_threads(self, value: int) -> None:
        self.set("io_threads", value)

    def reactor(self) -> Reactor:
        """An I/O thread to hand work to, started on first use; spread round-robin."""
        state = self._state
        with state.lock:
            if state.closed:
                raise ContextTerminated("the context was terminated")
            if not state.reactors:
                prefix = f"{state.thread_name_prefix}/" if state.thread_name_prefix else ""
                state.reactors = [
                    Reactor(self.poller_class, name=f"{prefix}mqsdk-io-{index}")
                    for index in range(state.io_threads)
                ]
                for reactor in state.reactors:
                    reactor.start()
            return state.reactors[next(state.next_reactor) % len(state.reactors)]

    # -- context options -----------------------------------------------------------------

    def _context_option(self, option: int | str) -> str:
        name = option.lower() if isinstance(option, str) else _CONTEXT_OPTION_NAMES.get(option)
        if name is None or name not in CONTEXT_OPTIONS:
            raise MQError(
                f"unknown or unsupported context option {option!r} (mqsdk has: "
                f"{', '.join(CONTEXT_OPTIONS)})",
                errno.EINVAL,
            )
        return name

    def set(self, option: int | str, value: int) -> None:
        """Set a context option (``zmq_ctx_set``) by libzmq number or name:
        ``io_threads`` (before the first socket), ``max_sockets``, ``thread_name_prefix``
        (I/O thread names, before the first socket), ``ipv6`` and ``blocky`` (defaults
        for new sockets: IPv6, and LINGER 0 when false)."""
        name = self._context_option(option)
        if name in _READ_ONLY_CONTEXT_OPTIONS:
            raise MQError(f"context option {name} is read-only", errno.EINVAL)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"context option {name} takes an int, not {value!r}")
        state = self._state
        with state.lock:
            if state.closed:
                raise ContextTerminated("the context was terminated")
            if name in ("io_threads", "thread_name_prefix") and state.reactors:
                raise MQError(
                    f"context option {name} can only change before the I/O threads start "
                    "(before the first socket)",
                    errno.EINVAL,
                )
            if name == "io_threads":
                try:
                    Config(io_threads=value)
                except ValidationError as exc:
                    raise ConfigError(
                        f"io_threads={value!r}: {exc.errors()[0]['msg']}", errno.EINVAL
                    ) from None
                state.io_threads = value
            elif name == "max_sockets":
                if not 1 <= value <= _SOCKET_LIMIT:
                    raise MQError(f"max_sockets={value}: allowed 1..{_SOCKET_LIMIT}", errno.EINVAL)
                state.max_sockets = value
            elif name == "thread_name_prefix":
                state.thread_name_prefix = value
            elif name == "ipv6":
                state.ipv6 = bool(value)
            else:
                state.blocky = bool(value)

    def get(self, option: int | str) -> int:
        """A context option's value (``zmq_ctx_get``); see :meth:`set`, plus the read-only
        ``socket_limit`` (the highest ``max_sockets`` allowed)."""
        name = self._context_option(option)
        state = self._state
        if state.closed:
            raise ContextTerminated("the context was terminated")
        values = {
            "io_threads": state.io_threads,
            "max_sockets": state.max_sockets,
            "socket_limit": _SOCKET_LIMIT,
            "thread_name_prefix": state.thread_name_prefix,
            "ipv6": int(state.ipv6),
            "blocky": int(state.blocky),
        }
        return values[name]

    # -- default socket options ------------------------------------------------------------

    def setsockopt(self, option: int | str, value: Any) -> None:
        """Make ``value`` the default of a socket option for the sockets made from now on
        by this object (pyzmq's ``ctx.setsockopt``). A default that does not apply to a
        socket's type (``subscribe`` for a PUSH) is left out for that socket."""
        self.sockopts[_sockopt_key(option)] = value

    def getsockopt(self, option: int | str) -> Any:
        """The default set with :meth:`setsockopt` (KeyError if none)."""
        return self.sockopts[_sockopt_key(option)]

    # -- attributes: options as in pyzmq -----------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__ or _declared(type(self), name):
            object.__setattr__(self, name, value)
            return
        option = name.lower()
        if option in CONTEXT_OPTIONS:
            self.set(option, value)
        elif _is_socket_option(option):
            self.setsockopt(option, value)
        else:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r} (and no context or socket "
                "option of that name)"
            )

    def __getattr__(self, name: str) -> Any:
        # Only for names not found the ordinary way: options by attribute.
        option = name.lower()
        if not name.startswith("_"):
            if option in CONTEXT_OPTIONS:
                return self.get(option)
            if _is_socket_option(option):
                key = _sockopt_key(option)
                if key in self.sockopts:
                    return self.sockopts[key]
                raise AttributeError(f"no default set for socket option {name!r}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__:
            object.__delattr__(self, name)
            return
        key = _sockopt_key(name) if _is_socket_option(name.lower()) else None
        if key is None or key not in self.sockopts:
            raise AttributeError(name)
        del self.sockopts[key]

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *(name.upper() for name in CONTEXT_OPTIONS)]

    # -- sockets -------------------------------------------------------------------------------

    def socket(
        self,
        socket_type: int | str,
        socket_class: Callable[..., Socket] | None = None,
        **kwargs: Any,
    ) -> Socket:
        """A new socket of ``socket_type`` (``mqsdk.PUSH``, 8, or ``"PUSH"``).

        ``socket_class`` (default: the context class's ``_socket_class``, else
        :class:`mqsdk.Socket`) is called as ``socket_class(context, socket_type,
        **kwargs)``. The defaults of :meth:`setsockopt` are applied to it.
        """
        state = self._state
        if state.closed:
            raise ContextTerminated(
                # libzmq answers EFAULT for a handle to a terminated context.
                "the context this shadow refers to was terminated"
                if self._shadow
                else "the context was terminated",
                errno.EFAULT if self._shadow else None,
            )
        if socket_class is None:
            socket_class = self._socket_class
        if socket_class is None:
            from mqsdk._kernel.socket import Socket

            socket_class = Socket
        with state.socket_creation:
            with state.lock:
                if len(state.sockets) >= state.max_sockets:
                    raise MQError(
                        f"too many sockets: this context allows {state.max_sockets} "
                        "(the max_sockets context option)",
                        errno.EMFILE,
                    )
            socket = socket_class(self, socket_type, **kwargs)
        defaults: dict[int | str, Any] = {}
        if state.ipv6:
            defaults["ipv6"] = 1
        if not state.blocky:
            defaults["linger"] = 0
        defaults.update(self.sockopts)
        for option, value in defaults.items():
            try:
                socket.set(option, value)
            except TypeError:
                socket.close(0)
                raise  # a value of the wrong type is a mistake for every socket type
            except MQError:
                pass  # an option this socket type does not have (SUBSCRIBE on a PUSH)
        return socket

    def _socket_opened(self, socket: SocketCore) -> None:
        with self._state.lock:
            self._state.sockets.add(cast("Socket", socket))

    def _socket_closed(self, socket: Socket) -> None:
        with self._state.lock:
            self._state.sockets.discard(socket)

    def _linger_started(self, item: object) -> None:
        """A closed socket's connection keeps going until its messages are out."""
        with self._state.lock:
            self._state.lingering.add(item)

    def _linger_finished(self, item: object) -> None:
        with self._state.lock:
            self._state.lingering.discard(item)
            self._state.linger_done.notify_all()

    # -- termination -------------------------------------------------------------------------

    def term(self) -> None:
        """Terminate: close the sockets still open, wait for lingering messages, stop
        the I/O threads and release their fds. Idempotent. On a shadow, terminates the
        context it shadows.

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
        state = self._state
        if state.pid != os.getpid():
            # Inherited through os.fork(): its I/O threads and connections are the
            # parent's, absent here; the child just stops using it (as pyzmq does).
            state.closed = True
            return
        with state.lock:
            if state.closed:
                return
            # Marked before any socket closes: a thread woken by the close must learn
            # that the context went (ContextTerminated), not just that its socket did.
            state.closed = True
            sockets = list(state.sockets)
        for socket in sockets:
            socket._waker.wake()
        for socket in sockets:
            socket.close(linger)
        with state.lock:
            while state.lingering:
                state.linger_done.wait(1.0)
            reactors, state.reactors = state.reactors, []
        for reactor in reactors:
            reactor.stop()
        self.registry.notify("mqsdk_context_terminated", context=self)

    def __del__(self) -> None:
        # A context dropped without term(): stop its I/O threads, as pyzmq does. Its
        # sockets are garbage too (they would keep it alive otherwise): no linger. A
        # shadow leaves the context to its owner.
        state: _ContextState | None = self.__dict__.get("_state")
        if state is None or state.closed or self.__dict__.get("_shadow", True) or _exiting:
            return
        # A finaliser must not raise, and has no caller to report to.
        with contextlib.suppress(Exception):
            self._terminate(0)

    def __copy__(self) -> Context:
        """A copy is a shadow: the same context (pyzmq's behaviour)."""
        return type(self).shadow(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Context:
        return type(self).shadow(self)

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
        if self.closed:
            state = "terminated"
        else:
            count = len(self._state.sockets)
            state = f"{count} socket{'' if count == 1 else 's'} poller={self.poller_class.name}"
        shadow = " shadow" if self._shadow else ""
        return f"<mqsdk.Context{shadow} {state} io_threads={self.io_threads}>"


def _declared(cls: type, name: str) -> bool:
    """Whether a class (or a base) defines or annotates ``name``: an ordinary attribute."""
    return any(
        name in klass.__dict__ or name in inspect.get_annotations(klass) for klass in cls.__mro__
    )


def _sockopt_key(option: int | str) -> int | str:
    """pyzmq keys context-wide socket defaults by libzmq number; mqsdk accepts names too."""
    if isinstance(option, str):
        name = option.lower()
        return _socket_option_numbers().get(name, name)
    return option


def _state_of(shadowed: Context | int) -> _ContextState:
    if isinstance(shadowed, Context):
        return shadowed._state
    if not isinstance(shadowed, int):
        raise TypeError(f"shadow takes a Context or its .underlying, not {shadowed!r}")
    state = _live_states.get(shadowed)
    if state is None:
        raise MQError(
            f"no context with underlying={shadowed} in this process "
            "(pass a Context's .underlying, or the Context itself)",
            errno.EFAULT,
        )
    return state


def _reset_after_fork() -> None:
    # The parent may have held the lock while forking; the child has no such thread.
    Context._instance_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
