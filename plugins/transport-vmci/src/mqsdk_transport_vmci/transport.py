"""The ``vmci://`` stream transport over Linux ``AF_VSOCK`` (VM sockets).

Socket options, all at level ``AF_VSOCK`` and applied when the option is present and
``>= 0``: ``vmci_buffer_size``, ``vmci_buffer_min_size`` and ``vmci_buffer_max_size``
(``SO_VM_SOCKETS_BUFFER_SIZE/MIN_SIZE/MAX_SIZE``, bytes, 64-bit), and
``vmci_connect_timeout`` (``SO_VM_SOCKETS_CONNECT_TIMEOUT``, milliseconds).

The connect timeout is a ``struct timeval`` in the kernel, but CPython's
``setsockopt`` on an ``AF_VSOCK`` socket only accepts an integer, which it passes as a
``uint64_t`` (the kernel then answers EINVAL). So the timeval is packed here and set
through a second socket object sharing the same file descriptor, created with another
family so that CPython takes its generic path, which accepts bytes; that object is
detached, never closed.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

from mqsdk.plugin import Availability, Millis, OptionModel, StreamTransport, option, start_connect

from .address import CID_ANY, CID_LOCAL, PORT_ANY, VmciAddress, format_sockaddr, parse_vmci

__all__ = [
    "CONNECT_TIMEOUT_OPT",
    "PROBE_TIMEOUT",
    "VmciOptions",
    "VmciTransport",
    "get_connect_timeout",
]

# linux/vm_sockets.h; SO_VM_SOCKETS_CONNECT_TIMEOUT(_OLD) takes a native struct timeval
# (two longs). CPython does not export it.
CONNECT_TIMEOUT_OPT = 6
_TIMEVAL = struct.Struct("@ll")
_BUFFER_OPTIONS = (
    ("vmci_buffer_size", getattr(socket, "SO_VM_SOCKETS_BUFFER_SIZE", 0)),
    ("vmci_buffer_min_size", getattr(socket, "SO_VM_SOCKETS_BUFFER_MIN_SIZE", 1)),
    ("vmci_buffer_max_size", getattr(socket, "SO_VM_SOCKETS_BUFFER_MAX_SIZE", 2)),
)
_IN_PROGRESS = frozenset({0, errno.EINPROGRESS, errno.EINTR})
PROBE_TIMEOUT = 0.5  # seconds the availability probe waits for a loopback connect


class VmciOptions(OptionModel):
    """The socket options vmci owns (libzmq's names and numbers); -1 leaves the OS
    default. They exist on every socket and apply to its vmci:// connections."""

    vmci_buffer_size: int = option(
        -1, number=85, doc="SO_VM_SOCKETS_BUFFER_SIZE in bytes (vmci).", ge=-1, le=2**63 - 1
    )
    vmci_buffer_min_size: int = option(
        -1, number=86, doc="SO_VM_SOCKETS_BUFFER_MIN_SIZE in bytes (vmci).", ge=-1, le=2**63 - 1
    )
    vmci_buffer_max_size: int = option(
        -1, number=87, doc="SO_VM_SOCKETS_BUFFER_MAX_SIZE in bytes (vmci).", ge=-1, le=2**63 - 1
    )
    vmci_connect_timeout: Millis = option(
        -1, number=88, doc="SO_VM_SOCKETS_CONNECT_TIMEOUT in ms (vmci)."
    )


class VmciTransport(StreamTransport):
    """VM sockets (``AF_VSOCK`` ``SOCK_STREAM``) with libzmq's ``vmci://CID:port`` forms."""

    name = "vmci"
    option_model = VmciOptions
    loopback_endpoint = "vmci://*:*"

    @classmethod
    def loopback_connect_endpoint(cls, bound: str) -> str:
        # last_endpoint names the any-CID; a peer on this host connects to the local CID.
        if bound.startswith("vmci://*:"):
            return "vmci://@:" + bound.removeprefix("vmci://*:")
        return bound

    _availability: ClassVar[Availability | None] = None

    @classmethod
    def available(cls) -> Availability:
        """Cheap: can AF_VSOCK sockets be made here? (No connect: every process that
        loads the registry asks.) Whether this host can talk to itself over vsock is
        :func:`loopback`, a bounded connect probe that the tests use."""
        if cls._availability is None:
            cls._availability = _sockets_work()
        return cls._availability

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> VmciAddress:
        return parse_vmci(address, bind=bind)

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        sock = socket.socket(_family(), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            apply_options(sock, options)
            sock.bind(addr.sockaddr)
            sock.listen(int(options.get("backlog", 100)))
            endpoint = "vmci://" + format_sockaddr(sock.getsockname())
        except BaseException:
            sock.close()
            raise
        return sock, endpoint

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        addr = _check(address)
        sock = socket.socket(_family(), socket.SOCK_STREAM)
        try:
            apply_options(sock, options)
        except BaseException:
            sock.close()
            raise
        return start_connect(sock, addr.sockaddr)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setblocking(False)
        apply_options(sock, options, connect_timeout=False)

    def peer_address(self, sock: socket.socket) -> str:
        try:
            peer = sock.getpeername()
        except OSError:
            return ""
        return format_sockaddr(peer) if isinstance(peer, tuple) else str(peer)


def apply_options(
    sock: socket.socket, options: Mapping[str, Any], *, connect_timeout: bool = True
) -> None:
    """Set the ``vmci_*`` options that are present and ``>= 0`` on an AF_VSOCK socket."""
    level = _family()
    for name, optname in _BUFFER_OPTIONS:
        value = options.get(name)
        if value is not None and int(value) >= 0:
            sock.setsockopt(level, optname, int(value))
    timeout = options.get("vmci_connect_timeout")
    if connect_timeout and timeout is not None and int(timeout) >= 0:
        millis = int(timeout)
        _set_raw(sock, CONNECT_TIMEOUT_OPT, _TIMEVAL.pack(millis // 1000, millis % 1000 * 1000))


def get_connect_timeout(sock: socket.socket) -> float:
    """The socket's connect timeout in seconds, as the kernel reports it."""
    seconds, micros = _TIMEVAL.unpack(_get_raw(sock, CONNECT_TIMEOUT_OPT, _TIMEVAL.size))
    return int(seconds) + int(micros) / 1e6


def _set_raw(sock: socket.socket, optname: int, value: bytes) -> None:
    alias = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=sock.fileno())
    try:
        alias.setsockopt(_family(), optname, value)
    finally:
        alias.detach()


def _get_raw(sock: socket.socket, optname: int, size: int) -> bytes:
    alias = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=sock.fileno())
    try:
        return alias.getsockopt(_family(), optname, size)
    finally:
        alias.detach()


def _family() -> int:
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        raise OSError(errno.EAFNOSUPPORT, "this Python has no socket.AF_VSOCK")
    return int(family)


def _check(address: Any) -> VmciAddress:
    if not isinstance(address, VmciAddress):
        raise TypeError(f"vmci transport: expected a parsed VmciAddress, got {address!r}")
    return address


def _sockets_work() -> Availability:
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        return Availability.no("socket.AF_VSOCK is missing (vsock needs Linux)")
    try:
        socket.socket(family, socket.SOCK_STREAM).close()
    except OSError as exc:
        return Availability.no(
            f"socket(AF_VSOCK) fails: {exc.strerror or exc} (is the vsock kernel module loaded?)"
        )
    if os.path.isdir("/sys/module") and not os.path.isdir("/sys/module/vsock_loopback"):
        return Availability(
            True,
            "vsock works for other CIDs (host, guests); talking within this host needs the "
            "vsock_loopback module, which is not loaded",
        )
    return Availability.yes()


_loopback: Availability | None = None


def loopback() -> Availability:
    """Can this process talk vsock to itself (local CID)? Probed once, bounded in time."""
    global _loopback
    if _loopback is None:
        _loopback = _probe()
    return _loopback


def _probe() -> Availability:
    """Can this process talk vsock to itself? Bounded by PROBE_TIMEOUT seconds."""
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        return Availability.no("socket.AF_VSOCK is missing (vsock needs Linux)")
    try:
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        return Availability.no(
            f"socket(AF_VSOCK) fails: {exc.strerror or exc} (is the vsock kernel module loaded?)"
        )
    client: socket.socket | None = None
    try:
        listener.bind((CID_ANY, PORT_ANY))
        listener.listen(1)
        port = listener.getsockname()[1]
        client = socket.socket(family, socket.SOCK_STREAM)
        client.setblocking(False)
        rc = client.connect_ex((CID_LOCAL, port))
        if rc not in _IN_PROGRESS:
            raise OSError(rc, os.strerror(rc))
        _, writable, _ = select.select([], [client], [], PROBE_TIMEOUT)
        if not writable:
            raise OSError(errno.ETIMEDOUT, f"no answer within {PROBE_TIMEOUT:g} s")
        rc = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if rc:
            raise OSError(rc, os.strerror(rc))
    except OSError as exc:
        return Availability.no(
            "AF_VSOCK exists but connecting to the local CID fails: "
            f"{exc.strerror or exc}; vsock loopback (vsock_loopback module) is needed to "
            "talk within this host"
        )
    finally:
        listener.close()
        if client is not None:
            client.close()
    return Availability.yes()
