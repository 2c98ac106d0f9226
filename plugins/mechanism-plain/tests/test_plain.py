"""PLAIN and ZAP between mqsdk sockets: the authenticator's verdicts, what reaches the
messages, and what happens without a handler or with a misbehaving one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import mqsdk
import mqsdk.auth
from mqsdk.monitor import Event, MonitorEvent, recv_monitor_message
from mqsdk.zmtp.commands import encode_metadata

WAIT_MS = 5000
ZAP_INVALID_STATUS_CODE = 0x20000004
ZAP_BAD_VERSION = 0x20000003


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def sockets(
    ctx: mqsdk.Context,
    password: bytes = b"secret",
    client_monitor: list[Any] | None = None,
    **server_options: Any,
) -> tuple[Any, Any, Any]:
    """A PLAIN PULL server (with its monitor) and a PUSH client connected to it.

    A list passed as ``client_monitor`` receives the client's monitor socket, attached
    before the client connects so that no handshake event can precede it."""
    server = ctx.socket(mqsdk.PULL)
    server.rcvtimeo = WAIT_MS
    server.plain_server = 1
    for name, value in server_options.items():
        server.set(name, value)
    monitor = server.get_monitor_socket()
    monitor.rcvtimeo = WAIT_MS
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(mqsdk.PUSH)
    client.plain_username = b"admin"
    client.plain_password = password
    if client_monitor is not None:
        watcher = client.get_monitor_socket()
        watcher.rcvtimeo = WAIT_MS
        client_monitor.append(watcher)
    client.connect(server.last_endpoint.decode())
    return server, client, monitor


def next_event(monitor: Any, *events: Event) -> MonitorEvent:
    while True:
        event = recv_monitor_message(monitor)
        if event.event in events:
            return event


def test_accepted_with_user_id_and_zap_metadata(ctx: mqsdk.Context) -> None:
    class WithRole(mqsdk.auth.ThreadAuthenticator):
        def user_metadata(self, mechanism: str, user_id: str) -> dict[str, bytes]:
            return {"X-Role": b"operator", "X-Mechanism": mechanism.encode()}

    auth = WithRole(ctx)
    auth.start()
    try:
        auth.configure_plain(passwords={"admin": "secret"})
        server, client, _ = sockets(ctx)
        client.send(b"hello")
        frame = server.recv(copy=False)
        assert frame.bytes == b"hello"
        assert frame.get("User-Id") == "admin"
        assert frame.get("X-Role") == "operator"
        assert frame.get("x-mechanism") == "PLAIN"
    finally:
        auth.stop()


def test_wrong_password_refused_and_not_retried(ctx: mqsdk.Context) -> None:
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_plain(passwords={"admin": "secret"})
        watchers: list[Any] = []
        server, client, monitor = sockets(ctx, b"guess", client_monitor=watchers)
        client_monitor = watchers[0]
        client.send(b"must not arrive")
        failed = next_event(monitor, Event.HANDSHAKE_FAILED_AUTH)
        assert failed.value == 400
        assert next_event(client_monitor, Event.HANDSHAKE_FAILED_AUTH).value == 400
        # ERROR is fatal (RFC 37): the client does not reconnect.
        client_monitor.rcvtimeo = 300
        with pytest.raises(mqsdk.Again):
            next_event(client_monitor, Event.CONNECT_RETRIED, Event.CONNECTED)
        with pytest.raises(mqsdk.Again):
            server.recv(mqsdk.NOBLOCK)


def test_without_zap_handler_every_client_refused(ctx: mqsdk.Context) -> None:
    server, client, monitor = sockets(ctx)
    client.send(b"must not arrive")
    # libzmq: a PLAIN server needs ZAP; it fails the handshake with EFAULT.
    event = next_event(monitor, Event.HANDSHAKE_FAILED_NO_DETAIL)
    assert event.value == 14
    with pytest.raises(mqsdk.Again):
        server.recv(mqsdk.NOBLOCK)


def test_allow_and_deny_by_address(ctx: mqsdk.Context) -> None:
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_plain(passwords={"admin": "secret"})
        auth.deny("127.0.0.1")
        server, client, monitor = sockets(ctx)
        client.send(b"must not arrive")
        assert next_event(monitor, Event.HANDSHAKE_FAILED_AUTH).value == 400
        with pytest.raises(ValueError, match="not both"):
            auth.allow("10.0.0.1")
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_plain(passwords={"admin": "secret"})
        auth.allow("127.0.0.1")
        server, client, _ = sockets(ctx)
        client.send(b"allowed")
        assert server.recv() == b"allowed"


def zap_handler(
    ctx: mqsdk.Context, reply: list[bytes], requests: list[list[bytes]]
) -> threading.Thread:
    """A hand-written ZAP handler answering one request with ``reply`` (request id filled)."""
    rep = ctx.socket(mqsdk.REP)
    rep.bind("inproc://zeromq.zap.01")
    rep.rcvtimeo = WAIT_MS

    def serve() -> None:
        try:
            request = rep.recv_multipart()
            requests.append(request)
            answer = list(reply)
            answer[1] = request[1]
            rep.send_multipart(answer)
        finally:
            rep.close(linger=1000)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_zap_request_frames(ctx: mqsdk.Context) -> None:
    requests: list[list[bytes]] = []
    meta = encode_metadata({"X-Tenant": b"blue"})
    thread = zap_handler(ctx, [b"1.0", b"", b"200", b"OK", b"joe", meta], requests)
    server, client, _ = sockets(ctx, zap_domain=b"global", routing_id=b"SRVID")
    client.send(b"hi")
    frame = server.recv(copy=False)
    assert frame.get("User-Id") == "joe" and frame.get("X-Tenant") == "blue"
    thread.join(5)
    version, _id, domain, address, identity, mechanism, *credentials = requests[0]
    assert (version, domain, address, mechanism) == (b"1.0", b"global", b"127.0.0.1", b"PLAIN")
    assert identity == b"SRVID"  # the server's own routing id, as libzmq sends
    assert credentials == [b"admin", b"secret"]


@pytest.mark.parametrize(
    ("reply", "event", "value"),
    [
        ([b"1.0", b"", b"300", b"later", b"", b""], Event.HANDSHAKE_FAILED_AUTH, 300),
        ([b"1.0", b"", b"500", b"broken", b"", b""], Event.HANDSHAKE_FAILED_AUTH, 500),
        (
            [b"1.0", b"", b"299", b"odd", b"", b""],
            Event.HANDSHAKE_FAILED_PROTOCOL,
            ZAP_INVALID_STATUS_CODE,
        ),
        ([b"2.0", b"", b"200", b"OK", b"", b""], Event.HANDSHAKE_FAILED_PROTOCOL, ZAP_BAD_VERSION),
    ],
    ids=["300", "500", "bad-status", "bad-version"],
)
def test_zap_verdicts(ctx: mqsdk.Context, reply: list[bytes], event: Event, value: int) -> None:
    thread = zap_handler(ctx, reply, [])
    server, client, monitor = sockets(ctx)
    client.send(b"must not arrive")
    assert next_event(monitor, event).value == value
    thread.join(5)
    with pytest.raises(mqsdk.Again):
        server.recv(mqsdk.NOBLOCK)


def test_null_with_zap_domain_asks_zap(ctx: mqsdk.Context) -> None:
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.deny("127.0.0.1")
        server = ctx.socket(mqsdk.PULL)
        server.zap_domain = b"global"
        monitor = server.get_monitor_socket()
        monitor.rcvtimeo = WAIT_MS
        server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(mqsdk.PUSH)
        client.connect(server.last_endpoint.decode())
        client.send(b"must not arrive")
        assert next_event(monitor, Event.HANDSHAKE_FAILED_AUTH).value == 400


def test_server_goes_on_after_refusals(ctx: mqsdk.Context) -> None:
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_plain(passwords={"admin": "secret"})
        server, bad, monitor = sockets(ctx, b"guess")
        bad.send(b"no")
        assert next_event(monitor, Event.HANDSHAKE_FAILED_AUTH).value == 400
        good = ctx.socket(mqsdk.PUSH)
        good.plain_username, good.plain_password = b"admin", b"secret"
        good.connect(server.last_endpoint.decode())
        good.send(b"yes")
        assert server.recv() == b"yes"


def test_null_with_zap_domain_and_no_handler_accepts(ctx: mqsdk.Context) -> None:
    # libzmq: without a handler, a NULL server with a ZAP domain lets clients in.
    server = ctx.socket(mqsdk.PULL)
    server.zap_domain = b"global"
    server.rcvtimeo = WAIT_MS
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(mqsdk.PUSH)
    client.connect(server.last_endpoint.decode())
    client.send(b"in")
    assert server.recv() == b"in"
