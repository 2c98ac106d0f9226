"""The udp transport: RADIO/DISH messages as datagrams (libzmq:src/udp_engine.cpp).

One message per datagram, in libzmq's layout: ``group_len(1) group body``. A RADIO
connects (one unconnected UDP socket per endpoint; the user's thread ``sendto``s each
message as it is sent), a DISH binds (one UDP socket per endpoint, read by the socket's
I/O thread through the reactor; the DISH filters on its joined groups, since no
JOIN/LEAVE travels over udp). Both are pipes to the socket's pattern:

* :class:`RadioPipe` has ``subscribe_to_all``: the RADIO sends it every message. A
  message that does not fit in :data:`MAX_DATAGRAM` bytes is refused at send with
  EMSGSIZE (libzmq drops it silently). A full OS send buffer drops the datagram, counted
  in ``stats["dropped_hwm"]``, as a RADIO drops at a full peer.
* :class:`DishPipe` is filled from the I/O thread; datagrams beyond RCVHWM waiting
  messages, and malformed ones, are dropped and counted.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import sys
from typing import Any

from mqsdk.plugin import (
    ENOCOMPATPROTO,
    Availability,
    IoThread,
    Message,
    MessageTransport,
    MQError,
    Pipe,
    QueuedMessage,
    SocketHandle,
    as_frames,
)

from .address import UdpAddress, parse_udp

__all__ = ["MAX_DATAGRAM", "DishPipe", "RadioPipe", "UdpTransport"]

log = logging.getLogger(__name__)

MAX_DATAGRAM = 8192
"""Largest datagram sent: libzmq's ``MAX_UDP_MSG``, the buffer a libzmq DISH reads into
(a bigger datagram would be cut short there)."""
_READ_SIZE = 65535  # what we read: anything a peer may send, so nothing is cut short
_READ_BATCH = 64  # datagrams read per wake-up before the reactor serves others
_LINUX = sys.platform.startswith("linux")  # elsewhere interfaces go by IPv4 address


class RadioPipe(Pipe):
    """A RADIO's side of a udp endpoint: every message becomes one datagram at once."""

    __slots__ = ("destination", "sock")
    subscribe_to_all = True

    def __init__(
        self, owner: SocketHandle, endpoint: str, sock: socket.socket, destination: Any
    ) -> None:
        super().__init__(owner, endpoint, 0, 0, outgoing=True)
        self.sock = sock
        self.destination = destination

    @property
    def connected(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, message: QueuedMessage) -> None:
        group, body = as_frames(message)
        size = 1 + len(group) + len(body)
        if size > MAX_DATAGRAM:
            raise MQError(
                f"message too long for udp: {size} bytes as a datagram (1 + group "
                f"{len(group)} + body {len(body)}), the limit is {MAX_DATAGRAM} bytes",
                errno.EMSGSIZE,
            )
        owner = self.owner
        try:
            self.sock.sendto(b"".join((bytes((len(group),)), group, body)), self.destination)
        except BlockingIOError:
            owner.count_dropped("hwm")  # the OS buffer is full: a RADIO drops, never blocks
            return
        except OSError as exc:
            # Unreachable network and the like: a datagram is lost, the socket goes on.
            owner.count_dropped("hwm")
            log.debug("%s: sendto %s failed: %s", owner, self.destination, exc)
            return
        owner.count_sent(1, size)

    def send_command(self, frame: bytes) -> bool:
        return True  # no JOIN/LEAVE goes over udp


class DishPipe(Pipe):
    """A DISH's side of a bound udp endpoint, filled by the I/O thread."""

    __slots__ = ()
    subscribe_to_all = True

    @property
    def connected(self) -> bool:
        return True

    def send_command(self, frame: bytes) -> bool:
        return True  # JOIN/LEAVE stay local: the DISH filters what arrives


def _open(
    socket_obj: SocketHandle, address: str, *, bind: bool
) -> tuple[str, Any, UdpAddress, socket.socket]:
    """Check the socket type and the endpoint; return (endpoint, the socket's options,
    the parsed address, a new non-blocking UDP socket)."""
    endpoint = f"udp://{address}"
    kind = socket_obj.socket_type
    if kind != ("DISH" if bind else "RADIO"):
        raise MQError(
            f"cannot {'bind' if bind else 'connect'} a {kind} socket to {endpoint}: over "
            "udp only a DISH binds and only a RADIO connects; udp carries RADIO/DISH only",
            ENOCOMPATPROTO,
        )
    options = socket_obj.options
    parsed = parse_udp(address, bind=bind, ipv6=bool(options.ipv6))
    sock = socket.socket(parsed.family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    return endpoint, options, parsed, sock


class UdpTransport(MessageTransport):
    """``udp://``: RADIO connects, DISH binds; unicast and IPv4/IPv6 multicast."""

    name = "udp"
    # Only RADIO/DISH bind and connect here; the demo learns that from ENOCOMPATPROTO.
    loopback_endpoint = "udp://127.0.0.1:*"

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pipe: Pipe | None = None
        self._io_thread: IoThread | None = None

    @classmethod
    def available(cls) -> Availability:
        try:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            return Availability.no(f"cannot create a UDP socket: {exc}")
        probe.close()
        return Availability.yes()

    # -- RADIO -----------------------------------------------------------------------------

    def connect(self, socket_obj: SocketHandle, address: str) -> None:
        endpoint, options, target, sock = _open(socket_obj, address, bind=False)
        try:
            if options.sndbuf >= 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.sndbuf)
            if target.multicast:
                _multicast_sender(sock, target, options.multicast_hops, options.multicast_loop)
        except OSError as exc:
            sock.close()
            raise MQError(f"cannot connect {endpoint}: {exc.strerror or exc}", exc.errno) from None
        destination: Any = target.sockaddr()
        if target.family == socket.AF_INET6:
            destination = (*destination, 0, target.interface_index)
        pipe = RadioPipe(socket_obj, endpoint, sock, destination)
        self._sock, self._pipe = sock, pipe
        socket_obj.attach_pipe(pipe)

    # -- DISH ------------------------------------------------------------------------------

    def bind(self, socket_obj: SocketHandle, address: str) -> str:
        endpoint, options, local, sock = _open(socket_obj, address, bind=True)
        try:
            if options.rcvbuf >= 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.rcvbuf)
            if local.multicast:
                # Every DISH on the host may listen to the group's port, as in libzmq. A
                # unicast port is not shared: libzmq sets SO_REUSEADDR there too, which
                # lets a second DISH silently take the datagrams; we say EADDRINUSE.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if hasattr(socket, "SO_REUSEPORT"):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind(("::" if local.family == socket.AF_INET6 else "", local.port))
                _join_group(sock, local)
            else:
                if local.family == socket.AF_INET6 and local.host == "::":
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(local.sockaddr())
        except OSError as exc:
            sock.close()
            socket_obj.report_event("bind_failed", endpoint, exc.errno or 0)
            raise MQError(
                f"cannot bind {endpoint}: {exc.strerror or exc}", exc.errno or errno.EINVAL
            ) from None
        resolved = local.endpoint(sock.getsockname()[1])
        pipe = DishPipe(socket_obj, resolved, options.sndhwm, options.rcvhwm)
        self._sock, self._pipe = sock, pipe
        socket_obj.attach_pipe(pipe)
        io_thread = self._io_thread = socket_obj.io_thread
        reader = _Reader(sock, pipe)
        io_thread.add_reader(sock.fileno(), reader.on_readable)
        socket_obj.report_event("listening", resolved, sock.fileno())
        return resolved

    # -- both ------------------------------------------------------------------------------

    def close(self, socket_obj: SocketHandle) -> None:
        sock, pipe = self._sock, self._pipe
        self._sock = self._pipe = None
        if sock is not None:
            io_thread = self._io_thread
            if io_thread is not None:
                fd = sock.fileno()

                def forget() -> None:
                    io_thread.remove_reader(fd)
                    sock.close()

                # In the I/O thread, so no read callback runs on a closed (or reused) fd.
                if io_thread.running:
                    socket_obj.call_in_io_thread(forget, wait=True)
                else:
                    forget()
            else:
                sock.close()
        if pipe is not None:
            socket_obj.post_detach(pipe)


class _Reader:
    """Reads a DISH's datagrams in the I/O thread and queues ``[group, body]`` messages."""

    __slots__ = ("pipe", "sock")

    def __init__(self, sock: socket.socket, pipe: Pipe) -> None:
        self.sock = sock
        self.pipe = pipe

    def on_readable(self) -> None:
        pipe = self.pipe
        owner = pipe.owner
        room = pipe.rcvhwm - len(pipe.inq) if pipe.rcvhwm else _READ_BATCH
        messages: list[Message] = []
        nbytes = dropped = 0
        for _ in range(_READ_BATCH):
            try:
                data = self.sock.recv(_READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                log.debug("%s: udp receive failed: %s", owner, exc)
                break
            size = data[0] + 1 if data else 1
            if len(data) < size:
                log.debug("%s: dropping a malformed %d-byte datagram", owner, len(data))
                owner.count_dropped("malformed")
                continue
            if len(messages) >= room:
                dropped += 1  # RCVHWM messages already wait: a datagram socket drops
                continue
            messages.append([data[1:size], data[size:]])
            nbytes += len(data) - 1
        if dropped:
            owner.count_dropped("hwm", dropped)
        if messages:
            owner.count_received(len(messages), nbytes)
            pipe.deliver(messages)


def _multicast_sender(sock: socket.socket, target: UdpAddress, hops: int, loop: int) -> None:
    if target.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, loop)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
        if target.interface_index:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, target.interface_index)
        return
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, loop)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, hops)
    if target.interface_index and _LINUX:
        # struct ip_mreqn (Linux): group (unused here), address, interface index; works
        # for an interface without an IPv4 address too.
        request = struct.pack("=4s4si", bytes(4), bytes(4), target.interface_index)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, request)
    elif target.interface_address != "0.0.0.0":
        address = socket.inet_aton(target.interface_address)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, address)


def _join_group(sock: socket.socket, local: UdpAddress) -> None:
    if local.family == socket.AF_INET6:
        request = socket.inet_pton(socket.AF_INET6, local.host) + struct.pack(
            "@I", local.interface_index
        )
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
        return
    group = socket.inet_aton(local.host)
    if local.interface_index and _LINUX:
        # struct ip_mreqn: join on the interface with this index.
        request = struct.pack("=4s4si", group, bytes(4), local.interface_index)
    else:
        request = group + socket.inet_aton(local.interface_address)  # struct ip_mreq
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
