"""A real libzmq built with its draft API, driven through ctypes, for interop tests.

pyzmq's wheels (and Debian's libzmq5) are built without libzmq's draft API, so they have
no CLIENT/SERVER, RADIO/DISH, SCATTER/GATHER, PEER, CHANNEL or ``ws://``. CI builds
Debian's libzmq 4.3.4 source with ``-DENABLE_DRAFTS=ON`` (``.ci/build-draft-libzmq``) and
the interop tests drive that library through this module.

API (everything raises :class:`LibzmqError`, with libzmq's message, on failure)::

    lib = draft_libzmq()          # a DraftLibzmq, or pytest.skip(reason); with
                                  # MQSDK_REQUIRE_DRAFT_LIBZMQ=1, pytest.fail(reason)
    lib.path, lib.version         # "/…/libzmq.so", (4, 3, 4)
    lib.has("ws")                 # zmq_has (4.3.4 answers 0 for "ws": probe by binding)
    with lib.context() as ctx:    # LibzmqContext; on exit closes its sockets, terms
        sock = ctx.socket(SERVER) # LibzmqSocket; type constants below (SERVER, CLIENT…)
        sock.bind("tcp://127.0.0.1:*")      # -> the bound endpoint (ZMQ_LAST_ENDPOINT)
        sock.connect(endpoint); sock.connect_peer(endpoint) -> routing id (PEER)
        sock.unbind(endpoint); sock.disconnect(endpoint)
        sock.set_int(LINGER, 0); sock.get_int(RCVMORE)
        sock.set_bytes(ROUTING_ID, b"x"); sock.get_bytes(LAST_ENDPOINT)
        sock.send(b"data", routing_id=5, group="g", more=False, timeout=WAIT)
        msg = sock.recv(timeout=WAIT)       # Message(data, routing_id, group, more);
                                            # LibzmqTimeout when nothing came in time
        sock.try_recv(timeout=0.02)         # Message or None
        sock.send_multipart([b"a", b"b"]); sock.recv_multipart() -> list[bytes]
        sock.join("g"); sock.leave("g")     # DISH
        sock.close()                        # linger 0
        ctx.shutdown()                      # blocked calls in other threads get ETERM
    link_over_tcp(mine, sock, mqsdk_binds)  # connect an mqsdk socket and a libzmq one
                                            # over loopback tcp, either side binding

``timeout`` is in seconds (``None`` blocks, ``0`` does not wait); it becomes the socket's
ZMQ_RCVTIMEO/ZMQ_SNDTIMEO, set only when it changes, so threads sharing one thread-safe
libzmq socket should pass the same timeout. Blocking calls release the GIL (ctypes).

Where the library is: ``MQSDK_DRAFT_LIBZMQ`` (a path to libzmq.so), else where
``.ci/build-draft-libzmq`` installs it
(``${MQSDK_DRAFT_LIBZMQ_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mqsdk/libzmq-4.3.4-draft}``).

It is loaded by full path (ctypes, RTLD_LOCAL), so its symbols never mix with pyzmq's
bundled libzmq. Its soname is the distribution's (``libzmq.so.5``), though: a later
``dlopen("libzmq.so.5")`` in the same process would be handed the draft build instead of
the distribution's (which the pgm tests need for OpenPGM). So the distribution's library,
when there is one, is loaded first and kept, and later loads by soname keep finding it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import mqsdk

__all__ = [
    "CHANNEL",
    "CLIENT",
    "DEALER",
    "DGRAM",
    "DISH",
    "GATHER",
    "PAIR",
    "PEER",
    "PUB",
    "PULL",
    "PUSH",
    "RADIO",
    "REP",
    "REQ",
    "ROUTER",
    "SCATTER",
    "SERVER",
    "SUB",
    "DraftLibzmq",
    "LibzmqContext",
    "LibzmqError",
    "LibzmqSocket",
    "LibzmqTimeout",
    "Message",
    "draft_libzmq",
    "draft_libzmq_path",
    "link_over_tcp",
    "load_draft_libzmq",
]

# Socket types (zmq.h; the draft ones from its ZMQ_BUILD_DRAFT_API section).
PAIR, PUB, SUB, REQ, REP, DEALER, ROUTER, PULL, PUSH = 0, 1, 2, 3, 4, 5, 6, 7, 8
SERVER, CLIENT, RADIO, DISH, GATHER, SCATTER, DGRAM, PEER, CHANNEL = range(12, 21)

# Socket options used by the tests (zmq.h numbers).
ROUTING_ID = 5
SUBSCRIBE = 6
RCVMORE = 13
LINGER = 17
SNDHWM = 23
RCVHWM = 24
RCVTIMEO = 27
SNDTIMEO = 28
LAST_ENDPOINT = 32
IMMEDIATE = 39

DONTWAIT, SNDMORE = 1, 2
ETERM = 156384765  # ZMQ_HAUSNUMERO + 53

WAIT = 10.0
"""Default bound of a blocking call, in seconds."""

_ENDPOINT_BUFFER = 1024
_LIBZMQ_VERSION = "4.3.4"


class LibzmqError(RuntimeError):
    """A libzmq call failed; ``errno`` is libzmq's error number."""

    def __init__(self, message: str, error: int = 0) -> None:
        super().__init__(message)
        self.errno = error


class LibzmqTimeout(LibzmqError):
    """A send or receive found nothing to do within its timeout (EAGAIN)."""


@dataclass(frozen=True)
class Message:
    """One received frame with the draft properties libzmq carries on it."""

    data: bytes
    routing_id: int
    """Set by SERVER and PEER on receive (0 when the socket type has none)."""
    group: str
    """Set by DISH on receive ("" when the socket type has none)."""
    more: bool


class _MsgT(ctypes.Structure):
    # zmq_msg_t: 64 opaque bytes aligned like a pointer (zmq.h).
    _fields_ = [("_", ctypes.c_uint64 * 8)]


def draft_libzmq_path() -> Path:
    """Where the draft libzmq is expected (it may not exist)."""
    explicit = os.environ.get("MQSDK_DRAFT_LIBZMQ")
    if explicit:
        return Path(explicit)
    cache_root = os.environ.get("MQSDK_DRAFT_LIBZMQ_CACHE")
    if cache_root:
        return Path(cache_root) / "lib" / "libzmq.so"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "mqsdk" / f"libzmq-{_LIBZMQ_VERSION}-draft" / "lib" / "libzmq.so"


_loaded: dict[Path, DraftLibzmq | str] = {}
_load_lock = threading.Lock()
_distribution_libzmq: list[Any] = []


def _keep_distribution_soname() -> None:
    """Load the distribution's libzmq.so.5 first, so that later loads by soname get it and
    not the draft build (both are named libzmq.so.5; see the module docstring)."""
    if _distribution_libzmq:
        return
    for name in ("libzmq.so.5", ctypes.util.find_library("zmq")):
        if not name:
            continue
        try:
            _distribution_libzmq.append(ctypes.CDLL(name))
        except OSError:
            continue
        return


def load_draft_libzmq() -> DraftLibzmq | str:
    """The loaded draft libzmq, or why it cannot be used (a sentence)."""
    path = draft_libzmq_path()
    with _load_lock:
        if path not in _loaded:
            _loaded[path] = _load(path)
        return _loaded[path]


def _load(path: Path) -> DraftLibzmq | str:
    how = (
        "set MQSDK_DRAFT_LIBZMQ to a libzmq.so built with -DENABLE_DRAFTS=ON, "
        "or run .ci/build-draft-libzmq"
    )
    if not path.is_file():
        return f"no draft libzmq at {path} ({how})"
    _keep_distribution_soname()
    try:
        lib = ctypes.CDLL(str(path.resolve()), use_errno=True)
    except OSError as exc:
        return f"cannot load {path}: {exc}"
    try:
        _declare(lib)
    except AttributeError as exc:
        return f"{path} is built without the draft API (it lacks a draft call: {exc}): {how}"
    if not lib.zmq_has(b"draft"):
        return f"{path} is built without the draft API (zmq_has('draft') is 0): {how}"
    return DraftLibzmq(lib, path)


def _declare(lib: Any) -> None:
    """Argument and result types of the calls used, so pointers are not truncated."""
    vp, c_int, c_char_p, size_t = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t
    msg_p = ctypes.POINTER(_MsgT)
    signatures: dict[str, tuple[list[Any], Any]] = {
        "zmq_has": ([c_char_p], c_int),
        "zmq_version": ([ctypes.POINTER(c_int)] * 3, None),
        "zmq_errno": ([], c_int),
        "zmq_strerror": ([c_int], c_char_p),
        "zmq_ctx_new": ([], vp),
        "zmq_ctx_term": ([vp], c_int),
        "zmq_ctx_shutdown": ([vp], c_int),
        "zmq_socket": ([vp, c_int], vp),
        "zmq_close": ([vp], c_int),
        "zmq_bind": ([vp, c_char_p], c_int),
        "zmq_connect": ([vp, c_char_p], c_int),
        "zmq_unbind": ([vp, c_char_p], c_int),
        "zmq_disconnect": ([vp, c_char_p], c_int),
        "zmq_setsockopt": ([vp, c_int, vp, size_t], c_int),
        "zmq_getsockopt": ([vp, c_int, vp, ctypes.POINTER(size_t)], c_int),
        "zmq_msg_init": ([msg_p], c_int),
        "zmq_msg_init_size": ([msg_p, size_t], c_int),
        "zmq_msg_send": ([msg_p, vp, c_int], c_int),
        "zmq_msg_recv": ([msg_p, vp, c_int], c_int),
        "zmq_msg_close": ([msg_p], c_int),
        "zmq_msg_data": ([msg_p], vp),
        "zmq_msg_size": ([msg_p], size_t),
        "zmq_msg_more": ([msg_p], c_int),
        # The draft calls.
        "zmq_msg_set_routing_id": ([msg_p, ctypes.c_uint32], c_int),
        "zmq_msg_routing_id": ([msg_p], ctypes.c_uint32),
        "zmq_msg_set_group": ([msg_p, c_char_p], c_int),
        "zmq_msg_group": ([msg_p], c_char_p),
        "zmq_join": ([vp, c_char_p], c_int),
        "zmq_leave": ([vp, c_char_p], c_int),
        "zmq_connect_peer": ([vp, c_char_p], ctypes.c_uint32),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype


def draft_libzmq() -> DraftLibzmq:
    """The draft libzmq for a test; skips it with the reason when there is none, or fails it
    when ``MQSDK_REQUIRE_DRAFT_LIBZMQ=1`` (CI, where the library is built)."""
    import pytest  # only tests call this; mqsdk itself never imports pytest

    found = load_draft_libzmq()
    if isinstance(found, DraftLibzmq):
        return found
    if os.environ.get("MQSDK_REQUIRE_DRAFT_LIBZMQ") == "1":
        pytest.fail(f"MQSDK_REQUIRE_DRAFT_LIBZMQ=1 but {found}", pytrace=False)
    raise pytest.skip.Exception(found, allow_module_level=True)


def link_over_tcp(mine: mqsdk.Socket, theirs: LibzmqSocket, mqsdk_binds: bool) -> None:
    """Connect ``mine`` (mqsdk) and ``theirs`` (libzmq) over loopback tcp; the mqsdk side
    binds when ``mqsdk_binds``, else libzmq's does (interop tests run both ways)."""
    if mqsdk_binds:
        mine.bind("tcp://127.0.0.1:*")
        theirs.connect(mine.last_endpoint.decode())
    else:
        mine.connect(theirs.bind("tcp://127.0.0.1:*"))


class DraftLibzmq:
    """A loaded libzmq with the draft API."""

    def __init__(self, lib: Any, path: Path) -> None:
        self.lib = lib
        self.path = path
        major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.zmq_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
        self.version = (major.value, minor.value, patch.value)

    def has(self, capability: str) -> bool:
        return bool(self.lib.zmq_has(capability.encode()))

    def context(self) -> LibzmqContext:
        return LibzmqContext(self)

    def fail(self, what: str) -> NoReturn:
        """Raise the error of the call that just failed in this thread."""
        error = ctypes.get_errno()
        text = self.lib.zmq_strerror(error).decode(errors="replace")
        kind = LibzmqTimeout if error == errno.EAGAIN else LibzmqError
        raise kind(f"{what}: {text} (libzmq {self.path})", error)

    def __repr__(self) -> str:
        return f"<DraftLibzmq {'.'.join(map(str, self.version))} at {self.path}>"


class LibzmqContext:
    """A libzmq context; as a context manager it closes the sockets it made and terms."""

    def __init__(self, libzmq: DraftLibzmq) -> None:
        self.libzmq = libzmq
        self.handle: int | None = libzmq.lib.zmq_ctx_new()
        if not self.handle:
            libzmq.fail("zmq_ctx_new")
        self._sockets: list[LibzmqSocket] = []

    def socket(self, kind: int) -> LibzmqSocket:
        sock = LibzmqSocket(self, kind)
        self._sockets.append(sock)
        return sock

    def shutdown(self) -> None:
        """Make every blocking call on this context's sockets return (ETERM)."""
        if self.handle:
            self.libzmq.lib.zmq_ctx_shutdown(self.handle)

    def term(self) -> None:
        """Close the sockets still open (linger 0), then terminate the context."""
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        if self.handle:
            handle, self.handle = self.handle, None
            while self.libzmq.lib.zmq_ctx_term(handle) != 0:
                if ctypes.get_errno() != errno.EINTR:
                    self.libzmq.fail("zmq_ctx_term")

    def __enter__(self) -> LibzmqContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.term()


class LibzmqSocket:
    """One libzmq socket. Thread-safe libzmq socket types may be used from several threads
    at once (libzmq locks them); the others belong to one thread at a time."""

    def __init__(self, context: LibzmqContext, kind: int) -> None:
        self.context = context
        self.kind = kind
        self._libzmq = context.libzmq
        self._lib = context.libzmq.lib
        self.handle: int | None = self._lib.zmq_socket(context.handle, kind)
        if not self.handle:
            self._libzmq.fail(f"zmq_socket({kind})")
        # The timeouts in libzmq's options now, so each call sets them only on a change.
        self._timeouts_ms = {RCVTIMEO: -1, SNDTIMEO: -1}

    def _live(self) -> int:
        if self.handle is None:
            raise LibzmqError("the socket is closed", errno.ENOTSOCK)
        return self.handle

    def set_int(self, option: int, value: int) -> None:
        number = ctypes.c_int(value)
        if self._lib.zmq_setsockopt(self._live(), option, ctypes.byref(number), 4):
            self._libzmq.fail(f"zmq_setsockopt({option}, {value})")

    def set_bytes(self, option: int, value: bytes) -> None:
        if self._lib.zmq_setsockopt(self._live(), option, value, len(value)):
            self._libzmq.fail(f"zmq_setsockopt({option}, {value!r})")

    def get_int(self, option: int) -> int:
        number = ctypes.c_int()
        size = ctypes.c_size_t(4)
        if self._lib.zmq_getsockopt(self._live(), option, ctypes.byref(number), ctypes.byref(size)):
            self._libzmq.fail(f"zmq_getsockopt({option})")
        return number.value

    def get_bytes(self, option: int, limit: int = _ENDPOINT_BUFFER) -> bytes:
        buffer = ctypes.create_string_buffer(limit)
        size = ctypes.c_size_t(limit)
        if self._lib.zmq_getsockopt(self._live(), option, buffer, ctypes.byref(size)):
            self._libzmq.fail(f"zmq_getsockopt({option})")
        return buffer.raw[: size.value]

    def bind(self, endpoint: str) -> str:
        """Bind; returns the endpoint bound (the port chosen for ``*``)."""
        if self._lib.zmq_bind(self._live(), endpoint.encode()):
            self._libzmq.fail(f"zmq_bind({endpoint})")
        return self.get_bytes(LAST_ENDPOINT).rstrip(b"\0").decode()

    def connect(self, endpoint: str) -> None:
        if self._lib.zmq_connect(self._live(), endpoint.encode()):
            self._libzmq.fail(f"zmq_connect({endpoint})")

    def connect_peer(self, endpoint: str) -> int:
        """PEER: connect, and return the routing id that addresses this connection."""
        routing_id: int = self._lib.zmq_connect_peer(self._live(), endpoint.encode())
        if routing_id == 0:
            self._libzmq.fail(f"zmq_connect_peer({endpoint})")
        return routing_id

    def unbind(self, endpoint: str) -> None:
        if self._lib.zmq_unbind(self._live(), endpoint.encode()):
            self._libzmq.fail(f"zmq_unbind({endpoint})")

    def disconnect(self, endpoint: str) -> None:
        if self._lib.zmq_disconnect(self._live(), endpoint.encode()):
            self._libzmq.fail(f"zmq_disconnect({endpoint})")

    def join(self, group: str | bytes) -> None:
        name = group.encode() if isinstance(group, str) else group
        if self._lib.zmq_join(self._live(), name):
            self._libzmq.fail(f"zmq_join({group!r})")

    def leave(self, group: str | bytes) -> None:
        name = group.encode() if isinstance(group, str) else group
        if self._lib.zmq_leave(self._live(), name):
            self._libzmq.fail(f"zmq_leave({group!r})")

    def _flags_for(self, option: int, timeout: float | None) -> int:
        """Set the option's timeout when it changed; DONTWAIT for a zero timeout."""
        if timeout is not None and timeout <= 0:
            return DONTWAIT
        milliseconds = -1 if timeout is None else max(1, round(timeout * 1000))
        if self._timeouts_ms[option] != milliseconds:
            self.set_int(option, milliseconds)
            self._timeouts_ms[option] = milliseconds
        return 0

    def send(
        self,
        data: bytes,
        *,
        routing_id: int | None = None,
        group: str | bytes | None = None,
        more: bool = False,
        timeout: float | None = WAIT,
    ) -> None:
        """Send one frame; ``routing_id`` (SERVER, PEER) and ``group`` (RADIO) are set on it.
        Raises LibzmqTimeout when it cannot be queued within ``timeout``."""
        flags = self._flags_for(SNDTIMEO, timeout) | (SNDMORE if more else 0)
        msg = _MsgT()
        if self._lib.zmq_msg_init_size(ctypes.byref(msg), len(data)):
            self._libzmq.fail("zmq_msg_init_size")
        try:
            if data:
                ctypes.memmove(self._lib.zmq_msg_data(ctypes.byref(msg)), data, len(data))
            if routing_id is not None and self._lib.zmq_msg_set_routing_id(
                ctypes.byref(msg), routing_id
            ):
                self._libzmq.fail(f"zmq_msg_set_routing_id({routing_id})")
            if group is not None:
                name = group.encode() if isinstance(group, str) else group
                if self._lib.zmq_msg_set_group(ctypes.byref(msg), name):
                    self._libzmq.fail(f"zmq_msg_set_group({group!r})")
            while self._lib.zmq_msg_send(ctypes.byref(msg), self._live(), flags) < 0:
                if ctypes.get_errno() != errno.EINTR:
                    self._libzmq.fail("zmq_msg_send")
        except BaseException:
            self._lib.zmq_msg_close(ctypes.byref(msg))
            raise
        # A message sent is owned by libzmq again; nothing to close.

    def recv(self, timeout: float | None = WAIT) -> Message:
        """Receive one frame; raises LibzmqTimeout when none came within ``timeout``."""
        flags = self._flags_for(RCVTIMEO, timeout)
        msg = _MsgT()
        self._lib.zmq_msg_init(ctypes.byref(msg))
        try:
            while self._lib.zmq_msg_recv(ctypes.byref(msg), self._live(), flags) < 0:
                if ctypes.get_errno() != errno.EINTR:
                    self._libzmq.fail(f"zmq_msg_recv (waited {timeout} s)")
            size = self._lib.zmq_msg_size(ctypes.byref(msg))
            data = (
                ctypes.string_at(self._lib.zmq_msg_data(ctypes.byref(msg)), size) if size else b""
            )
            group = self._lib.zmq_msg_group(ctypes.byref(msg)) or b""
            return Message(
                data=data,
                routing_id=int(self._lib.zmq_msg_routing_id(ctypes.byref(msg))),
                group=group.decode(errors="replace"),
                more=bool(self._lib.zmq_msg_more(ctypes.byref(msg))),
            )
        finally:
            self._lib.zmq_msg_close(ctypes.byref(msg))

    def try_recv(self, timeout: float | None = 0.0) -> Message | None:
        """The next frame, or None when none came within ``timeout``."""
        try:
            return self.recv(timeout)
        except LibzmqTimeout:
            return None

    def send_multipart(self, frames: list[bytes], timeout: float | None = WAIT) -> None:
        for index, frame in enumerate(frames):
            self.send(frame, more=index < len(frames) - 1, timeout=timeout)

    def recv_multipart(self, timeout: float | None = WAIT) -> list[bytes]:
        frames: list[bytes] = []
        while True:
            message = self.recv(timeout)
            frames.append(message.data)
            if not message.more:
                return frames

    def close(self) -> None:
        """Close with linger 0 (idempotent)."""
        if self.handle is None:
            return
        self.set_int(LINGER, 0)
        handle, self.handle = self.handle, None
        self._lib.zmq_close(handle)
