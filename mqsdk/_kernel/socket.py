"""The socket: pyzmq's API on top of the socket core (:mod:`mqsdk._kernel.core`).

Hot paths (``send``/``recv`` when a message can go or is waiting) are a few attribute
reads and one call into the pattern's routing brick (or the pattern, for types with a
per-message policy). Everything slower lives in ``_slow`` methods: reading the
connections in this thread, waiting, and applying what the I/O thread reported.

Threads: a socket belongs to one thread at a time (as in ZeroMQ), except a thread-safe
pattern's (:mod:`mqsdk._kernel.threadsafe`, which serialises its users). The I/O thread never
calls the pattern's routing methods; it reports new and gone pipes through
``_pipe_events``, which the user's thread applies at its next call, the way libzmq
processes its command mailbox.
"""

from __future__ import annotations

import builtins
import codecs
import contextlib
import errno
import functools
import json
import logging
import pickle
import time
import types
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import ValidationError

from mqsdk._kernel.core import SocketCore
from mqsdk._kernel.endpoints import Connecter, Listener
from mqsdk._kernel.frame import COPY_THRESHOLD, group_bytes
from mqsdk._kernel.install_hints import option_install_hint
from mqsdk._kernel.options import (
    ALIASES,
    PLUGIN_OPTION_NUMBERS,
    OptionSpec,
    OptionTable,
)
from mqsdk._kernel.pipe import PeerInfo
from mqsdk._kernel.reactor import Waker
from mqsdk._kernel.transport import MessageTransport, StreamTransport, Transport
from mqsdk.constants import NOBLOCK, POLLIN, POLLOUT
from mqsdk.errors import (
    ENOCOMPATPROTO,
    ContextTerminated,
    EndpointError,
    MQError,
    OptionTypeError,
    UnsupportedTransport,
)
from mqsdk.monitor import Event, MonitorEvent

if TYPE_CHECKING:
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.pattern import Pattern

log = logging.getLogger(__name__)


def _endpoint_text(endpoint: str | bytes) -> str:
    # ``last_endpoint`` is bytes (libzmq's option type), and pyzmq code passes it straight
    # back: ``b.connect(a.last_endpoint)``. Anything else is left for _transport to reject.
    if isinstance(endpoint, bytes):
        return endpoint.decode("utf-8")
    return endpoint


class Socket(SocketCore):
    """A ZeroMQ-style socket. Create it with :meth:`mqsdk.Context.socket`.

    Option attributes (``sock.sndhwm = 10``, ``sub.subscribe = b"x"``) are properties of
    a subclass made once per socket class and option table (an internal detail):
    the instance's class is that subclass, named as its base. Instances have no
    ``__dict__``, so setting an unknown public name (a typo such as ``rcvtimout``) raises
    AttributeError, as pyzmq does, without a Python ``__setattr__`` that every internal
    store on the hot path would pay for. Subclasses may declare ``__slots__`` to stay
    strict, or not and take any attribute.
    """

    # pyzmq's Socket is generic (``zmq.Socket[bytes]``), used so in annotations evaluated
    # at run time: subscripting works, as on pyzmq's.
    def __class_getitem__(cls, params: Any) -> types.GenericAlias:
        return types.GenericAlias(cls, params)

    # Compiled, SocketCore is a native class without a weak-reference slot (mypyc
    # gives none); the slot is added here then. Pure, SocketCore's __slots__ has it.
    __slots__ = (
        ("_copy_threshold", "_monitor_reader")
        if hasattr(SocketCore, "__weakref__")
        else ("__weakref__", "_copy_threshold", "_monitor_reader")
    )
    _monitor_reader: Socket | None  # get_monitor_socket's PAIR, handed out again while open

    _options_of_class: ClassVar[OptionTable | None] = None

    if TYPE_CHECKING:
        # For type checkers only: option attributes and pattern methods exist per socket
        # type (see _options_class), so they are typed Any, as pyzmq's are. At run time
        # there is no __getattr__/__setattr__: either would slow every attribute access
        # on the hot path (CPython does not specialise them).
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    _shadow: ClassVar[bool] = False  # pyzmq's flag; a ShadowSocket says True

    def __new__(
        cls,
        context: Context | Socket | ShadowSocket | int | None = None,
        socket_type: int | str | None = None,
        *args: Any,
        shadow: Socket | ShadowSocket | int | None = None,
        **kwargs: Any,
    ) -> Any:
        # pyzmq's Socket(other_socket) and Socket(shadow=address): another handle on
        # an existing socket (__init__ does not run: the result is not a new Socket).
        if shadow is not None:
            return cls.shadow(shadow)
        if isinstance(context, Socket | ShadowSocket):
            return cls.shadow(context)
        if context is None or isinstance(context, int) or socket_type is None:
            raise TypeError("Socket(context, socket_type): both are needed (or a socket to shadow)")
        pattern_class = context.registry.pattern(socket_type)
        table = context.registry.option_table(pattern_class)
        base: type[Socket] = cls
        if pattern_class.thread_safe and cls is Socket:
            # Imported here: it builds on this module.
            from mqsdk._kernel.threadsafe import ThreadSafeSocket

            base = ThreadSafeSocket
        return SocketCore.__new__(_options_class(base, table, pattern_class))

    def __init__(
        self, context: Context, socket_type: int | str, *, copy_threshold: int | None = None
    ) -> None:
        super().__init__(context, socket_type)
        if copy_threshold is not None:
            self.copy_threshold = copy_threshold

    # -- options -----------------------------------------------------------------------

    def _option_name(self, option: int | str) -> str:
        if isinstance(option, str):
            return option.lower()
        name = self._option_table.by_number.get(option)
        if name is None:
            owned = next((n for n, v in PLUGIN_OPTION_NUMBERS.items() if v == option), "")
            raise MQError(
                f"unknown socket option number {option} for a {self.socket_type_name} socket"
                + option_install_hint(owned),
                errno.EINVAL,
            )
        return name

    def _unknown_option(self, name: str) -> MQError:
        return MQError(
            f"unknown socket option {name!r} for a {self.socket_type_name} socket"
            + (option_install_hint(name) or self._option_table.suggest(name)),
            errno.EINVAL,
        )

    def _refuse_closed(self) -> None:
        if self._closed:
            raise MQError(f"the {self.socket_type_name} socket is closed", errno.ENOTSOCK)

    def _check_value_type(self, spec: OptionSpec, value: Any) -> None:
        """Anything but an int for an integer option (``"5"`` is not 5, though pydantic
        would take it) is refused for its type: pyzmq's TypeError, see OptionTypeError.
        A bytes option's own validation decides (some take str too)."""
        if _expected_type(spec) is not int or isinstance(value, int):
            return
        reason = f"it takes an int, not {type(value).__name__}"
        if spec.model is not None:
            # The option's own explanation where it has one ("it takes 0 or 1").
            trial = self._component_options[spec.model].model_copy()
            try:
                setattr(trial, spec.name, value)
            except ValidationError as exc:
                reason = "; ".join(
                    str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
                )
        raise OptionTypeError(f"invalid value {value!r} for socket option {spec.name}: {reason}")

    def set(self, option: int | str, value: Any) -> None:
        """Set an option by name or libzmq number (``setsockopt``)."""
        self._refuse_closed()
        if (
            isinstance(option, int)
            and option not in self._option_table.by_number
            and option not in PLUGIN_OPTION_NUMBERS.values()
            and not isinstance(value, int)
        ):
            # As libzmq's unknown numbers reach it only as ints in pyzmq: a wrong type
            # is the caller's mistake whatever the number. (A known option of another
            # socket type, SUBSCRIBE on a REQ, is EINVAL below, as in libzmq.)
            raise OptionTypeError(
                f"invalid value {value!r} for socket option {option}: "
                f"it takes an int, not {type(value).__name__}"
            )
        name = self._option_name(option)
        spec = self._option_table.specs.get(name)
        if spec is None:
            targets = ALIASES.get(name)
            if targets is None:
                raise self._unknown_option(name)
            for target in targets:
                self.set(target, value)
            return
        self._check_value_type(spec, value)
        if spec.model is None:
            if name == "ipv4only":
                self.set("ipv6", 0 if value else 1)
                return
            if spec.kind == "unsupported":
                if value == spec.default:
                    return
                raise MQError(
                    f"socket option {name} is not implemented by mqsdk; it stays {spec.default!r}",
                    errno.EINVAL,
                )
            raise MQError(f"socket option {name} is read-only", errno.EINVAL)
        values = self._component_options[spec.model]
        try:
            if spec.selects_mechanism is not None:
                # Refuse a mechanism that cannot run here before anything changes.
                trial = values.model_copy()
                setattr(trial, name, value)
                self.security.check(spec, getattr(trial, name))
            setattr(values, name, value)
        except ValidationError as exc:
            reason = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            if _expected_type(spec) is bytes and not isinstance(
                value, bytes | bytearray | memoryview
            ):
                # Refused for its type (a str for subscribe or routing_id, an int for
                # a key): pyzmq raises TypeError there, mqsdk an EINVAL; this is both.
                raise OptionTypeError(
                    f"invalid value {value!r} for socket option {name}: {reason}"
                ) from None
            raise MQError(
                f"invalid value {value!r} for socket option {name}: {reason}", errno.EINVAL
            ) from None
        if spec.selects_mechanism is not None:
            self.security.apply(spec, getattr(values, name))
        if spec.handler is not None:
            getattr(self.pattern, spec.handler)(getattr(values, name))

    def get(self, option: int | str) -> Any:
        """Read an option by name or libzmq number (``getsockopt``)."""
        self._refuse_closed()
        name = self._option_name(option)
        spec = self._option_table.specs.get(name)
        if spec is None:
            targets = ALIASES.get(name)
            if targets is None:
                raise self._unknown_option(name)
            return self.get(targets[0])  # pyzmq's hwm reads sndhwm
        if spec.model is not None:
            if spec.write_only:
                raise MQError(f"socket option {name} is write-only", errno.EINVAL)
            value = self._component_options[spec.model].read_option(name)
            if spec.selects_mechanism is not None:
                return self.security.read(spec, value)
            return value
        if name == "type":
            return self._type
        if name == "rcvmore":
            return int(self._rmsg is not None)
        if name == "last_endpoint":
            return self._last_endpoint.encode()
        if name == "mechanism":
            return self.security.number
        if name == "events":
            return self.poll_events()
        if name == "fd":
            return self.fileno()
        if name == "ipv4only":
            return 1 - self.options.ipv6
        if name == "thread_safe":
            return int(self.io_policy.shared)  # a thread-safe pattern's blocking socket
        return spec.default  # the options mqsdk does not implement

    setsockopt = set
    """pyzmq's name for :meth:`set`: ``sock.setsockopt(mqsdk.LINGER, 0)``."""
    getsockopt = get
    """pyzmq's name for :meth:`get`: ``sock.getsockopt(mqsdk.RCVMORE)``."""

    def subscribe(self, topic: bytes | str) -> None:
        """Subscribe to messages starting with ``topic`` (SUB; XPUB in manual mode)."""
        self.set("subscribe", topic.encode() if isinstance(topic, str) else topic)

    def unsubscribe(self, topic: bytes | str) -> None:
        """Cancel one earlier :meth:`subscribe` to ``topic``."""
        self.set("unsubscribe", topic.encode() if isinstance(topic, str) else topic)

    def join(self, group: str | bytes) -> None:
        """Receive the messages RADIOs send to ``group`` (DISH; at most 255 bytes; str is
        encoded as UTF-8). EINVAL if already joined, as in libzmq."""
        self._group_change(group, join=True)

    def leave(self, group: str | bytes) -> None:
        """Stop receiving ``group`` (DISH). EINVAL if it was not joined, as in libzmq."""
        self._group_change(group, join=False)

    def _group_change(self, group: str | bytes, *, join: bool) -> None:
        self._check_open()
        if self._pipe_events:
            self._apply_pipe_events()
        name = group_bytes(group)
        if join:
            self.pattern.join(name)
        else:
            self.pattern.leave(name)

    def setsockopt_string(self, option: int | str, value: str, encoding: str = "utf-8") -> None:
        """Set a bytes option from a str, encoded (``sock.setsockopt_string(mqsdk.SUBSCRIBE,
        "news")``)."""
        self.set(option, value.encode(encoding))

    def getsockopt_string(self, option: int | str, encoding: str = "utf-8") -> str:
        """A bytes option decoded (``routing_id``, ``last_endpoint``...); TypeError for
        an integer option, as pyzmq."""
        self._refuse_closed()
        name = self._option_name(option)
        spec = self._option_table.specs.get(ALIASES.get(name, (name,))[0])
        if spec is not None and bytes not in (_expected_type(spec), _declared_type(spec)):
            raise OptionTypeError(f"socket option {name} is not a bytes option: use get()")
        value = self.get(option)
        return value.decode(encoding) if isinstance(value, bytes) else str(value)

    # pyzmq's older names, from its Python 2 days.
    setsockopt_unicode = setsockopt_string
    """pyzmq's older name for :meth:`setsockopt_string`."""
    getsockopt_unicode = getsockopt_string
    """pyzmq's older name for :meth:`getsockopt_string`."""

    @property
    def closed(self) -> bool:
        """True once the socket is closed (by :meth:`close`, or by the context's
        ``destroy()``)."""
        return self._closed

    @property
    def copy_threshold(self) -> int:
        """Tracked sends (``track=True``) of at least this many bytes share the caller's
        buffer rather than copy it (pyzmq's attribute; default ``COPY_THRESHOLD``)."""
        threshold: int = getattr(self, "_copy_threshold", COPY_THRESHOLD)
        return threshold

    @copy_threshold.setter
    def copy_threshold(self, value: int) -> None:
        self._copy_threshold = int(value)

    # -- other handles on this socket (pyzmq's shadow sockets) -----------------------------

    @property
    def underlying(self) -> int:
        """A number naming this socket in this process (pyzmq gives libzmq's socket
        address): :meth:`shadow` turns it back into a handle on this socket."""
        address = id(self)
        _SOCKETS_BY_ADDRESS[address] = self
        return address

    @classmethod
    def shadow(cls, address: Socket | ShadowSocket | int) -> Socket:
        """Another handle on an existing socket, given as the socket or its
        :attr:`underlying` number (pyzmq's ``Socket.shadow``). The handle is the same
        socket: options, sends, receives and ``close()`` act on it."""
        target: Socket | None
        if isinstance(address, ShadowSocket):
            target = address._target
        elif isinstance(address, Socket):
            target = address
        elif isinstance(address, int):
            target = _SOCKETS_BY_ADDRESS.get(address)
            if target is None:
                raise MQError(
                    f"no socket of this process has the underlying number {address} "
                    "(closed and collected, or from another process)",
                    errno.ENOTSOCK,
                )
        else:
            raise TypeError(f"shadow takes a Socket or its underlying number, not {address!r}")
        if not isinstance(target, cls):
            raise TypeError(
                f"a {type(target).__module__}.{type(target).__qualname__} cannot be shadowed "
                f"as a {cls.__module__}.{cls.__qualname__}"
            )
        return cast("Socket", ShadowSocket(target, address))

    def __copy__(self) -> Socket:
        """A copy is a shadow: the same socket (pyzmq's behaviour)."""
        return type(self).shadow(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Socket:
        return type(self).shadow(self)

    @property
    def type(self) -> int:
        """The socket type number (``mqsdk.PUSH`` is 8)."""
        return self._type

    @property
    def socket_type(self) -> int:
        """The socket type number (pyzmq's name for :attr:`type`)."""
        return self._type

    @property
    def rcvmore(self) -> bool:
        """True when the frame just received is followed by more frames of the same
        message (the ``rcvmore`` option as a bool)."""
        return self._rmsg is not None

    @property
    def last_endpoint(self) -> bytes:
        """The endpoint of the last :meth:`bind` or :meth:`connect`, as resolved
        (``b"tcp://127.0.0.1:40123"`` after binding port 0 or ``*``); empty before."""
        return self._last_endpoint.encode()

    # -- endpoints ---------------------------------------------------------------------

    def _transport(self, endpoint: str) -> tuple[Transport, str]:
        if not isinstance(endpoint, str):
            raise TypeError(
                f"endpoint must be a str such as 'tcp://127.0.0.1:5555', "
                f"not {type(endpoint).__name__}"
            )
        scheme, sep, address = endpoint.partition("://")
        if not sep or not scheme:
            raise EndpointError(
                f"{endpoint!r} is not an endpoint; expected transport://address, "
                "e.g. tcp://127.0.0.1:5555 or ipc:///tmp/feed"
            )
        try:
            transport_class = self.context.registry.transport(scheme)
        except UnsupportedTransport as exc:
            # The registry names the scheme; the user wants to see the endpoint they gave.
            raise UnsupportedTransport(
                f"cannot use {endpoint!r}: {exc}",
                plugin=exc.plugin,
                distribution=exc.distribution,
                errno=exc.errno,
            ) from None
        return transport_class(), address

    def bind(self, endpoint: str | bytes) -> EndpointContext:
        """Listen on ``endpoint``; ``last_endpoint`` tells the address really bound.

        The result may be used as a context manager that unbinds on exit
        (``with sock.bind("tcp://127.0.0.1:0"): ...``), as in pyzmq."""
        endpoint = _endpoint_text(endpoint)
        self._bind(endpoint)
        return EndpointContext(self, "bind", self._last_endpoint or endpoint)

    def _bind(self, endpoint: str) -> None:
        self._check_open()
        if self._pipe_events:
            self._apply_pipe_events()
        transport, raw = self._transport(endpoint)
        if isinstance(transport, MessageTransport):
            resolved = transport.bind(self.handle, raw)
            self._message_endpoints[resolved] = transport
            if endpoint != resolved:
                self._message_endpoints.setdefault(endpoint, transport)
            self._last_endpoint = resolved
            return
        assert isinstance(transport, StreamTransport)
        self._check_raw_bytes(transport, endpoint)
        self._check_security()
        address = transport.parse(raw, bind=True, options=self.transport_options())
        try:
            sock, resolved = transport.listen(address, self.transport_options())
        except OSError as exc:
            self._event("bind_failed", endpoint, exc.errno or 0)
            raise MQError(
                f"cannot bind {endpoint}: {exc.strerror or exc}", exc.errno or errno.EINVAL
            ) from None
        listener = Listener(self, resolved, transport, address, sock, self.reactor)
        self._listeners[resolved] = listener
        if endpoint != resolved:
            self._listeners.setdefault(endpoint, listener)
        self._last_endpoint = resolved
        self._in_reactor(listener.start)

    def bind_to_random_port(
        self,
        addr: str,
        min_port: int = 49152,
        max_port: int = 65536,
        max_tries: int = 100,
    ) -> int:
        """Bind ``addr`` (``tcp://host``) to a free port in [min_port, max_port); return it."""
        if min_port == 49152 and max_port == 65536:
            self.bind(f"{addr}:*")
            return int(self._last_endpoint.rsplit(":", 1)[1])
        import random

        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except MQError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            return port
        raise MQError(
            f"no free port in [{min_port}, {max_port}) after {max_tries} tries", errno.EADDRINUSE
        )

    def connect(self, endpoint: str | bytes) -> EndpointContext:
        """Connect to ``endpoint``; the connection is made (and remade) in the background.

        The result may be used as a context manager that disconnects on exit, as in
        pyzmq."""
        endpoint = _endpoint_text(endpoint)
        self._connect(endpoint)
        return EndpointContext(self, "connect", endpoint)

    def _check_raw_bytes(self, transport: StreamTransport, endpoint: str) -> None:
        if self.pattern.raw and not transport.carries_raw_bytes:
            raise MQError(
                f"cannot use {endpoint!r} with a {self.socket_type_name} socket: "
                f"{transport.name} connections carry only ZMTP, not raw bytes",
                ENOCOMPATPROTO,
            )

    def _connect(self, endpoint: str) -> None:
        self._check_open()
        if self._pipe_events:
            self._apply_pipe_events()
        transport, raw = self._transport(endpoint)
        if isinstance(transport, MessageTransport):
            transport.connect(self.handle, raw)
            self._message_endpoints[endpoint] = transport
            self._last_endpoint = endpoint
            return
        assert isinstance(transport, StreamTransport)
        self._check_raw_bytes(transport, endpoint)
        self._check_security()
        address = transport.parse(raw, bind=False, options=self.transport_options())
        pipe = None
        if not self.options.immediate:
            pipe = self._new_pipe(endpoint, outgoing=True)
            self._attach(pipe)
            if not pipe.attached:
                # The pattern takes no more peers (PAIR has one): like libzmq, the
                # connect succeeds but makes no connection.
                log.warning(
                    "%s: %s refused by the %s pattern; not connecting",
                    self,
                    endpoint,
                    self.socket_type_name,
                )
                self._last_endpoint = endpoint
                return
        connecter = Connecter(self, endpoint, transport, address, self.reactor, pipe)
        self._connecters.setdefault(endpoint, []).append(connecter)
        self._last_endpoint = endpoint
        self._in_reactor(connecter.start)

    def unbind(self, endpoint: str | bytes) -> None:
        """Stop listening on ``endpoint`` (as given to bind, or as ``last_endpoint``)."""
        endpoint = _endpoint_text(endpoint)
        self._check_open()
        if self._forget_message_endpoint(endpoint):
            return
        listener = self._listeners.get(endpoint)
        if listener is None:
            raise MQError(
                f"{endpoint} is not bound (bind it first, or use last_endpoint "
                "after a wildcard bind)",
                errno.ENOENT,
            )
        for key in [k for k, v in self._listeners.items() if v is listener]:
            del self._listeners[key]
        self._in_reactor(listener.close, wait=True)

    def disconnect(self, endpoint: str | bytes) -> None:
        """Stop connecting to ``endpoint``; its queued messages are dropped."""
        endpoint = _endpoint_text(endpoint)
        self._check_open()
        if self._forget_message_endpoint(endpoint):
            return
        connecters = self._connecters.pop(endpoint, None)
        if not connecters:
            raise MQError(f"{endpoint} is not connected", errno.ENOENT)
        for connecter in connecters:
            self._in_reactor(connecter.close, wait=True)
            if connecter.pipe is not None:
                self._detach(connecter.pipe)

    def _forget_message_endpoint(self, endpoint: str) -> bool:
        transport = self._message_endpoints.get(endpoint)
        if transport is None:
            return False
        for key in [k for k, v in self._message_endpoints.items() if v is transport]:
            del self._message_endpoints[key]
        transport.close(self.handle)
        if self._pipe_events:
            self._apply_pipe_events()
        return True

    # -- sending -------------------------------------------------------------------------

    def send_string(
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8"
    ) -> None:
        """Send a str as one frame, encoded (UTF-8 by default); TypeError for anything
        but a str. ``flags`` as for :meth:`send` (``SNDMORE``, ``DONTWAIT``)."""
        if not isinstance(u, str):
            raise TypeError(f"send_string takes str, not {type(u).__name__}")
        self.send(u.encode(encoding), flags, copy)

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:
        """Send ``obj`` as one frame of UTF-8 JSON; ``kwargs`` go to :func:`json.dumps`."""
        self.send(json.dumps(obj, **kwargs).encode("utf-8"), flags)

    def send_pyobj(self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
        """Send a pickled object. Never unpickle data from peers you do not trust."""
        self.send(pickle.dumps(obj, protocol), flags)

    # -- receiving -----------------------------------------------------------------------

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it (UTF-8 by default; UnicodeDecodeError if it
        is not). ``flags`` as for :meth:`recv` (``DONTWAIT``)."""
        return codecs.decode(self.recv(flags), encoding)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        """Receive one frame and parse it as JSON; ``kwargs`` go to :func:`json.loads`."""
        return json.loads(self.recv(flags), **kwargs)

    def recv_pyobj(self, flags: int = 0) -> Any:
        """Receive and unpickle an object. Unsafe with untrusted peers: unpickling runs code."""
        return pickle.loads(self.recv(flags))

    # pyzmq's older names, from its Python 2 days.
    send_unicode = send_string
    """pyzmq's older name for :meth:`send_string`."""
    recv_unicode = recv_string
    """pyzmq's older name for :meth:`recv_string`."""

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one frame into ``buffer`` (a writable, contiguous buffer), at most
        ``nbytes`` bytes of it (0: the buffer's size); return the frame's full length,
        which is larger than what was written if the frame was truncated."""
        view, room = writable_view(buffer, nbytes)
        data = self.recv(flags)
        count = min(room, len(data))
        view[:count] = memoryview(data)[:count]
        return len(data)

    def send_serialized(
        self,
        msg: Any,
        serialize: Callable[[Any], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Send ``serialize(msg)``, a list of frames, as one multipart message."""
        return self.send_multipart(serialize(msg), flags, copy, **kwargs)

    def recv_serialized(
        self, deserialize: Callable[[list[Any]], Any], flags: int = 0, copy: bool = True
    ) -> Any:
        """Receive a multipart message and return ``deserialize(frames)``."""
        return deserialize(self.recv_multipart(flags, copy))

    # -- polling -------------------------------------------------------------------------

    def poll_events(self) -> int:
        """What the socket can do now, without waiting: ``POLLIN`` (a message can be
        received) and ``POLLOUT`` (one can be sent) or'ed together."""
        if self._pipe_events:
            self._apply_pipe_events()
        if self._ready is not None:
            self._refresh_ready()
        events = 0
        if self._rmsg is not None or self.pattern.can_recv():
            events |= POLLIN
        if self.pattern.can_send():
            events |= POLLOUT
        return events

    @property
    def events(self) -> int:
        """:meth:`poll_events` as a property (the ``events`` option): ``POLLIN`` and/or
        ``POLLOUT`` now."""
        return self.poll_events()

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Wait up to ``timeout`` ms (None: forever) until ``flags`` events; return them."""
        if self._closed and not self.context.closed:
            raise MQError(f"poll() on a closed {self.socket_type_name} socket", errno.ENOTSUP)
        self._check_open()
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
        while True:
            self._flush_engines()  # what this thread queued goes out before it sleeps
            self._read_engines()
            ready = self.poll_events() & flags
            if ready:
                return ready
            if deadline is not None and time.monotonic() >= deadline:
                return 0
            self._wait(deadline, writing=bool(flags & POLLOUT) and not flags & POLLIN)
            # Closed or terminated meanwhile (maybe by term() in another thread): _wait
            # returns at once from now on, so looping would spin.
            self._check_deadline(None, "poll")

    # -- waiting in the user's thread ----------------------------------------------------

    # Paused now, or nothing left to write: the next sync sees it (a pause is
    # reported as a change; the fds watched for writing are looked at each time).

    # -- the pollable fd (fileno) ----------------------------------------------------------

    def fileno(self) -> int:
        """An fd that is readable exactly while ``recv`` would not block (level-triggered).

        Put it in ``selectors``, asyncio's ``add_reader`` or any event loop; unlike
        libzmq's edge-triggered ZMQ_FD there is no need to re-check ``events`` after
        each call. It may also become readable when the socket's state changes in
        other ways (a peer arrived, room to send): check :attr:`events` when woken.
        """
        ready = self._ready
        if ready is None:
            self._check_open()
            self.io_policy.readiness_fd_opened()  # before the fd exists: see there
            ready = self._ready = Waker()
            self._refresh_ready()
        return ready.fileno()

    def _fd_wait_begin(self) -> None:
        """A Poller or an asyncio waiter starts sleeping on :meth:`fileno`."""
        self._fd_waiters += 1

    def _fd_wait_end(self) -> None:
        self._fd_waiters -= 1
        if self._closed and self._fd_waiters <= 0:
            self._close_ready()

    def _close_ready(self) -> None:
        ready, self._ready = self._ready, None
        if ready is not None:
            self.io_policy.readiness_fd_closed()
            ready.close()

    # -- called by engines and the I/O thread --------------------------------------------

    # -- monitoring ------------------------------------------------------------------------

    def monitor(self, addr: str | None, events: int = Event.ALL) -> None:
        """Publish this socket's events as monitor messages on a PAIR bound at ``addr``
        (``inproc://...``), like ``zmq_socket_monitor``; ``addr=None`` stops them all."""
        if addr is None:
            self.disable_monitor()
            return
        # Always a plain socket: events are written from the I/O thread, never awaited.
        writer = Socket(self.context, self.context.registry.pattern("PAIR").socket_type)
        writer.set("linger", 0)
        writer.bind(addr)
        with self._monitor_lock:
            self._monitors[writer] = int(events)
            self._monitor_addrs[addr] = writer

    def disable_monitor(self) -> None:
        """Stop every monitor; each gets MONITOR_STOPPED first."""
        self._monitor_reader = None
        stopped = MonitorEvent(Event.MONITOR_STOPPED, 0, "").encode()
        with self._monitor_lock:
            writers = list(self._monitors)
            self._monitors.clear()
            self._monitor_addrs.clear()
        for writer in writers:
            with contextlib.suppress(MQError):
                writer.send_multipart(stopped, NOBLOCK)
            writer.close(linger=0)

    def get_monitor_socket(self, events: int = Event.ALL, addr: str | None = None) -> Socket:
        """A PAIR socket receiving this socket's events (pyzmq's ``get_monitor_socket``).

        Called again while that socket is open, it returns the same one (``events`` and
        ``addr`` then change nothing), as pyzmq does; after :meth:`disable_monitor` or
        once it is closed, a new one.
        """
        reader: Socket | None = getattr(self, "_monitor_reader", None)
        if reader is not None and not reader.closed:
            return reader
        addr = addr or f"inproc://monitor.{id(self):x}.{len(self._monitor_addrs)}"
        self.monitor(addr, events)
        reader = self.context.socket("PAIR")
        reader.connect(addr)
        self._monitor_reader = reader
        return reader

    @property
    def peers(self) -> list[PeerInfo]:
        """The peers connected right now (handshake done), one per connection."""
        if self._pipe_events:
            self._apply_pipe_events()
        return [pipe.peer for pipe in list(self._pipes) if pipe.connected and pipe.peer]

    # -- pipes, applied in the user's thread ------------------------------------------

    # -- closing -------------------------------------------------------------------------

    def close(self, linger: int | None = None) -> None:
        """Close the socket. Unsent messages are given ``linger`` ms (default: the
        ``linger`` option; -1 waits until they are sent or the context terminates)."""
        if self._closed:
            return
        self._closed = True
        # From now on a send fails (ENOTSOCK, or ETERM once the context is gone) and a
        # receive finds nothing and fails the same way, as in libzmq, with no check
        # added to the per-message path: the routing and taking calls themselves refuse.
        # Neither holds the socket (a bound method would): a closed socket is not kept
        # in a reference cycle by its own refusal.
        self._route = functools.partial(_refuse_send, self.context, self.socket_type_name)
        self._take = _nothing_to_take
        # Half a message is dropped either way: frames held for SNDMORE, and the rest of
        # a message half received (recv() after close() fails, as in pyzmq).
        self._sendbuf = []
        self._rmsg = None
        self._ridx = 0
        linger_ms = self.options.linger if linger is None else linger
        self._waker.wake()
        # A thread blocked in this socket (woken by term()) must leave its wait before
        # the fds it waits on are closed, or it would sleep on a dead fd forever.
        deadline = time.monotonic() + 2.0
        while self.io_policy.waiting_thread and time.monotonic() < deadline:
            time.sleep(0.001)
        for transport in set(self._message_endpoints.values()):
            transport.close(self.handle)
        self._message_endpoints.clear()
        if self.reactor.running:
            self._in_reactor(lambda: self._close_in_reactor(linger_ms), wait=True)
        self._waker.close()
        if self._ready is not None:
            # Wake whoever waits on fileno() (a Poller, an event loop, maybe in another
            # thread) so it sees the socket closed. If one of ours waits on it, the last
            # of them closes the fd (a sleeper on a closed fd would never wake).
            self._ready.wake()
            if not self._fd_waiters:
                self._close_ready()
        if self._wait_poller is not None:
            self._wait_poller.close()
        if self._monitors:
            self.disable_monitor()
        self.context._socket_closed(self)
        # After the linger: the last drops are counted, and reported before "closed".
        self._drop_reporter.close()
        self.context.registry.notify("mqsdk_socket_closed", socket=self)

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._last_endpoint or "unconnected"
        return f"<mqsdk.Socket {self.socket_type_name} {state}>"

    def __del__(self) -> None:
        # A socket dropped without close(): release its fds; no linger (like pyzmq's GC).
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.close(linger=0)
        ready = getattr(self, "_ready", None)
        if ready is not None:
            ready.close()  # a waiter never came back for it


def _nothing_to_take() -> None:
    return None


def _refuse_send(context: Context, socket_type_name: str, message: Any) -> bool:
    """A closed socket's route: what its sends raise."""
    if context.closed:
        raise ContextTerminated("the context was terminated")
    raise MQError(f"the {socket_type_name} socket is closed", errno.ENOTSOCK)


def writable_view(buffer: Any, nbytes: int) -> tuple[memoryview, int]:
    """``recv_into``'s checks, pyzmq's errors: ``buffer`` as a flat byte view and how
    many bytes of it to fill (``nbytes``, 0: all)."""
    if nbytes < 0:
        raise ValueError(f"nbytes must not be negative, got {nbytes}")
    view = memoryview(buffer)  # TypeError for an object without the buffer protocol
    if view.readonly:
        raise BufferError("recv_into needs a writable buffer")
    if not view.contiguous:
        raise BufferError("recv_into needs a contiguous buffer")
    view = view.cast("B")
    if nbytes > view.nbytes:
        raise ValueError(f"nbytes={nbytes} is larger than the buffer ({view.nbytes} bytes)")
    return view, nbytes or view.nbytes


_SOCKETS_BY_ADDRESS: weakref.WeakValueDictionary[int, Socket] = weakref.WeakValueDictionary()
"""The sockets whose ``underlying`` number was asked for, so shadow(number) finds them;
weak, so a number never keeps its socket alive (nor outlives it)."""


class ShadowSocket:
    """Another handle on a socket (:meth:`Socket.shadow`, ``copy.copy(sock)``,
    ``Socket(sock)``): every attribute read, assignment and call goes to that socket.
    ``isinstance(handle, Socket)`` holds, as it does in pyzmq."""

    __slots__ = ("_shadow_obj", "_target")
    _shadow = True

    def __init__(self, target: Socket, shadow_obj: object) -> None:
        object.__setattr__(self, "_target", target)
        # What the handle was made from (the socket or its number), as pyzmq keeps it.
        object.__setattr__(self, "_shadow_obj", shadow_obj)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() reads it
        return type(self._target)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __dir__(self) -> list[str]:
        return dir(self._target)

    def __repr__(self) -> str:
        return f"<shadow of {self._target!r}>"

    def __enter__(self) -> ShadowSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._target.close()

    def __copy__(self) -> ShadowSocket:
        return ShadowSocket(self._target, self._shadow_obj)

    def __deepcopy__(self, memo: dict[int, Any]) -> ShadowSocket:
        return ShadowSocket(self._target, self._shadow_obj)


class EndpointContext:
    """What ``bind()`` and ``connect()`` return: a context manager that unbinds or
    disconnects the endpoint on exit (unless the socket was closed meanwhile)."""

    __slots__ = ("addr", "kind", "socket")

    def __init__(self, socket: Socket, kind: str, addr: str) -> None:
        self.socket = socket
        self.kind = kind
        self.addr = addr

    def __repr__(self) -> str:
        return f"<EndpointContext({self.kind}={self.addr!r})>"

    def __enter__(self) -> Socket:
        return self.socket

    def __exit__(self, *exc_info: object) -> None:
        # Closing the socket inside the block already dropped the endpoint.
        undo = self.socket.unbind if self.kind == "bind" else self.socket.disconnect
        if not self.socket.closed:
            undo(self.addr)


def _declared_type(spec: OptionSpec) -> Any:
    """The value type a model-less spec declares (read-only options: ``last_endpoint``
    is bytes)."""
    return {"int": int, "bytes": bytes}.get(spec.value_type)


def _expected_type(spec: OptionSpec) -> Any:
    if spec.model is not None:
        return spec.model.model_fields[spec.name].annotation
    if spec.kind == "unsupported" or spec.name == "ipv4only":
        return int
    return None  # read-only: refused whatever the value


class _OptionAttribute:
    """``sock.<option>``: reads and sets the option by name (a data descriptor, so a
    read never falls through to a per-instance lookup)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc or f"The {name} socket option."

    def __get__(self, sock: Socket | None, owner: type | None = None) -> Any:
        if sock is None:
            return self
        try:
            return sock.get(self.name)
        except MQError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # A write-only option (XPUB's welcome message...): hasattr() and
            # getattr(sock, name, default) expect AttributeError and nothing else.
            raise AttributeError(str(exc)) from None

    def __set__(self, sock: Socket, value: Any) -> None:
        sock.set(self.name, value)


class _MethodAndOption:
    """A socket method that is also an option name (``subscribe``): reading gives the
    method, assigning sets the option, as pyzmq's ``sub.subscribe = b"topic"`` does."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name = name
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, sock: Socket | None, owner: type | None = None) -> Any:
        if sock is None:
            return self.function
        return types.MethodType(self.function, sock)

    def __set__(self, sock: Socket, value: Any) -> None:
        sock.set(self.name, value.encode() if isinstance(value, str) else value)


class _PatternMethod:
    """A pattern method offered on the socket (``pub.wait_for_subscribers``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, sock: Socket | None, owner: type | None = None) -> Any:
        if sock is None:
            return self
        method = getattr(sock.pattern, self.name)
        lock = getattr(sock, "_shared_lock", None)
        if lock is None:
            return method
        # A thread-safe socket's pattern runs in one thread at a time: its methods too.
        return _holding(lock, method)


def _holding(lock: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call


_OPTION_CLASSES: dict[tuple[type[Socket], int, type[Pattern]], tuple[OptionTable, type]] = {}


def _options_class(cls: type[Socket], table: OptionTable, pattern: type[Pattern]) -> type:
    """``cls`` with an attribute per option in ``table`` and per method ``pattern``
    offers, made once per combination (the shared class is never modified).

    A name ``cls`` already defines wins (a subclass's own attribute, the ``type``
    property), except a plain method named as an option (``subscribe``), which becomes a
    :class:`_MethodAndOption`.
    """
    if cls.__dict__.get("_options_of_class") is not None:
        cls = cls.__bases__[0]  # a class made here: start again from its base
    key = (cls, id(table), pattern)
    made = _OPTION_CLASSES.get(key)
    if made is not None and made[0] is table:
        return made[1]
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "_options_of_class": table,
    }

    def offer(name: str, attribute: Any) -> None:
        defined = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if defined is None:
            namespace[name] = attribute
        elif isinstance(attribute, _OptionAttribute) and isinstance(defined, types.FunctionType):
            namespace[name] = _MethodAndOption(name, defined)

    for name in pattern.socket_methods:
        offer(name, _PatternMethod(name))
    docs = {name: spec.doc for name, spec in table.specs.items()}
    docs.update({alias: f"Sets {' and '.join(t)}." for alias, t in ALIASES.items()})
    for name, doc in docs.items():
        offer(name, _OptionAttribute(name, doc))
        offer(name.upper(), _OptionAttribute(name, doc))  # pyzmq's sock.SNDHWM
    made_class = type(cls.__name__, (cls,), namespace)
    _OPTION_CLASSES[key] = (table, made_class)
    return made_class
