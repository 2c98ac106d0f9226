"""The conformance battery every transport must pass.

A transport author describes their transport with a :class:`TransportUnderTest` and gets
the standard tests (after nng's transport battery): refused connect, close while
connecting, duplicate bind, an exchange in every socket-type pair, empty, multipart and
huge messages, reconnection after the binding side restarts, lifecycle monitor events and
the high-water mark. Two ways to run it; with the ``mqsdk.testing`` pytest plugin (installed
with mqsdk) a fixture in the tests' ``conftest.py``::

    import pytest
    from mqsdk.testing import TransportUnderTest


    @pytest.fixture(scope="session")
    def mqsdk_transport() -> TransportUnderTest:
        return TransportUnderTest("mytr", bind_endpoint=lambda: "mytr://127.0.0.1:*")

plus, in a test module, ``from mqsdk.testing.transports import TransportConformance as
TestMyTransport`` (or a subclass of it); or one option naming such an object, which adds the
battery to the collected tests by itself: ``pytest --mqsdk-transport=mypkg.testing:UNDER_TEST``.

Tests that need something the transport does not declare (:data:`CAPABILITIES`, and the
socket-type pairs in :data:`PATTERNS`) are skipped saying which declaration is missing, and
the whole battery is skipped with the plugin's own reason where ``available()`` says no.
Every wait is bounded (:data:`~mqsdk.testing.helpers.WAIT`); nothing asserts on time.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import mqsdk
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, EventLog, wait_until

__all__ = [
    "CAPABILITIES",
    "CLASSIC_PATTERNS",
    "DEFAULT_CAPABILITIES",
    "PATTERNS",
    "TransportConformance",
    "TransportKit",
    "TransportUnderTest",
]

CAPABILITIES: dict[str, str] = {
    "reconnect": "the connecting side retries (visible as CONNECT_RETRIED) and reconnects "
    "to a binding side that restarted",
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

DEFAULT_CAPABILITIES = frozenset(CAPABILITIES) - {"stream", "wildcard_bind"}
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
HUGE = 8 * 1024 * 1024


def _same(endpoint: str) -> str:
    return endpoint


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
        of its own); the huge-message test sends ``min(8 MiB, max_message_size)`` bytes.
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
        self.ctx = mqsdk.Context()
        self.events = EventLog()
        self.ctx.registry.register_observer(self.events)
        self._sockets: list[mqsdk.Socket] = []

    def socket(self, socket_type: str, **options: Any) -> mqsdk.Socket:
        """A socket with linger 0 and bounded send/receive timeouts."""
        try:
            self.ctx.registry.pattern(socket_type)
        except mqsdk.MQError as exc:
            pytest.skip(f"no {socket_type} pattern plugin here: {exc}")
        sock = self.ctx.socket(socket_type)
        self._sockets.append(sock)
        settings = {
            "linger": 0,
            "rcvtimeo": int(WAIT * 1000),
            "sndtimeo": int(WAIT * 1000),
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
        link = Link(pair, first, second)
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
        if not done.wait(WAIT):
            pytest.fail(f"Context.term() did not return within {WAIT} s (a connection hangs?)")


class Link:
    """Two connected sockets of one pair; ``send`` from the first, ``recv`` on the second,
    hiding what the pair adds (ROUTER's routing id, subscriptions, RADIO's group)."""

    GROUP = "kit"

    def __init__(self, pair: str, first: mqsdk.Socket, second: mqsdk.Socket) -> None:
        self.pair = pair
        self.first = first
        self.second = second

    def ready(self) -> None:
        if self.pair == "PUB/SUB":
            self.second.subscribe(b"")
            self.first.wait_for_subscribers(1, timeout=WAIT)
        elif self.pair == "XPUB/XSUB":
            self.second.send(b"\x01")  # subscribe to everything
            assert self.first.recv() == b"\x01", "XPUB did not receive the subscription"
        elif self.pair == "RADIO/DISH":
            self._join()

    def _join(self) -> None:
        """A DISH's JOIN reaches the RADIO asynchronously (and over udp not at all): probe
        until one arrives, then flush the probes still in flight with a marker."""
        self.second.join(self.GROUP)
        deadline = time.monotonic() + WAIT
        while True:
            self._radio_send(b"probe")
            if self.second.poll(50):
                break
            assert time.monotonic() < deadline, f"the DISH received nothing within {WAIT} s"
        self._radio_send(b"joined")
        while bytes(self.second.recv()) != b"joined":
            pass

    def _radio_send(self, data: bytes, flags: int = 0) -> None:
        send: Any = self.first.send
        send(data, flags, group=self.GROUP)

    def check(self, message: list[bytes]) -> None:
        """Send ``message`` and assert that it arrives whole."""
        self.send(message)
        got = self.recv()
        assert got == message, f"{self.pair}: sent {_short(message)}, received {_short(got)}"

    def send(self, message: list[bytes], flags: int = 0) -> None:
        if self.pair == "RADIO/DISH":
            (frame,) = message
            self._radio_send(frame, flags)
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
    ``--mqsdk-transport``, or define your own in ``conftest.py``)."""

    stress_connects: ClassVar[int] = 20
    """How many connect-then-close cycles the close-while-connecting test runs."""

    @pytest.fixture
    def kit(self, mqsdk_transport: TransportUnderTest) -> Iterator[TransportKit]:
        kit = TransportKit(mqsdk_transport)
        info = kit.ctx.registry.find_component("transport", mqsdk_transport.scheme)
        if info is None:
            kit.close()
            pytest.fail(
                f"no transport plugin registers {mqsdk_transport.scheme!r}: is its "
                "distribution installed (pip install -e .) with an mqsdk.plugins entry point?"
            )
        if not info.availability:
            kit.close()
            pytest.skip(f"{mqsdk_transport.scheme}: {info.availability.reason}")
        try:
            yield kit
        finally:
            kit.close()

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
            kit.events.wait(sock, Event.CONNECT_RETRIED, count=2)
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
        if pair in {"PUB/SUB", "XPUB/XSUB", "RADIO/DISH"}:
            return  # the binder is the receiving side: nothing more to check generically
        sender = kit.socket(first_type)
        sender.connect(endpoint)
        link = Link(pair, sender, binder)
        link.ready()
        link.check([b"after the storm"])

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

    def test_huge_message(self, kit: TransportKit) -> None:
        limit = kit.under_test.max_message_size
        size = HUGE if limit is None else min(HUGE, limit)
        link = kit.pair(kit.under_test.primary)
        payload = bytes(range(256)) * (size // 256) + b"!" * (size % 256)
        link.send([payload])
        got = link.recv()
        assert len(got) == 1 and len(got[0]) == size, f"received {_short(got)}"
        assert got[0] == payload, "the huge message arrived corrupted"

    # -- connections -----------------------------------------------------------------

    def test_reconnect_after_binder_restarts(self, kit: TransportKit) -> None:
        under_test = kit.under_test
        under_test.require("reconnect")
        pair = under_test.primary
        first_type, second_type = PATTERNS[pair]
        sender = kit.socket(first_type, reconnect_ivl=20)
        binder = kit.socket(second_type)
        binder.bind(under_test.bind_endpoint())
        bound = binder.last_endpoint.decode()
        sender.connect(under_test.connect_endpoint(bound))
        link = Link(pair, sender, binder)
        link.ready()
        link.check([b"before"])
        binder.close(linger=0)
        kit.events.wait(sender, Event.DISCONNECTED)
        restarted = kit.socket(second_type)
        _bind_again(restarted, under_test.rebind_endpoint(bound))
        link = Link(pair, sender, restarted)
        link.ready()
        link.check([b"after"])

    def test_lifecycle_events(self, kit: TransportKit) -> None:
        kit.under_test.require("connection_events")
        pair = kit.under_test.primary
        first_type, second_type = PATTERNS[pair]
        binder = kit.socket(second_type)
        binder.bind(kit.under_test.bind_endpoint())
        bound = binder.last_endpoint.decode()
        connecter = kit.socket(first_type)
        connecter.connect(kit.under_test.connect_endpoint(bound))
        events = kit.events
        (listening,) = events.wait(binder, Event.LISTENING)
        assert listening.endpoint == bound
        events.wait(binder, Event.ACCEPTED)
        events.wait(connecter, Event.CONNECTED)
        events.wait(binder, Event.HANDSHAKE_SUCCEEDED)
        events.wait(connecter, Event.HANDSHAKE_SUCCEEDED)
        order = events.names(connecter)
        assert order.index("CONNECTED") < order.index("HANDSHAKE_SUCCEEDED"), order
        order = events.names(binder)
        assert order.index("LISTENING") < order.index("ACCEPTED"), order
        assert order.index("ACCEPTED") < order.index("HANDSHAKE_SUCCEEDED"), order
        connecter.close(linger=0)
        events.wait(binder, Event.DISCONNECTED)
        binder.unbind(bound)
        (closed,) = events.wait(binder, Event.CLOSED)
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
        link = Link(under_test.primary, sender, binder)
        link.ready()
        link.check([b"via wildcard"])

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
            link = Link(under_test.primary, sender, binder)
            link.ready()
            link.check([endpoint.encode()])

    def test_hwm(self, kit: TransportKit) -> None:
        """PUSH to a PULL that does not read: sends stop with Again (NOBLOCK) and time out
        (sndtimeo) after a bounded number of messages; once read, all arrive in order."""
        kit.under_test.require("hwm")
        kit.under_test.require_pattern("PUSH/PULL")
        pull = kit.socket("PULL", rcvhwm=5)
        push = kit.socket("PUSH", sndhwm=5, sndtimeo=100)
        push.connect(kit.bind(pull))
        if "connection_events" in kit.under_test.capabilities:
            kit.events.wait(push, Event.HANDSHAKE_SUCCEEDED)
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
        push.set("sndtimeo", int(WAIT * 1000))
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
        wait_until(lambda: bool(server.peers), "the STREAM server lists its peer")


def _bind_again(sock: mqsdk.Socket, endpoint: str) -> None:
    """Bind where a closed socket was bound (the OS may take a moment to free it)."""

    def attempt() -> bool:
        try:
            sock.bind(endpoint)
        except mqsdk.MQError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            return False
        return True

    wait_until(attempt, f"{endpoint} can be bound again after its socket closed")
