"""Endpoint forms, socket types, options and availability (no multicast traffic)."""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from mqsdk_transport_pgm.transport import EpgmTransport, PgmTransport, _Session, parse_endpoint

import mqsdk
from mqsdk.errors import ENOCOMPATPROTO, EndpointError, MQError


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


@pytest.mark.parametrize(
    ("address", "interface", "ifaddr", "group", "port"),
    [
        ("lo;239.192.1.1:5555", "lo", "127.0.0.1", "239.192.1.1", 5555),
        ("127.0.0.1;224.0.0.251:1", "127.0.0.1", "127.0.0.1", "224.0.0.251", 1),
    ],
)
def test_endpoint_forms(address: str, interface: str, ifaddr: str, group: str, port: int) -> None:
    parsed = parse_endpoint("epgm", address)
    assert (parsed.interface, parsed.ifaddr, parsed.group, parsed.port) == (
        interface,
        ifaddr,
        group,
        port,
    )


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("lo;239.192.1.1", "group:port"),
        ("lo;10.0.0.1:5555", "not an IPv4 multicast group"),
        ("lo;239.192.1.1:0", "port"),
        ("lo;239.192.1.1:70000", "port"),
        ("lo;239.192.1.1:x", "port"),
        (";239.192.1.1:5555", "empty interface"),
        ("no-such-if0;239.192.1.1:5555", "no-such-if0"),
        ("lo;example.com:5555", "multicast"),
    ],
)
def test_bad_endpoints(address: str, words: str) -> None:
    with pytest.raises(EndpointError, match=words):
        parse_endpoint("epgm", address)


@pytest.mark.parametrize("kind", [mqsdk.PUSH, mqsdk.PULL, mqsdk.REQ, mqsdk.REP, mqsdk.PAIR])
@pytest.mark.parametrize("scheme", ["pgm", "epgm"])
def test_only_pubsub_socket_types(ctx: mqsdk.Context, kind: int, scheme: str) -> None:
    sock = ctx.socket(kind)
    with pytest.raises(MQError, match="PUB/XPUB to SUB/XSUB only") as info:
        sock.connect(f"{scheme}://lo;239.192.1.1:5555")
    assert info.value.errno == ENOCOMPATPROTO
    with pytest.raises(MQError):
        sock.bind(f"{scheme}://lo;239.192.1.1:5555")


def test_rate_and_recovery_ivl_options(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PUB)
    assert (sock.rate, sock.recovery_ivl, sock.multicast_maxtpdu) == (100, 10000, 1500)
    sock.setsockopt(8, 5000)  # ZMQ_RATE
    sock.setsockopt(9, 2000)  # ZMQ_RECOVERY_IVL
    assert (sock.getsockopt(8), sock.getsockopt(9)) == (5000, 2000)
    with pytest.raises(MQError) as info:
        sock.rate = 0
    assert info.value.errno == errno.EINVAL


def test_pgm_options_reach_the_session(ctx: mqsdk.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The options pgm declares are set on the socket and read by the session it builds
    (the OS sockets are plain loopback UDP ones: no multicast needed)."""
    hops_seen: list[int] = []
    opened: list[socket.socket] = []

    def fake_open(self: _Session, address: object, hops: int) -> socket.socket:
        hops_seen.append(hops)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        opened.append(sock)
        return sock

    monkeypatch.setattr(_Session, "_open", fake_open)
    monkeypatch.setattr(
        _Session, "_open_unicast", lambda self, address: fake_open(self, address, 0)
    )
    pub = ctx.socket(mqsdk.PUB)
    pub.rate = 800  # kbit/s
    pub.recovery_ivl = 3000
    pub.multicast_maxtpdu = 1000
    pub.multicast_hops = 7
    pub.bind("epgm://127.0.0.1;239.192.7.7:47123")
    session = pub._message_endpoints[pub.last_endpoint.decode()]._sessions[0]
    assert session.maxtpdu == 1000
    assert session.source is not None
    assert session.source.rate == 800 * 1000 // 8  # bytes/s
    assert session.source.txw_sqns == 800 * 3000 // 8 // 1000  # the repair window
    assert hops_seen[0] == 7
    pub.close(linger=0)
    for sock in opened:
        sock.close()


def test_availability_is_reported() -> None:
    assert EpgmTransport.available()
    pgm = PgmTransport.available()
    assert pgm.ok or "CAP_NET_RAW" in pgm.reason or "raw IP sockets" in pgm.reason


def test_pgm_without_cap_net_raw_says_why() -> None:
    """Drop CAP_NET_RAW in a child process: pgm:// is unavailable with the reason."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to drop CAP_NET_RAW")
    code = (
        "import mqsdk\n"
        "ctx = mqsdk.Context()\n"
        "try:\n"
        "    ctx.socket(mqsdk.SUB).connect('pgm://lo;239.192.1.1:5555')\n"
        "except mqsdk.errors.UnsupportedTransport as exc:\n"
        "    print('refused:', exc)\n"
        "ctx.destroy(linger=0)\n"
    )
    result = subprocess.run(
        [
            setpriv,
            "--bounding-set",
            "-net_raw",
            "--inh-caps",
            "-net_raw",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "Operation not permitted" in result.stderr and "setpriv" in result.stderr:
        pytest.skip(f"cannot drop capabilities here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "CAP_NET_RAW" in result.stdout, result.stdout
