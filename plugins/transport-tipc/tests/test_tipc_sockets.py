"""The tipc transport on real AF_TIPC sockets, and mqsdk sockets talking ZMTP over it
in the forms the transport kit (test_tipc_conformance.py) does not use.

Every test here needs the tipc kernel module and skips with the plugin's own reason
where ``TipcTransport.available()`` says no (the VM kernel test, .ci/vm-kernel-tests,
runs them on a kernel that has it and makes a skip a failure there). Waits are bounded
(select() for WAIT seconds, socket timeouts); nothing sleeps. Service types are picked
from the pid so parallel runs on one host do not share a service.
"""

from __future__ import annotations

import itertools
import os
import re
import select
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from mqsdk_transport_tipc import TipcAddress, TipcTransport

import mqsdk
from mqsdk.testing.transports import skip_unless_supported

WAIT = 30.0  # generous: these tests also run in an emulated (TCG) VM
OPTIONS: dict[str, Any] = {"backlog": 16}
SERVICE_TYPE = 0x10000 + os.getpid() % 0xFFFF  # well above TIPC_RESERVED_TYPES
_more_types = itertools.count(SERVICE_TYPE + 100)  # one fresh service per mqsdk test


def _unavailable() -> str:
    availability = TipcTransport.available()
    return "" if availability else availability.reason


@pytest.fixture(autouse=True)
def _need_tipc() -> None:
    skip_unless_supported("tipc", _unavailable())


@pytest.fixture
def transport() -> TipcTransport:
    return TipcTransport()


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def _parse(transport: TipcTransport, address: str, *, bind: bool) -> TipcAddress:
    return transport.parse(address, bind=bind, options=OPTIONS)


def _connected(
    transport: TipcTransport, listener: socket.socket, target: str, opened: list[socket.socket]
) -> tuple[socket.socket, socket.socket]:
    """Connect to ``target`` and accept; return (client, server), both non-blocking.

    A TIPC connect completes only once the listener accepts (accept() sends the reply
    that establishes the connection), so accept comes before waiting for writability."""
    client = transport.connect(_parse(transport, target, bind=False), OPTIONS)
    opened.append(client)
    readable, _, _ = select.select([listener], [], [], WAIT)
    assert readable, "the listener saw no connection"
    server, _ = listener.accept()
    opened.append(server)
    _, writable, _ = select.select([], [client], [], WAIT)
    assert writable, f"connect to tipc://{target} did not finish"
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    transport.accepted(server, OPTIONS)
    transport.accepted(client, OPTIONS)
    return client, server


def _exchange(a: socket.socket, b: socket.socket, payload: bytes) -> None:
    a.sendall(payload)
    received = b""
    while len(received) < len(payload):
        readable, _, _ = select.select([b], [], [], WAIT)
        assert readable, "no data arrived"
        chunk = b.recv(65536)
        assert chunk, "the peer closed"
        received += chunk
    assert received == payload


def test_bind_a_range_and_connect_by_service_name(
    transport: TipcTransport, sockets: list[socket.socket]
) -> None:
    listener, endpoint = transport.listen(
        _parse(transport, f"{{{SERVICE_TYPE},0,3}}", bind=True), OPTIONS
    )
    sockets.append(listener)
    assert endpoint == f"tipc://{{{SERVICE_TYPE}, 0, 3}}"
    assert not listener.getblocking()
    client, server = _connected(transport, listener, f"{{{SERVICE_TYPE},2}}", sockets)
    assert not client.getblocking() and not server.getblocking()
    _exchange(client, server, b"\xff" + bytes(range(256)) * 64)
    _exchange(server, client, b"reply")
    assert transport.peer_address(server).startswith("<")
    transport.close_listener(listener, None)
    assert listener.fileno() == -1


def test_the_last_endpoint_of_a_range_binds_again(
    transport: TipcTransport, sockets: list[socket.socket]
) -> None:
    first, endpoint = transport.listen(
        _parse(transport, f"{{{SERVICE_TYPE + 1}, 5, 9}}", bind=True), OPTIONS
    )
    sockets.append(first)
    again = _parse(transport, endpoint.removeprefix("tipc://"), bind=True)
    second, endpoint2 = transport.listen(again, OPTIONS)  # overlapping binds share
    sockets.append(second)
    assert endpoint2 == endpoint


def test_random_port_id_round_trip(transport: TipcTransport, sockets: list[socket.socket]) -> None:
    listener, endpoint = transport.listen(_parse(transport, "<*>", bind=True), OPTIONS)
    sockets.append(listener)
    assert endpoint.startswith("tipc://<") and endpoint.endswith(">")
    target = endpoint.removeprefix("tipc://")
    assert _parse(transport, target, bind=False).sockaddr is not None
    client, server = _connected(transport, listener, target, sockets)
    _exchange(client, server, b"hello over a port id")


def test_connect_to_a_service_nobody_serves_fails(
    transport: TipcTransport, sockets: list[socket.socket]
) -> None:
    address = _parse(transport, f"{{{SERVICE_TYPE + 2},1}}", bind=False)
    try:
        client = transport.connect(address, OPTIONS)
    except OSError:
        return  # refused at once
    sockets.append(client)
    select.select([], [client], [], WAIT)
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0


# --- mqsdk sockets over tipc ---------------------------------------------------------


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def _pull_push(ctx: mqsdk.Context, bind: str) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
    for sock in (pull, push):
        sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
        sock.linger = 0
    pull.bind(bind)
    return pull, push


def test_random_port_id_last_endpoint_is_connectable(ctx: mqsdk.Context) -> None:
    pull, push = _pull_push(ctx, "tipc://<*>")
    endpoint = pull.last_endpoint.decode()
    assert re.fullmatch(r"tipc://<\d+\.\d+\.\d+:\d+>", endpoint), endpoint
    push.connect(endpoint)
    push.send_multipart([b"over", b"a port id"])
    assert pull.recv_multipart() == [b"over", b"a port id"]


def test_service_name_with_a_lookup_domain(ctx: mqsdk.Context) -> None:
    service_type = next(_more_types)
    pull, push = _pull_push(ctx, f"tipc://{{{service_type},7,7}}")
    assert pull.last_endpoint.decode() == f"tipc://{{{service_type}, 7, 7}}"
    push.connect(f"tipc://{{{service_type},7}}@1.0.0")
    push.send(b"found by name")
    assert pull.recv() == b"found by name"
