"""``pgm://`` and ``epgm://``: reliable multicast PUB/SUB, as libzmq offers it.

One :class:`_Session` per bound or connected endpoint owns one OS socket (raw IP
protocol 113 for pgm, UDP on the endpoint's port for epgm), joined to the group on the
interface. PUB/XPUB endpoints run a :class:`~.source.Source`, SUB/XSUB ones a
:class:`~.receiver.Receiver`; either way all packet work happens in the socket's reactor
thread (a reader on the fd, timers for SPMs, NAKs and the rate limit). The session's
pipe carries whole messages to and from the pattern:

* sending: the pattern queues on ``pipe.outq``; the reactor encodes and packetises.
  Nothing goes upstream over pgm, so a publisher's pipe starts subscribed to everything
  (a ``01`` message, as libzmq's pgm_sender pushes) and the SUB filters locally.
* receiving: whole messages in order go to ``pipe.inq`` through :meth:`Pipe.deliver`; at
  RCVHWM the session stops reading the fd until the user drains the pipe (the kernel's
  buffer then overflows and the lost packets are NAKed, as with libzmq).

Departures from a PGM network deployment, fine on one LAN: NAKs and SPMRs are sent to
the group (every member hears them; sources accept them from anywhere), there is no
PGM router support (no OPT_PATH_NLA, no router alert), and multicast loop is on, so
publishers and subscribers on one host see each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from mqsdk.plugin import (
    ENOCOMPATPROTO,
    Availability,
    EndpointError,
    Message,
    MessageTransport,
    MQError,
    NonNegative,
    OptionModel,
    PeerInfo,
    Pipe,
    QueuedMessage,
    SocketHandle,
    TimerHandle,
    as_frames,
    option,
)
from mqsdk_transport_pgm.packets import (
    NAK,
    NCF,
    ODATA,
    RDATA,
    SPM,
    SPMR,
    Packet,
    PacketError,
    decode,
)
from mqsdk_transport_pgm.receiver import Receiver
from mqsdk_transport_pgm.source import Source

__all__ = ["EpgmTransport", "PgmAddress", "PgmOptions", "PgmTransport", "hooks", "parse_endpoint"]

log = logging.getLogger(__name__)

IPPROTO_PGM = 113
_SIOCGIFADDR = 0x8915
_SENDERS = frozenset({"PUB", "XPUB"})
_RECEIVERS = frozenset({"SUB", "XSUB"})
_READ_BATCH = 256  # datagrams per readable event before other work gets a turn
_BUFFER = 4 << 20  # socket buffers: bursts at high rates must not overflow them
_MIN_RXW = 1000  # receive window floor (packets): a slower-configured receiver still copes
_CLOSE_WAIT = 5.0  # seconds close() waits for the reactor to flush and close


@dataclass
class TestHooks:
    """For tests only: drop received data packets or packets about to be sent, choose the
    first sequence number."""

    drop_data: Callable[[Packet], bool] | None = None
    drop_sent: Callable[[bytes], bool] | None = None
    first_sqn: int | None = None


hooks = TestHooks()


@dataclass(frozen=True)
class PgmAddress:
    """A parsed endpoint: interface (as given), its IPv4 address, group and port."""

    interface: str
    ifaddr: str
    group: str
    port: int


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return text.count(".") == 3


def interface_address(name: str) -> str:
    """The IPv4 address of interface ``name`` (a name such as ``eth0`` or an address)."""
    if _is_ipv4(name):
        return name
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack("256s", name.encode()[:15])
        answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
    except OSError as exc:
        raise EndpointError(
            f"interface {name!r} has no IPv4 address here ({exc.strerror or exc}); "
            "give an interface name or address, e.g. epgm://eth0;239.192.1.1:5555"
        ) from None
    finally:
        probe.close()
    return socket.inet_ntoa(answer[20:24])


def _route_address(group: str, port: int) -> str:
    """The local address the routing table would send to ``group`` from."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((group, port))
        return str(probe.getsockname()[0])
    except OSError as exc:
        raise EndpointError(
            f"no route to multicast group {group} ({exc.strerror or exc}); name the "
            f"interface: {group} -> eth0;{group}"
        ) from None
    finally:
        probe.close()


def parse_endpoint(scheme: str, address: str) -> PgmAddress:
    """``[iface;]group:port`` with an IPv4 multicast group, as libzmq's pgm endpoints."""
    example = f"{scheme}://eth0;239.192.1.1:5555"
    interface, sep, rest = address.rpartition(";")
    group, colon, port_text = rest.rpartition(":")
    if not colon or not group:
        raise EndpointError(
            f"{scheme}://{address}: expected [interface;]group:port, e.g. {example}"
        )
    if sep and not interface:
        raise EndpointError(f"{scheme}://{address}: empty interface before ';' (e.g. {example})")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise EndpointError(f"{scheme}://{address}: the port must be 1-65535, got {port_text!r}")
    if not _is_ipv4(group) or not 224 <= int(group.split(".")[0]) <= 239:
        raise EndpointError(
            f"{scheme}://{address}: {group!r} is not an IPv4 multicast group "
            f"(224.0.0.0-239.255.255.255), e.g. {example}"
        )
    port = int(port_text)
    ifaddr = interface_address(interface) if interface else _route_address(group, port)
    return PgmAddress(interface, ifaddr, group, port)


def _shared_udp_socket() -> socket.socket:
    """A UDP socket that shares its port with every other member on this host (OpenPGM
    sets SO_REUSEPORT on its sockets, which must then be set on ours too)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        sock.close()
        raise
    return sock


class PgmPipe(Pipe):
    """The pipe between a socket and one pgm endpoint (all sources or all receivers)."""

    subscribe_to_all = True  # no subscriptions travel: the SUB filters by itself
    __slots__ = ("session",)

    def __init__(self, owner: SocketHandle, endpoint: str, session: _Session) -> None:
        options = owner.options
        super().__init__(owner, endpoint, options.sndhwm, options.rcvhwm, outgoing=True)
        self.session = session

    @property
    def connected(self) -> bool:
        return not self.session.closed

    def write(self, message: QueuedMessage) -> None:
        if self.session.source is None:
            return  # XSUB's upstream messages: pgm carries nothing upstream (as libzmq)
        outq = self.outq
        outq.append(message)
        if len(outq) == 1:
            self.session.kick()

    def send_command(self, frame: bytes) -> bool:
        return True  # subscriptions stay local: the SUB filters what arrives

    def send_message(self, message: Message) -> bool:
        return True

    def drained(self) -> None:
        if len(self.inq) <= (self.rcvhwm + 1) // 2:
            self.session.resume()


class _Session:
    """One endpoint's OS socket and protocol state; runs in the reactor thread."""

    def __init__(self, sock: SocketHandle, scheme: str, address: PgmAddress, endpoint: str) -> None:
        options = sock.component_options(PgmOptions)
        self.socket = sock
        self.reactor = sock.io_thread
        self.raw = scheme == "pgm"
        self.address = address
        self.closed = False
        self.maxtpdu = int(options.multicast_maxtpdu)
        overhead = 20 if self.raw else 28  # IPv4 (+ UDP) header
        max_tsdu = self.maxtpdu - overhead - 24  # PGM header and data header
        window = int(options.rate) * int(options.recovery_ivl) // 8 // self.maxtpdu
        self.os = self._open(address, int(sock.options.multicast_hops))
        self.unicast: socket.socket | None = None
        if not self.raw and sock.socket_type in _SENDERS:
            self.unicast = self._open_unicast(address)
        self.pipe = PgmPipe(sock, endpoint, self)
        self.pipe.peer = PeerInfo("", b"", f"{address.group}:{address.port}", {})
        now = time.monotonic()
        self.source: Source | None = None
        self.receiver: Receiver | None = None
        if sock.socket_type in _SENDERS:
            sport = random.randrange(1, 65536)
            while sport == address.port:
                sport = random.randrange(1, 65536)
            self.source = Source(
                gsi=os.urandom(6),
                sport=sport,
                dport=address.port,
                group=address.group,
                nla=address.ifaddr,
                max_tsdu=max_tsdu,
                txw_sqns=window,
                rate=int(options.rate),
                overhead=overhead,
                send=self._send,
                now=now,
                first_sqn=hooks.first_sqn if hooks.first_sqn is not None else 0,
                stats=sock.stats,
            )
            # PGM cannot carry subscriptions upstream: subscribe this pipe to everything.
            self.pipe.inq.append([b"\x01"])
        else:
            self.receiver = Receiver(
                dport=address.port,
                group=address.group,
                rxw_sqns=max(window, _MIN_RXW),
                send=self._send,
                maxmsgsize=int(sock.options.maxmsgsize),
                stats=sock.stats,
            )
        self._timer: TimerHandle | None = None
        self._timer_at = 0.0
        self._rate_timer: TimerHandle | None = None
        self._reading = False
        # What a raw socket keeps: packets to the group, and NAKs unicast to us.
        self._destinations = {socket.inet_aton(address.group), socket.inet_aton(address.ifaddr)}

    # -- the OS socket ----------------------------------------------------------------

    def _open(self, address: PgmAddress, hops: int) -> socket.socket:
        if self.raw:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PGM)
        else:
            sock = _shared_udp_socket()
        try:
            if not self.raw:
                # Bound to the group: only its datagrams arrive, whatever else uses the port.
                sock.bind((address.group, address.port))
            membership = socket.inet_aton(address.group) + socket.inet_aton(address.ifaddr)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address.ifaddr)
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, max(0, min(hops, 255)))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise MQError(
                f"cannot join {address.group}:{address.port} on {address.ifaddr}: "
                f"{exc.strerror or exc}",
                exc.errno or errno.EINVAL,
            ) from None
        return sock

    def _open_unicast(self, address: PgmAddress) -> socket.socket | None:
        """epgm sources: OpenPGM receivers unicast their NAKs to the source's address on
        the endpoint's port, which the group-bound socket does not receive. Bound to the
        interface address, this socket is the most specific match for them."""
        sock = _shared_udp_socket()
        try:
            sock.bind((address.ifaddr, address.port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.warning(
                "pgm: cannot receive unicast NAKs on %s:%d (%s); receivers that unicast "
                "them (OpenPGM) get no repairs from this source",
                address.ifaddr,
                address.port,
                exc.strerror or exc,
            )
            return None
        return sock

    def _send(self, packet: bytes) -> None:
        drop = hooks.drop_sent
        if drop is not None and drop(packet):
            return
        target = (self.address.group, 0 if self.raw else self.address.port)
        try:
            self.os.sendto(packet, target)
        except OSError as exc:
            # A full buffer or a transient error loses this packet like the network
            # would: receivers NAK data, SPMs repeat.
            log.debug("pgm: send to %s failed: %s", target, exc)

    # -- user thread --------------------------------------------------------------------

    def start(self) -> None:
        self.reactor.call_soon(self._start)

    def kick(self) -> None:
        self.reactor.call_soon(self._pump)

    def resume(self) -> None:
        self.reactor.call_soon(self._resume)

    def close(self, linger: int) -> None:
        """Flush (a source, unless ``linger`` is 0) and close; waits for the reactor."""
        if self.closed:
            return
        if not self.reactor.running or self.reactor.in_thread():
            self._shutdown(linger)
            return
        done = threading.Event()

        def run() -> None:
            try:
                self._shutdown(linger)
            finally:
                done.set()

        self.reactor.call_soon(run)
        if not done.wait(_CLOSE_WAIT):
            log.warning("pgm: the I/O thread did not close %s in time", self.pipe.endpoint)

    # -- reactor thread -----------------------------------------------------------------

    def _start(self) -> None:
        if self.closed:
            return
        self.reactor.add_reader(self.os.fileno(), self._readable)
        self._reading = True
        if self.unicast is not None:
            unicast = self.unicast
            self.reactor.add_reader(unicast.fileno(), lambda: self._readable(unicast))
        if self.source is not None:
            self.source.tick(time.monotonic())  # an SPM first: receivers join at its lead
            self._pump()
        self._arm()

    def _shutdown(self, linger: int) -> None:
        if self.closed:
            return
        source = self.source
        if source is not None and linger != 0 and (source.pending or self.pipe.outq):
            source.pump(time.monotonic(), self._load, unlimited=True)
            source.spm()  # receivers learn the final leading edge
        self.closed = True
        if self._reading:
            self.reactor.remove_reader(self.os.fileno())
            self._reading = False
        for timer in (self._timer, self._rate_timer):
            if timer is not None:
                timer.cancel()
        if self.unicast is not None:
            self.reactor.remove_reader(self.unicast.fileno())
            self.unicast.close()
        self.os.close()

    def _resume(self) -> None:
        if self.closed or self._reading:
            return
        self.pipe.read_paused = False
        self.reactor.add_reader(self.os.fileno(), self._readable)
        self._reading = True
        self._readable()

    def _load(self) -> bool:
        """Move queued messages from the pipe into the packer, a TSDU's worth at most."""
        outq = self.pipe.outq
        if not outq:
            return False
        assert self.source is not None
        packer = self.source.packer
        hwm = self.pipe.sndhwm
        full = bool(hwm) and len(outq) >= hwm
        count = size = 0
        while outq and len(packer) < packer.room:
            message = as_frames(outq.popleft())  # a PUB's single frames come bare
            packer.add(message)
            count += 1
            size += sum(map(len, message))
        self.socket.count_sent(count, size)
        if full:
            self.socket.pipe_writable(self.pipe)
        return True

    def _pump(self) -> None:
        source = self.source
        if self.closed or source is None:
            return
        wait = source.pump(time.monotonic(), self._load)
        if wait > 0 and self._rate_timer is None:
            self._rate_timer = self.reactor.call_later(wait, self._rate_refilled)
        self._arm()

    def _rate_refilled(self) -> None:
        self._rate_timer = None
        self._pump()

    def _arm(self) -> None:
        """Keep one timer for the earliest SPM or NAK deadline."""
        if self.closed:
            return
        if self.source is not None:
            deadline: float | None = self.source.next_spm
        else:
            assert self.receiver is not None
            deadline = self.receiver.next_deadline()
            if deadline is None and self.receiver.peers:
                deadline = time.monotonic() + 1.0  # peer expiry
        if deadline is None:
            return
        if self._timer is not None and not self._timer.cancelled:
            if self._timer_at <= deadline + 0.001:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.reactor.call_later(deadline - time.monotonic(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = time.monotonic()
        try:
            if self.source is not None:
                self.source.tick(now)
            elif self.receiver is not None:
                messages, _ = self.receiver.tick(now)
                self._deliver(messages)
        finally:
            # Re-arm even if that raised (the reactor logs it): without the timer, no
            # source on this endpoint would get NAKs, SPMs or expiry again.
            self._arm()

    def _readable(self, sock: socket.socket | None = None) -> None:
        if self.closed:
            return
        sock = sock or self.os
        messages: list[Message] = []
        for _ in range(_READ_BATCH):
            try:
                data, peer = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("pgm: receive failed: %s", exc)
                break
            source_ip = peer[0]
            if self.raw:
                data, source_ip = self._strip_ip(data)
                if not data:
                    continue
            self._packet(data, source_ip, messages)
        if messages:
            self._deliver(messages)
        self._arm()

    def _strip_ip(self, data: bytes) -> tuple[bytes, str]:
        """A raw socket sees whole IPv4 packets of protocol 113 for every group."""
        if len(data) < 20 or data[0] >> 4 != 4:
            return b"", ""
        header = (data[0] & 0x0F) * 4
        if header < 20 or len(data) < header or data[16:20] not in self._destinations:
            return b"", ""
        return data[header:], socket.inet_ntoa(data[12:16])

    def _packet(self, data: bytes, source_ip: str, messages: list[Message]) -> None:
        if len(data) < 16:
            self._malformed("short packet")
            return
        kind = data[4] & 0x0F
        port = int.from_bytes(data[2:4], "big")
        source = self.source
        if source is not None:
            # Only what receivers send us matters: NAKs and SPMRs for our session.
            if kind not in (NAK, SPMR) or port != source.sport or data[8:14] != source.gsi:
                return
        elif kind not in (SPM, ODATA, RDATA, NCF) or port != self.address.port:
            return
        try:
            packet = decode(data)
        except PacketError as exc:
            self._malformed(str(exc))
            return
        now = time.monotonic()
        if source is not None:
            if packet.type == NAK:
                if source.on_nak(packet):
                    self._pump()
            else:
                source.on_spmr(now)
            return
        if packet.type in (ODATA, RDATA):
            drop = hooks.drop_data
            if drop is not None and drop(packet):
                return
        assert self.receiver is not None
        messages += self.receiver.on_packet(packet, source_ip, now)

    def _malformed(self, why: str) -> None:
        stats = self.socket.stats
        stats["pgm_malformed"] = stats.get("pgm_malformed", 0) + 1
        log.debug("pgm: dropped a malformed packet on %s: %s", self.pipe.endpoint, why)

    def _deliver(self, messages: list[Message]) -> None:
        if not messages:
            return
        stats = self.socket.stats
        self.socket.count_received(len(messages), sum(len(f) for m in messages for f in m))
        pipe = self.pipe
        if not pipe.deliver(messages) and self._reading:
            # RCVHWM: stop reading until the user drains the pipe (PgmPipe.drained).
            pipe.read_paused = True
            self.reactor.remove_reader(self.os.fileno())
            self._reading = False
            stats["pgm_read_pauses"] = stats.get("pgm_read_pauses", 0) + 1


class PgmOptions(OptionModel):
    """The socket options pgm and epgm own, as libzmq names and numbers them (the
    multicast TTL, ``multicast_hops``, is the kernel's: udp reads it too)."""

    rate: int = option(
        100, number=8, doc="Multicast data rate in kbit/s (pgm, epgm).", ge=1, le=2**31 - 1
    )
    recovery_ivl: NonNegative = option(
        10000, number=9, doc="How long (ms) multicast data stays repairable (pgm, epgm)."
    )
    multicast_maxtpdu: int = option(
        1500,
        number=84,
        doc="Largest multicast packet in bytes, IP header included (pgm, epgm).",
        ge=64,
        le=65535,
    )


class _PgmBase(MessageTransport):
    """What pgm and epgm share; they differ in the OS socket only."""

    option_model = PgmOptions

    def __init__(self) -> None:
        self._sessions: list[_Session] = []

    def _open(self, sock: SocketHandle, address: str) -> str:
        endpoint = f"{self.name}://{address}"
        kind = sock.socket_type
        if kind not in _SENDERS | _RECEIVERS:
            raise MQError(
                f"{self.name}:// carries PUB/XPUB to SUB/XSUB only (reliable multicast "
                f"publish-subscribe); a {kind} socket cannot use {endpoint}",
                ENOCOMPATPROTO,
            )
        parsed = parse_endpoint(self.name, address)
        session = _Session(sock, self.name, parsed, endpoint)
        self._sessions.append(session)
        sock.attach_pipe(session.pipe)
        session.start()
        return endpoint

    def bind(self, socket: SocketHandle, address: str) -> str:
        # libzmq treats bind like connect: both join the group.
        return self._open(socket, address)

    def connect(self, socket: SocketHandle, address: str) -> None:
        self._open(socket, address)

    def close(self, socket: SocketHandle) -> None:
        sessions, self._sessions = self._sessions, []
        linger = int(socket.options.linger)
        for session in sessions:
            session.close(linger)
            socket.post_detach(session.pipe)


class EpgmTransport(_PgmBase):
    """``epgm://[iface;]group:port``: PGM encapsulated in UDP on the endpoint's port."""

    name = "epgm"

    @classmethod
    def available(cls) -> Availability:
        if not hasattr(socket, "IP_ADD_MEMBERSHIP"):
            return Availability.no("this platform's socket module has no IPv4 multicast")
        return Availability.yes()


class PgmTransport(_PgmBase):
    """``pgm://[iface;]group:port``: PGM directly over IP (protocol 113)."""

    name = "pgm"
    _availability: ClassVar[Availability | None] = None

    @classmethod
    def available(cls) -> Availability:
        if cls._availability is None:
            cls._availability = _raw_sockets_work()
        return cls._availability


def _raw_sockets_work() -> Availability:
    if not hasattr(socket, "IP_ADD_MEMBERSHIP"):
        return Availability.no("this platform's socket module has no IPv4 multicast")
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PGM)
    except PermissionError:
        return Availability.no(
            "raw IP sockets (protocol 113) need CAP_NET_RAW or root; use epgm:// "
            "(PGM over UDP) instead"
        )
    except OSError as exc:
        return Availability.no(f"raw IP sockets (protocol 113) fail here: {exc.strerror or exc}")
    probe.close()
    return Availability.yes()
