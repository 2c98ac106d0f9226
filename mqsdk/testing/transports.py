"""The transport kit: the one conformance battery every transport runs.

A transport author describes their transport with a :class:`TransportUnderTest` (its
endpoints and what it offers) and gets the standard tests, after nng's transport battery:
``last_endpoint``, refused endpoints, refused connect, close while connecting, duplicate
bind, an exchange in every socket-type pair, empty, multipart, huge and many messages, a
burst, a large message each way, reconnection after the binding side restarts,
lifecycle monitor events, the high-water mark, STREAM sockets, a peer that speaks no
ZMTP, multicast fan-out and the datagram size limit. Two ways to run it; with the
``mqsdk.testing`` pytest plugin (installed with mqsdk) a fixture in the tests' module or
``conftest.py``::

    import pytest
    from mqsdk.testing import TransportUnderTest


    @pytest.fixture(scope="session")
    def mqsdk_transport() -> TransportUnderTest:
        return TransportUnderTest("mytr", bind_endpoint=lambda: "mytr://127.0.0.1:*")

plus, in a test module, ``from mqsdk.testing.transports import TransportConformance as
TestMyTransport`` (or a subclass of it); or one option naming such an object, which adds the
battery to the collected tests by itself: ``pytest --mqsdk-transport=mypkg.testing:UNDER_TEST``.

Which checks apply is decided by declarations, never by the transport's name: the
capabilities the test declares (:data:`CAPABILITIES`: reliable or datagram, multicast,
reconnect...), the socket-type pairs it carries (:data:`PATTERNS`), and one fact the
transport itself declares by its class: a :class:`~mqsdk.plugin.StreamTransport`
(connections are byte streams carrying ZMTP) gets the checks only a byte stream can fail.
A check whose declaration is missing is skipped saying which; the whole battery is skipped
with the plugin's own reason where ``available()`` says no (or the declaration's
``unavailable`` does), unless the environment variable ``MQSDK_TEST_REQUIRE_TRANSPORTS``
(comma-separated schemes) names the scheme: then it fails, so that a run which must prove
a transport (the VM kernel test) cannot pass by skipping.

Every wait is bounded (:attr:`TransportUnderTest.wait`); nothing asserts on time.
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import mqsdk
from mqsdk.monitor import Event
from mqsdk.plugin import READ, WRITE, StreamTransport
from mqsdk.testing.helpers import WAIT, EventLog, wait_until

__all__ = [
    "CAPABILITIES",
    "CLASSIC_PATTERNS",
    "DEFAULT_CAPABILITIES",
    "PATTERNS",
    "REQUIRE_ENV",
    "TransportConformance",
    "TransportKit",
    "TransportUnderTest",
    "skip_unless_supported",
]

REQUIRE_ENV = "MQSDK_TEST_REQUIRE_TRANSPORTS"
"""Comma-separated schemes that must run here: their "not supported" skips become failures."""

CAPABILITIES: dict[str, str] = {
    "reliable": "nothing sent is lost or reordered while the peers are connected and within "
    "the high-water marks: a burst sent before the receiver reads arrives whole",
    "datagram": "a message travels as one datagram of at most max_message_size bytes; a "
    "larger one is refused at send with EMSGSIZE",
    "multicast": "every receiver on one endpoint gets what a sender sends there",
    "reconnect": "the connecting side retries (visible as CONNECT_RETRIED) and reconnects "
    "to a binding side that restarted at the same endpoint",
    "connection_events": "connections report libzmq's lifecycle events (LISTENING, ACCEPTED, "
    "CONNECTED, HANDSHAKE_SUCCEEDED, DISCONNECTED, CLOSED)",
    "exclusive_bind": "binding an endpoint that is bound already fails with EADDRINUSE "
    "(ipc, like libzmq's, replaces the old socket file instead)",
    "wildcard_bind": "TransportUnderTest.wildcard_endpoint binds every interface",
    "ephemeral_port": "bind_endpoint() names no fixed address: every bind gets its own, "
    "reported by last_endpoint",
    "hwm": "a PUSH to a PULL that does not read blocks (EAGAIN with NOBLOCK) after a bounded "
    "number of messages, and loses none",
    "stream": "STREAM sockets (raw bytes, no ZMTP) work over it",
}
"""Capabilities a transport may declare, and what declaring one promises."""

DEFAULT_CAPABILITIES = frozenset(CAPABILITIES) - {
    "datagram",
    "multicast",
    "stream",
    "wildcard_bind",
}
"""The default: what a connection-oriented stream transport offers (``stream`` and
``wildcard_bind`` are declared explicitly, the latter with ``wildcard_endpoint``)."""

PATTERNS: dict[str, tuple[str, str]] = {
    "PAIR": ("PAIR", "PAIR"),
    "PUSH/PULL": ("PUSH", "PULL"),
    "REQ/REP": ("REQ", "REP"),
    "DEALER/ROUTER": ("DEALER", "ROUTER"),
    "PUB/SUB": ("PUB", "SUB"),
    "XPUB/XSUB": ("XPUB", "XSUB"),
    "RADIO/DISH": ("RADIO", "DISH"),
}
"""Socket-type pairs the exchange tests know, as (sending or binding type, other type)."""

CLASSIC_PATTERNS = frozenset(PATTERNS) - {"RADIO/DISH"}
"""The socket-type pairs without groups. The default is every pair in :data:`PATTERNS`;
a datagram transport narrows it down, e.g. ``frozenset({"RADIO/DISH"})`` for udp or
``frozenset({"PUB/SUB", "XPUB/XSUB"})`` for pgm."""

_PRIMARY_ORDER = ("PUSH/PULL", "PAIR", "DEALER/ROUTER", "PUB/SUB", "XPUB/XSUB", "RADIO/DISH")
_ONE_WAY = frozenset({"PUB/SUB", "XPUB/XSUB", "RADIO/DISH"})
HUGE = 8 * 1024 * 1024
LARGE = 1024 * 1024
BURST = 500  # within the default high-water marks, so a PUB (which drops) keeps them all


def _same(endpoint: str) -> str:
    return endpoint


def skip_unless_supported(scheme: str, reason: str) -> None:
    """Skip the running test with ``reason`` if it is not empty; fail instead when
    ``MQSDK_TEST_REQUIRE_TRANSPORTS`` names ``scheme`` (the support must be there)."""
    if not reason:
        return
    required = {s.strip() for s in os.environ.get(REQUIRE_ENV, "").split(",") if s.strip()}
    if scheme in required:
        pytest.fail(f"{REQUIRE_ENV} requires {scheme}:// here, but: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class TransportUnderTest:
    """What the battery needs to know about a transport.

    :param scheme: the endpoint scheme the plugin registers (``"tls"``).
    :param bind_endpoint: makes a fresh endpoint to bind (``lambda: "tcp://127.0.0.1:*"``);
        called once per bind.
    :param connect_endpoint: turns a bound socket's ``last_endpoint`` into what a peer
        connects to (add client settings, replace a wildcard host...). Default: unchanged.
    :param rebind_endpoint: turns a bound socket's ``last_endpoint`` into an endpoint that
        binds the same address again (add server settings...). Default: unchanged.
    :param capabilities: what the transport offers (keys of :data:`CAPABILITIES`).
    :param patterns: the socket-type pairs it carries (keys of :data:`PATTERNS`).
    :param unused_endpoint: an endpoint nobody listens on. Default: bind one, close it.
    :param wildcard_endpoint: for ``wildcard_bind``: an endpoint binding every interface.
    :param binders: the socket types that may bind (None: any); udp says ``{"DISH"}``,
        so only RADIOs connect. Tests bind the allowed side.
    :param max_message_size: the largest message the transport carries (None: no limit
        of its own); the huge-message test sends ``min(8 MiB, max_message_size)`` bytes,
        and ``datagram`` needs it.
    :param bad_endpoints: ``(endpoint, for bind?)`` pairs that ``bind``/``connect`` must
        refuse at once with an :class:`~mqsdk.EndpointError` that names the scheme.
    :param check_last_endpoint: called with the endpoint bound and ``last_endpoint``;
        asserts that the latter is what libzmq would report.
    :param unavailable: why the kit cannot run here although ``available()`` says yes
        (vmci talks to other machines, but to itself only with vsock loopback), or "".
    :param wait: the upper bound, in seconds, of every wait and socket timeout (longer
        where the tests run under emulation).
    """

    scheme: str
    bind_endpoint: Callable[[], str]
    connect_endpoint: Callable[[str], str] = _same
    rebind_endpoint: Callable[[str], str] = _same
    capabilities: frozenset[str] = DEFAULT_CAPABILITIES
    patterns: frozenset[str] = frozenset(PATTERNS)
    unused_endpoint: Callable[[], str] | None = None
    wildcard_endpoint: str | None = None
    binders: frozenset[str] | None = None
    max_message_size: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Socket options every test socket gets (on top of linger 0 and the timeouts)."""
    bad_endpoints: Sequence[tuple[str, bool]] = ()
    check_last_endpoint: Callable[[str, str], None] | None = None
    unavailable: Callable[[], str] | None = None
    wait: float = WAIT

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(
                f"unknown capabilities {sorted(unknown)}; known: {', '.join(CAPABILITIES)}"
            )
        unknown = set(self.patterns) - set(PATTERNS)
        if unknown:
            raise ValueError(f"unknown patterns {sorted(unknown)}; known: {', '.join(PATTERNS)}")
        if "wildcard_bind" in self.capabilities and self.wildcard_endpoint is None:
            raise ValueError("wildcard_bind needs wildcard_endpoint")
        if "datagram" in self.capabilities and self.max_message_size is None:
            raise ValueError("datagram needs max_message_size (the largest datagram)")
        if {"datagram", "reliable"} <= self.capabilities:
            raise ValueError("a transport is reliable or datagram, not both")

    def require(self, capability: str) -> None:
        """Skip the calling test unless the transport declares ``capability``."""
        if capability not in self.capabilities:
            pytest.skip(f"the {self.scheme} transport does not declare {capability!r}")

    def require_pattern(self, pair: str) -> None:
        if pair not in self.patterns:
            pytest.skip(f"the {self.scheme} transport does not declare the {pair} pattern")

    def may_bind(self, socket_type: str) -> bool:
        return self.binders is None or socket_type in self.binders

    @property
    def primary(self) -> str:
        """The pair the message tests use: PUSH/PULL where declared."""
        for pair in _PRIMARY_ORDER:
            if pair in self.patterns:
                return pair
        raise ValueError("a transport must declare at least one pattern")


class TransportKit:
    """One test's context, sockets and monitor events; closes everything at the end."""

    def __init__(self, under_test: TransportUnderTest) -> None:
        self.under_test = under_test
        self.wait = under_test.wait
        self.ctx = mqsdk.Context()
        self.events = EventLog()
        self.ctx.registry.register_observer(self.events)
        self._sockets: list[mqsdk.Socket] = []
        info = self.ctx.registry.find_component("transport", under_test.scheme)
        self.transport_class: type | None = None if info is None else info.cls

    @property
    def is_stream_transport(self) -> bool:
        """Declared by the transport itself: its connections are byte streams (ZMTP)."""
        cls = self.transport_class
        return cls is not None and issubclass(cls, StreamTransport)

    def socket(self, socket_type: str, **options: Any) -> mqsdk.Socket:
        """A socket with linger 0 and bounded send/receive timeouts."""
        try:
            self.ctx.registry.pattern(socket_type)
        except mqsdk.MQError as exc:
            skip_unless_supported(self.under_test.scheme, f"no {socket_type} pattern here: {exc}")
        sock = self.ctx.socket(socket_type)
        self._sockets.append(sock)
        settings = {
            "linger": 0,
            "rcvtimeo": int(self.wait * 1000),
            "sndtimeo": int(self.wait * 1000),
            **self.under_test.options,
            **options,
        }
        for name, value in settings.items():
            sock.set(name, value)
        return sock

    def bind(self, sock: mqsdk.Socket, endpoint: str | None = None) -> str:
        """Bind to a fresh endpoint (or ``endpoint``); return what a peer connects to."""
        sock.bind(endpoint or self.under_test.bind_endpoint())
        return self.under_test.connect_endpoint(sock.last_endpoint.decode())

    def binder_type(self) -> str:
        """A socket type of the primary pair that may bind (the receiving one if it may)."""
        sender, receiver = PATTERNS[self.under_test.primary]
        return receiver if self.under_test.may_bind(receiver) else sender

    def unused_endpoint(self) -> str:
        if self.under_test.unused_endpoint is not None:
            return self.under_test.unused_endpoint()
        probe = self.ctx.socket(self.binder_type())
        probe.set("linger", 0)
        endpoint = self.bind(probe)
        probe.close()
        return endpoint

    def pair(self, pair: str, *, first_binds: bool | None = None, **options: Any) -> Link:
        """Two connected sockets of ``pair``, ready to exchange (subscriptions made).
        By default the first binds, unless the transport lets only the second bind."""
        first_type, second_type = PATTERNS[pair]
        if first_binds is None:
            first_binds = self.under_test.may_bind(first_type)
        binder_type = first_type if first_binds else second_type
        if not self.under_test.may_bind(binder_type):
            pytest.skip(
                f"over {self.under_test.scheme} only {sorted(self.under_test.binders or ())} bind"
            )
        first = self.socket(first_type, **options)
        second = self.socket(second_type, **options)
        binder, connecter = (first, second) if first_binds else (second, first)
        connecter.connect(self.bind(binder))
        link = Link(pair, first, second, self.wait)
        link.ready()
        return link

    def link(self, pair: str, first: mqsdk.Socket, second: mqsdk.Socket) -> Link:
        """``first`` and ``second``, already bound and connected, made ready."""
        link = Link(pair, first, second, self.wait)
        link.ready()
        return link

    def close(self) -> None:
        self.ctx.registry.unregister_observer(self.events)
        for sock in self._sockets:
            if not sock.closed:
                sock.close(linger=0)
        done = threading.Event()

        def term() -> None:
            self.ctx.term()
            done.set()

        threading.Thread(target=term, name="kit: ctx.term", daemon=True).start()
        if not done.wait(self.wait):
            pytest.fail(f"Context.term() did not return within {self.wait} s (a connection hangs?)")


class Link:
    """Two connected sockets of one pair; ``send`` from the first, ``recv`` on the second,
    hiding what the pair adds (ROUTER's routing id, subscriptions, RADIO's group)."""

    GROUP = "kit"

    def __init__(self, pair: str, first: mqsdk.Socket, second: mqsdk.Socket, wait: float) -> None:
        self.pair = pair
        self.first = first
        self.second = second
        self.wait = wait

    def ready(self) -> None:
        """Make the pair ready to carry messages. Where messages flow one way, a
        subscription or JOIN reaches the sender asynchronously (over multicast or udp not
        at all): probe until one arrives, then flush the probes still in flight."""
        if self.pair == "PUB/SUB":
            self.second.subscribe(b"")
        elif self.pair == "XPUB/XSUB":
            self.second.send(b"\x01")  # subscribe to everything
            assert self.first.recv() == b"\x01", "XPUB did not receive the subscription"
        elif self.pair == "RADIO/DISH":
            self.second.join(self.GROUP)
        if self.pair in _ONE_WAY:
            self.probe()

    def probe(self, marker: bytes = b"joined") -> None:
        """Send probes until the receiver gets one, then ``marker``; read up to it."""
        deadline = time.monotonic() + self.wait
        while True:
            self.send([b"probe"])
            if self.second.poll(50):
                break
            assert time.monotonic() < deadline, f"{self.pair}: nothing arrived within {self.wait} s"
        self.drain_until(marker)

    def drain_until(self, marker: bytes) -> None:
        """Send ``marker`` and read (dropping probes) until it arrives."""
        self.send([marker])
        while (got := self.recv()) != [marker]:
            assert got == [b"probe"], f"{self.pair}: {_short(got)} before {marker!r}"

    def check(self, message: list[bytes]) -> None:
        """Send ``message`` and assert that it arrives whole."""
        self.send(message)
        got = self.recv()
        assert got == message, f"{self.pair}: sent {_short(message)}, received {_short(got)}"

    def send(self, message: list[bytes], flags: int = 0) -> None:
        if self.pair == "RADIO/DISH":
            (frame,) = message
            send: Any = self.first.send
            send(frame, flags, group=self.GROUP)
        else:
            self.first.send_multipart(message, flags)

    def recv(self) -> list[bytes]:
        message = [bytes(f) for f in self.second.recv_multipart()]
        if self.pair == "DEALER/ROUTER":
            message = message[1:]
        return message


def _short(message: list[bytes]) -> str:
    return repr([f if len(f) <= 32 else f"<{len(f)} bytes>" for f in message])


class TransportConformance:
    """The battery. Needs a ``mqsdk_transport`` fixture returning a
    :class:`TransportUnderTest` (the ``mqsdk.testing`` pytest plugin provides one from
    ``--mqsdk-transport``, or define your own in ``conftest.py`` or the test module)."""

    stress_connects: ClassVar[int] = 20
    """How many connect-then-close cycles the close-while-connecting test runs."""

    @pytest.fixture
    def kit(self, mqsdk_transport: TransportUnderTest) -> Iterator[TransportKit]:
        scheme = mqsdk_transport.scheme
        kit = TransportKit(mqsdk_transport)
        try:
            info = kit.ctx.registry.find_component("transport", scheme)
            if info is None:
                pytest.fail(
                    f"no transport plugin registers {scheme!r}: is its distribution "
                    "installed (pip install -e .) with an mqsdk.plugins entry point?"
                )
            if not info.availability:
                skip_unless_supported(scheme, f"{scheme}: {info.availability.reason}")
            if mqsdk_transport.unavailable is not None:
                skip_unless_supported(scheme, mqsdk_transport.unavailable())
        except BaseException:
            kit.close()
            raise
        try:
            yield kit
        finally:
            kit.close()

    # -- endpoints ---------------------------------------------------------------------

    def test_last_endpoint(self, kit: TransportKit) -> None:
        """``last_endpoint`` names the transport and what was bound (the port an
        ephemeral bind got), and a peer reaches the socket through it."""
        under_test = kit.under_test
        sock = kit.socket(kit.binder_type())
        endpoint = under_test.bind_endpoint()
        sock.bind(endpoint)
        last = sock.last_endpoint.decode()
        assert last.startswith(f"{under_test.scheme}://"), last
        if "ephemeral_port" in under_test.capabilities:
            assert "*" not in last.rpartition(":")[2], f"no port chosen: {last}"
        if under_test.check_last_endpoint is not None:
            under_test.check_last_endpoint(endpoint, last)

    def test_bad_endpoints_are_refused(self, kit: TransportKit) -> None:
        """Each declared bad endpoint is refused at once with an EndpointError naming the
        scheme, and the socket goes on working."""
        under_test = kit.under_test
        if not under_test.bad_endpoints:
            pytest.skip(f"the {under_test.scheme} transport declares no bad_endpoints")
        sock = kit.socket(kit.binder_type())
        for endpoint, bind in under_test.bad_endpoints:
            action = sock.bind if bind else sock.connect
            # The message names the scheme, or, from a wrapper (chaos+tcp), the inner one.
            scheme = endpoint.split("://")[0].rpartition("+")[2]
            with pytest.raises(mqsdk.EndpointError, match=re.escape(f"{scheme}://")):
                action(endpoint)
        sock.bind(under_test.bind_endpoint())

    # -- connecting to nothing ---------------------------------------------------------

    def test_refused_connect(self, kit: TransportKit) -> None:
        """Connecting where nobody listens neither raises nor crashes; with ``reconnect``
        the attempts show as CONNECT_RETRIED events."""
        under_test = kit.under_test
        sender_type, receiver_type = PATTERNS[under_test.primary]
        receives = not under_test.binders or receiver_type not in under_test.binders
        sock = kit.socket(receiver_type if receives else sender_type, reconnect_ivl=20)
        sock.connect(kit.unused_endpoint())
        if "reconnect" in under_test.capabilities:
            kit.events.wait(sock, Event.CONNECT_RETRIED, count=2, timeout=kit.wait)
        assert not [e for e in kit.events.of(sock) if e.event == Event.HANDSHAKE_SUCCEEDED]
        if receives:
            with pytest.raises(mqsdk.Again):
                sock.recv(mqsdk.NOBLOCK)

    def test_close_while_connecting(self, kit: TransportKit) -> None:
        """Closing sockets whose connections are still being made (to nobody, and to a
        live peer, many times) leaves the live peer serving and the context closable."""
        pair = kit.under_test.primary
        first_type, second_type = PATTERNS[pair]
        nowhere = kit.socket(first_type, reconnect_ivl=20)
        nowhere.connect(kit.unused_endpoint())
        nowhere.close(linger=0)
        binder = kit.socket(second_type)
        endpoint = kit.bind(binder)
        for _ in range(self.stress_connects):
            sock = kit.socket(first_type)
            sock.connect(endpoint)
            sock.close(linger=0)
        if pair in _ONE_WAY:
            return  # the binder is the receiving side: nothing more to check generically
        sender = kit.socket(first_type)
        sender.connect(endpoint)
        kit.link(pair, sender, binder).check([b"after the storm"])

    def test_duplicate_bind(self, kit: TransportKit) -> None:
        kit.under_test.require("exclusive_bind")
        first = kit.socket(kit.binder_type())
        first.bind(kit.under_test.bind_endpoint())
        bound = first.last_endpoint.decode()
        second = kit.socket(first.socket_type_name)
        with pytest.raises(mqsdk.MQError) as caught:
            second.bind(kit.under_test.rebind_endpoint(bound))
        assert caught.value.errno == errno.EADDRINUSE, caught.value

    # -- messages --------------------------------------------------------------------

    @pytest.mark.parametrize("first_binds", [True, False], ids=["first-binds", "second-binds"])
    @pytest.mark.parametrize("pair", list(PATTERNS))
    def test_exchange(self, kit: TransportKit, pair: str, first_binds: bool) -> None:
        """A message each way (where the pair allows it), whichever side binds."""
        kit.under_test.require_pattern(pair)
        link = kit.pair(pair, first_binds=first_binds)
        for n in range(3):
            message = [b"hello %d" % n]
            link.send(message)
            assert link.recv() == message
            if pair == "DEALER/ROUTER":
                frames = [b"reply %d" % n]
                # The ROUTER answers through the routing id of the message it received.
                link.first.send_multipart(frames)
                routed = [bytes(f) for f in link.second.recv_multipart()]
                link.second.send_multipart([routed[0], *frames])
                assert [bytes(f) for f in link.first.recv_multipart()] == frames
            elif pair in ("PAIR", "REQ/REP"):
                link.second.send_multipart([b"reply %d" % n])
                assert [bytes(f) for f in link.first.recv_multipart()] == [b"reply %d" % n]

    def test_empty_message(self, kit: TransportKit) -> None:
        link = kit.pair(kit.under_test.primary)
        link.check([b""])

    def test_multipart(self, kit: TransportKit) -> None:
        link = kit.pair(kit.under_test.primary)
        if link.pair == "RADIO/DISH":
            pytest.skip("RADIO/DISH messages have one frame")
        message = [b"a", b"", b"c" * 300, b"d" * 70000]
        link.send(message)
        assert link.recv() == message

    def test_many_messages_in_order(self, kit: TransportKit) -> None:
        link = kit.pair(kit.under_test.primary)
        got = []
        for window in range(0, 2000, 100):  # within any HWM, even where it drops (udp)
            for n in range(window, window + 100):
                link.send([b"%d" % n])
            got += [link.recv()[0] for _ in range(100)]
        assert got == [b"%d" % n for n in range(2000)]

    def test_a_burst_arrives_whole(self, kit: TransportKit) -> None:
        """``reliable``: messages of every size sent back to back before the receiver
        reads (within the high-water marks) all arrive, whole and in order."""
        kit.under_test.require("reliable")
        link = kit.pair(kit.under_test.primary)
        limit = kit.under_test.max_message_size or 70000
        sizes = [min(limit, n * 997 % 70000) for n in range(BURST)]
        messages = [[bytes([n & 0xFF]) * size] for n, size in enumerate(sizes)]
        for message in messages:
            link.send(message)
        for n, message in enumerate(messages):
            got = link.recv()
            assert got == message, f"message {n}: sent {_short(message)}, got {_short(got)}"

    def test_huge_message(self, kit: TransportKit) -> None:
        limit = kit.under_test.max_message_size
        size = HUGE if limit is None else min(HUGE, limit)
        link = kit.pair(kit.under_test.primary)
        payload = bytes(range(256)) * (size // 256) + b"!" * (size % 256)
        link.send([payload])
        got = link.recv()
        assert len(got) == 1 and len(got[0]) == size, f"received {_short(got)}"
        assert got[0] == payload, "the huge message arrived corrupted"

    def test_large_message_each_way(self, kit: TransportKit) -> None:
        """REQ/REP: a 1 MiB request (with a head frame) and a 1 MiB reply."""
        kit.under_test.require_pattern("REQ/REP")
        link = kit.pair("REQ/REP")
        request = bytes(range(256)) * (LARGE // 256)
        reply = request[::-1] + b"!"
        link.check([b"head", request])
        link.second.send(reply)
        assert bytes(link.first.recv()) == reply, "the 1 MiB reply arrived corrupted"

    def test_oversized_message_is_refused(self, kit: TransportKit) -> None:
        """``datagram``: the largest message arrives; one byte more is refused at send
        with EMSGSIZE, and the sockets go on working."""
        under_test = kit.under_test
        under_test.require("datagram")
        assert under_test.max_message_size is not None
        link = kit.pair(under_test.primary)
        link.check([b"L" * under_test.max_message_size])
        with pytest.raises(mqsdk.MQError) as caught:
            link.send([b"O" * (under_test.max_message_size + 1)])
        assert caught.value.errno == errno.EMSGSIZE, caught.value
        link.check([b"still working"])

    def test_every_receiver_on_the_endpoint_gets_each_message(self, kit: TransportKit) -> None:
        """``multicast``: two receivers on the endpoint a sender sends to both get every
        message, in order."""
        under_test = kit.under_test
        under_test.require("multicast")
        pair = under_test.primary
        sender_type, receiver_type = PATTERNS[pair]
        sender = kit.socket(sender_type)
        endpoint = kit.bind(sender)
        links = []
        for _ in range(2):
            receiver = kit.socket(receiver_type)
            receiver.connect(endpoint)
            links.append(kit.link(pair, sender, receiver))
        links[0].send([b"go"])  # one send reaches both; earlier probes are dropped
        for link in links:
            while (got := link.recv()) != [b"go"]:
                assert got in ([b"probe"], [b"joined"]), _short(got)
        messages = [[b"%d" % n] for n in range(50)]
        for message in messages:
            links[0].send(message)
        for index, link in enumerate(links):
            received = [link.recv() for _ in messages]
            assert received == messages, f"receiver {index} got {received[:5]}..."

    # -- connections -----------------------------------------------------------------

    def test_reconnect_after_binder_restarts(self, kit: TransportKit) -> None:
        """The binding side closes and a new socket binds the same endpoint: the
        connecting side notices, reconnects (counted in its stats) and delivers."""
        under_test = kit.under_test
        under_test.require("reconnect")
        pair = under_test.primary
        first_type, second_type = PATTERNS[pair]
        sender = kit.socket(first_type, reconnect_ivl=20)
        binder = kit.socket(second_type)
        binder.bind(under_test.bind_endpoint())
        bound = binder.last_endpoint.decode()
        sender.connect(under_test.connect_endpoint(bound))
        kit.link(pair, sender, binder).check([b"before"])
        binder.close(linger=0)
        kit.events.wait(sender, Event.DISCONNECTED, timeout=kit.wait)
        restarted = kit.socket(second_type)
        _bind_again(restarted, under_test.rebind_endpoint(bound), kit.wait)
        assert restarted.last_endpoint.decode() == bound, "rebinding did not get the endpoint"
        kit.link(pair, sender, restarted).check([b"after", b"restart"][: _frames(pair)])
        assert sender.stats["reconnects"] >= 1, sender.stats

    def test_lifecycle_events(self, kit: TransportKit) -> None:
        kit.under_test.require("connection_events")
        pair = kit.under_test.primary
        first_type, second_type = PATTERNS[pair]
        binder = kit.socket(second_type)
        binder.bind(kit.under_test.bind_endpoint())
        bound = binder.last_endpoint.decode()
        connecter = kit.socket(first_type)
        connecter.connect(kit.under_test.connect_endpoint(bound))
        events, wait = kit.events, kit.wait
        (listening,) = events.wait(binder, Event.LISTENING, timeout=wait)
        assert listening.endpoint == bound
        events.wait(binder, Event.ACCEPTED, timeout=wait)
        events.wait(connecter, Event.CONNECTED, timeout=wait)
        events.wait(binder, Event.HANDSHAKE_SUCCEEDED, timeout=wait)
        events.wait(connecter, Event.HANDSHAKE_SUCCEEDED, timeout=wait)
        order = events.names(connecter)
        assert order.index("CONNECTED") < order.index("HANDSHAKE_SUCCEEDED"), order
        order = events.names(binder)
        assert order.index("LISTENING") < order.index("ACCEPTED"), order
        assert order.index("ACCEPTED") < order.index("HANDSHAKE_SUCCEEDED"), order
        connecter.close(linger=0)
        events.wait(binder, Event.DISCONNECTED, timeout=wait)
        binder.unbind(bound)
        (closed,) = events.wait(binder, Event.CLOSED, timeout=wait)
        assert closed.endpoint == bound
        assert not [e for e in events.of(binder) if "FAILED" in (e.event.name or "")], events.names(
            binder
        )

    def test_wildcard_bind(self, kit: TransportKit) -> None:
        under_test = kit.under_test
        under_test.require("wildcard_bind")
        assert under_test.wildcard_endpoint is not None
        first_type, second_type = PATTERNS[under_test.primary]
        binder = kit.socket(second_type)
        endpoint = kit.bind(binder, under_test.wildcard_endpoint)
        sender = kit.socket(first_type)
        sender.connect(endpoint)
        kit.link(under_test.primary, sender, binder).check([b"via wildcard"])

    def test_ephemeral_port(self, kit: TransportKit) -> None:
        under_test = kit.under_test
        under_test.require("ephemeral_port")
        first_type, second_type = PATTERNS[under_test.primary]
        binders = [kit.socket(second_type), kit.socket(second_type)]
        endpoints = [kit.bind(binder) for binder in binders]
        assert endpoints[0] != endpoints[1], endpoints
        for binder, endpoint in zip(binders, endpoints, strict=True):
            sender = kit.socket(first_type)
            sender.connect(endpoint)
            kit.link(under_test.primary, sender, binder).check([endpoint.encode()])

    def test_hwm(self, kit: TransportKit) -> None:
        """PUSH to a PULL that does not read: sends stop with Again (NOBLOCK) and time out
        (sndtimeo) after a bounded number of messages; once read, all arrive in order."""
        kit.under_test.require("hwm")
        kit.under_test.require_pattern("PUSH/PULL")
        pull = kit.socket("PULL", rcvhwm=5)
        push = kit.socket("PUSH", sndhwm=5, sndtimeo=100)
        push.connect(kit.bind(pull))
        if "connection_events" in kit.under_test.capabilities:
            kit.events.wait(push, Event.HANDSHAKE_SUCCEEDED, timeout=kit.wait)
        payload = b"h" * 65536
        limit = 4000  # 250 MiB: far beyond any OS socket buffer
        sent = 0
        for flags in (mqsdk.NOBLOCK, 0):  # then blocking sends, each giving up after sndtimeo
            while sent < limit:
                try:
                    push.send_multipart([b"%d" % sent, payload], flags)
                except mqsdk.Again:
                    break
                sent += 1
            assert 0 < sent < limit, f"PUSH never reached its high-water mark ({sent} sent)"
        for n in range(sent):
            got = [bytes(f) for f in pull.recv_multipart()]
            assert got[0] == b"%d" % n, f"message {n} lost or reordered: got {got[0]!r}"
        push.set("sndtimeo", int(kit.wait * 1000))
        push.send_multipart([b"room again", b""])
        assert [bytes(f) for f in pull.recv_multipart()] == [b"room again", b""]

    def test_stream_sockets(self, kit: TransportKit) -> None:
        kit.under_test.require("stream")
        server = kit.socket("STREAM")
        client = kit.socket("STREAM")
        client.connect(kit.bind(server))
        client_id, notify = client.recv_multipart()
        assert notify == b""
        client.send_multipart([client_id, b"raw bytes"])
        server_id, notify = server.recv_multipart()
        assert notify == b""
        received = b""
        while received != b"raw bytes":
            peer, data = server.recv_multipart()
            assert peer == server_id
            received += data
            assert b"raw bytes".startswith(received), received
        wait_until(lambda: bool(server.peers), "the STREAM server lists its peer", kit.wait)

    def test_a_peer_that_speaks_no_zmtp_is_dropped(self, kit: TransportKit) -> None:
        """Stream transports: a connection made with the transport's own ``connect`` (and
        ``wrap``/``handshake``, where it has them) that sends an HTTP request instead of a
        ZMTP greeting is closed by the binding socket, which goes on serving."""
        transport_class = kit.transport_class
        if transport_class is None or not issubclass(transport_class, StreamTransport):
            pytest.skip(f"{kit.under_test.scheme} is a message transport: no byte stream")
        pair = kit.under_test.primary
        first_type, second_type = PATTERNS[pair]
        binder = kit.socket(second_type)
        endpoint = kit.bind(binder)
        raw = _raw_connection(transport_class(), endpoint, binder.transport_options(), kit.wait)
        try:
            _send_all(raw, b"GET / HTTP/1.1\r\nHost: kit\r\n\r\n" + b"\0" * 64, kit.wait)
            _wait_for_close(raw, kit.wait)
        finally:
            raw.close()
        sender = kit.socket(first_type)
        sender.connect(endpoint)
        kit.link(pair, sender, binder).check([b"still serving"])


def _frames(pair: str) -> int:
    return 1 if pair == "RADIO/DISH" else 2


def _bind_again(sock: mqsdk.Socket, endpoint: str, timeout: float) -> None:
    """Bind where a closed socket was bound (the OS may take a moment to free it)."""

    def attempt() -> bool:
        try:
            sock.bind(endpoint)
        except mqsdk.MQError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            return False
        return True

    wait_until(attempt, f"{endpoint} can be bound again after its socket closed", timeout)


def _raw_connection(
    transport: StreamTransport, endpoint: str, options: dict[str, Any], timeout: float
) -> socket.socket:
    """A connected socket to ``endpoint`` made by the transport itself, its own
    handshake (TLS...) done: what a peer that does not speak ZMTP would have."""
    address = transport.parse(endpoint.partition("://")[2], bind=False, options=options)
    sock = transport.connect(address, options)
    _, writable, _ = select.select([], [sock], [], timeout)
    assert writable, f"connecting to {endpoint} did not finish within {timeout} s"
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    assert error == 0, f"connecting to {endpoint}: {os.strerror(error)}"
    transport.accepted(sock, options)
    wrapped = transport.wrap(sock, address, options, server_side=False) or sock
    deadline = time.monotonic() + timeout
    while want := transport.handshake(wrapped):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the {endpoint} transport handshake did not finish"
        readers = [wrapped] if want & READ else []
        writers = [wrapped] if want & WRITE else []
        select.select(readers, writers, [], remaining)
    return wrapped


def _send_all(sock: socket.socket, data: bytes, timeout: float) -> None:
    """Send ``data``, or stop where the peer closed the connection already (it may
    refuse the first bytes before the rest is written)."""
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            assert time.monotonic() < deadline, "the peer read nothing"
            select.select([], [sock], [], 0.05)
        except (BrokenPipeError, ConnectionResetError):
            return


def _wait_for_close(sock: socket.socket, timeout: float) -> None:
    """Read until end of stream or reset, bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the binding socket kept a non-ZMTP peer for {timeout} s"
        select.select([sock], [], [], remaining)
        try:
            if not sock.recv(4096):
                return
        except BlockingIOError:
            continue
        except OSError:  # reset: closed as well
            return
