"""The tcp transport on real OS sockets, loopback only.

Waits are select() calls bounded by WAIT seconds; nothing sleeps.
"""

from __future__ import annotations

import errno
import select
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from mqsdk_transport_tcp import TcpTransport, mqsdk_transports

WAIT = 10.0
DEFAULTS: dict[str, Any] = {
    "ipv6": 0,
    "backlog": 100,
    "tcp_keepalive": -1,
    "tcp_keepalive_cnt": -1,
    "tcp_keepalive_idle": -1,
    "tcp_keepalive_intvl": -1,
    "sndbuf": -1,
    "rcvbuf": -1,
}


def _options(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, **changes}


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(
    not _has_ipv6_loopback(), reason="this host has no IPv6 loopback (::1)"
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs Linux (interface 'lo', 127.0.0.0/8)"
)


class Sockets:
    """Closes every socket a test made."""

    def __init__(self) -> None:
        self.made: list[socket.socket] = []

    def keep(self, sock: socket.socket) -> socket.socket:
        self.made.append(sock)
        return sock


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    made = Sockets()
    try:
        yield made
    finally:
        for sock in made.made:
            sock.close()


def _connected(sock: socket.socket) -> None:
    """Wait (bounded) for a non-blocking connect and check it succeeded."""
    _, writable, _ = select.select([], [sock], [], WAIT)
    assert writable, "connect did not complete"
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def _accept(listener: socket.socket) -> socket.socket:
    readable, _, _ = select.select([listener], [], [], WAIT)
    assert readable, "no connection to accept"
    conn, _ = listener.accept()
    return conn


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        readable, _, _ = select.select([sock], [], [], WAIT)
        assert readable, f"only {len(data)} of {size} bytes arrived"
        chunk = sock.recv(size - len(data))
        assert chunk, "peer closed"
        data += chunk
    return data


def _pair(
    sockets: Sockets, bind: str, options: dict[str, Any], connect: str | None = None
) -> tuple[str, socket.socket, socket.socket]:
    """Listen on ``bind``, connect (to the resolved endpoint unless given), accept."""
    transport = TcpTransport()
    listener, endpoint = transport.listen(
        transport.parse(bind, bind=True, options=options), options
    )
    sockets.keep(listener)
    if connect is None:  # a wildcard listener is reached through loopback
        host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
        connect = f"{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{port}"
    client = sockets.keep(
        transport.connect(transport.parse(connect, bind=False, options=options), options)
    )
    _connected(client)
    server = sockets.keep(_accept(listener))
    transport.accepted(server, options)
    transport.accepted(client, options)
    return endpoint, client, server


def _exchange(a: socket.socket, b: socket.socket) -> None:
    a.send(b"ping")
    assert _recv_exactly(b, 4) == b"ping"
    b.send(b"pong!")
    assert _recv_exactly(a, 5) == b"pong!"


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def test_plugin_hook() -> None:
    assert mqsdk_transports() == [TcpTransport]
    assert TcpTransport.name == "tcp"
    assert TcpTransport.kind == "transport"
    assert TcpTransport.available()


def test_ephemeral_bind_reports_real_port_and_exchanges_bytes(sockets: Sockets) -> None:
    endpoint, client, server = _pair(sockets, "127.0.0.1:*", _options())
    port = _port(endpoint)
    assert endpoint == f"tcp://127.0.0.1:{port}"
    assert 0 < port <= 65535
    assert server.getsockname()[1] == port
    assert not client.getblocking() and not server.getblocking()
    _exchange(client, server)
    assert TcpTransport().peer_address(server) == "127.0.0.1"


def test_wildcard_bind_reports_any_address(sockets: Sockets) -> None:
    endpoint, client, server = _pair(sockets, "*:0", _options())
    assert endpoint.startswith("tcp://0.0.0.0:")
    _exchange(client, server)


def test_listener_is_nonblocking_and_reuses_address(sockets: Sockets) -> None:
    transport = TcpTransport()
    options = _options(backlog=5)
    listener, _ = transport.listen(
        transport.parse("127.0.0.1:0", bind=True, options=options), options
    )
    sockets.keep(listener)
    assert not listener.getblocking()
    if sys.platform != "win32":
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_bind_to_address_in_use_raises_eaddrinuse(sockets: Sockets) -> None:
    transport = TcpTransport()
    options = _options()
    listener, endpoint = transport.listen(
        transport.parse("127.0.0.1:*", bind=True, options=options), options
    )
    sockets.keep(listener)
    again = transport.parse(endpoint.removeprefix("tcp://"), bind=True, options=options)
    with pytest.raises(OSError) as info:
        sockets.keep(transport.listen(again, options)[0])
    assert info.value.errno == errno.EADDRINUSE


@needs_ipv6
def test_ipv6_loopback(sockets: Sockets) -> None:
    endpoint, client, server = _pair(sockets, "[::1]:*", _options())
    assert endpoint == f"tcp://[::1]:{_port(endpoint)}"
    assert client.family == socket.AF_INET6
    _exchange(client, server)
    assert TcpTransport().peer_address(server) == "::1"


@needs_ipv6
def test_ipv6_wildcard_is_dual_stack(sockets: Sockets) -> None:
    options = _options(ipv6=1)
    transport = TcpTransport()
    listener, endpoint = transport.listen(
        transport.parse("*:*", bind=True, options=options), options
    )
    sockets.keep(listener)
    port = _port(endpoint)
    assert endpoint == f"tcp://[::]:{port}"
    assert listener.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
    # An IPv4 client (ipv6 off) reaches the IPv6 wildcard listener.
    client = sockets.keep(
        transport.connect(transport.parse(f"127.0.0.1:{port}", bind=False, options={}), {})
    )
    assert client.family == socket.AF_INET
    _connected(client)
    server = sockets.keep(_accept(listener))
    _exchange(client, server)
    assert transport.peer_address(server) == "::ffff:127.0.0.1"


def test_nodelay_after_accepted(sockets: Sockets) -> None:
    _, client, server = _pair(sockets, "127.0.0.1:*", _options())
    for sock in (client, server):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_keepalive_options_applied(sockets: Sockets) -> None:
    options = _options(
        tcp_keepalive=1, tcp_keepalive_cnt=4, tcp_keepalive_idle=31, tcp_keepalive_intvl=7
    )
    _, client, server = _pair(sockets, "127.0.0.1:*", options)
    for sock in (client, server):
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
        if hasattr(socket, "TCP_KEEPCNT"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 31
        if hasattr(socket, "TCP_KEEPINTVL"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 7


def test_keepalive_off_and_default(sockets: Sockets) -> None:
    transport = TcpTransport()
    _, _client, server = _pair(sockets, "127.0.0.1:*", _options(tcp_keepalive=1))
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    transport.accepted(server, _options(tcp_keepalive=-1))  # -1 leaves it as it is
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    count = getattr(socket, "TCP_KEEPCNT", None)
    before = server.getsockopt(socket.IPPROTO_TCP, count) if count is not None else 0
    transport.accepted(server, _options(tcp_keepalive=0, tcp_keepalive_cnt=before + 1))
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    if count is not None:  # the tuning only applies with keepalive on, as in libzmq
        assert server.getsockopt(socket.IPPROTO_TCP, count) == before


def test_buffer_sizes_applied(sockets: Sockets) -> None:
    size = 1 << 16
    options = _options(sndbuf=size, rcvbuf=size)
    transport = TcpTransport()
    listener, endpoint = transport.listen(
        transport.parse("127.0.0.1:*", bind=True, options=options), options
    )
    sockets.keep(listener)
    client = sockets.keep(
        transport.connect(
            transport.parse(endpoint.removeprefix("tcp://"), bind=False, options=options), options
        )
    )
    _connected(client)
    server = sockets.keep(_accept(listener))
    transport.accepted(server, options)
    for sock in (listener, client, server):
        # Linux doubles the value for bookkeeping; every OS gives at least what was asked.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= size
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= size


@linux_only
def test_source_address_is_bound_before_connect(sockets: Sockets) -> None:
    # 127.0.0.2 is a loopback address on Linux; the kernel would pick 127.0.0.1 itself.
    transport = TcpTransport()
    listener, endpoint = transport.listen(transport.parse("127.0.0.1:*", bind=True, options={}), {})
    sockets.keep(listener)
    address = transport.parse(f"127.0.0.2:*;127.0.0.1:{_port(endpoint)}", bind=False, options={})
    client = sockets.keep(transport.connect(address, {}))
    _connected(client)
    server = sockets.keep(_accept(listener))
    assert client.getsockname()[0] == "127.0.0.2"
    assert server.getpeername() == client.getsockname()
    assert transport.peer_address(server) == "127.0.0.2"
    _exchange(client, server)


def test_wildcard_source_takes_destination_family(sockets: Sockets) -> None:
    transport = TcpTransport()
    listener, endpoint = transport.listen(transport.parse("127.0.0.1:*", bind=True, options={}), {})
    sockets.keep(listener)
    client = sockets.keep(
        transport.connect(
            transport.parse(f"*:*;{endpoint.removeprefix('tcp://')}", bind=False, options={}), {}
        )
    )
    assert client.family == socket.AF_INET
    _connected(client)
    _exchange(client, sockets.keep(_accept(listener)))


def test_connect_resolves_names_at_connect_time(
    sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = TcpTransport()
    listener, endpoint = transport.listen(transport.parse("127.0.0.1:*", bind=True, options={}), {})
    sockets.keep(listener)
    real = socket.getaddrinfo
    asked: list[str] = []

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    address = transport.parse(f"localhost:{_port(endpoint)}", bind=False, options={})
    assert asked == []
    for attempt in (1, 2):  # every (re)connect resolves again
        client = sockets.keep(transport.connect(address, {}))
        assert asked == ["localhost"] * attempt
        assert client.family == socket.AF_INET  # IPv4 preferred without ipv6=1
        _connected(client)
        _exchange(client, sockets.keep(_accept(listener)))


def test_connect_to_unresolvable_name_raises_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    transport = TcpTransport()
    address = transport.parse("db.example:5555", bind=False, options={})
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(OSError):
        transport.connect(address, {})


def test_refused_connect_is_reported(sockets: Sockets) -> None:
    # A bound socket that does not listen refuses connections, with no port race.
    closed = sockets.keep(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    transport = TcpTransport()
    address = transport.parse(f"127.0.0.1:{port}", bind=False, options={})
    try:
        client = sockets.keep(transport.connect(address, {}))
    except ConnectionRefusedError:
        return  # refused at once: also fine
    _, writable, _ = select.select([], [client], [], WAIT)
    assert writable
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED


@linux_only
def test_interface_name_bind(sockets: Sockets) -> None:
    if "lo" not in {name for _, name in socket.if_nameindex()}:
        pytest.skip("no interface named 'lo'")
    endpoint, client, server = _pair(sockets, "lo:*", _options())
    assert endpoint == f"tcp://127.0.0.1:{_port(endpoint)}"
    _exchange(client, server)


def test_listen_and_connect_reject_foreign_addresses() -> None:
    transport = TcpTransport()
    with pytest.raises(TypeError, match="TcpAddress"):
        transport.listen("127.0.0.1:5555", {})
    with pytest.raises(TypeError, match="TcpAddress"):
        transport.connect(("127.0.0.1", 5555), {})
