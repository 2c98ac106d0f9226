"""Mechanisms and certificates over ws/wss between mqsdk sockets: the subprotocol names
the mechanism, CURVE's traffic (every message a MESSAGE command) crosses whole, and wss
refuses what it cannot trust."""

from __future__ import annotations

import pytest
from ws_certs import Pems

import mqsdk
from mqsdk.auth import ThreadAuthenticator
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, recording_events


def _socket(ctx: mqsdk.Context, kind: int, **options: object) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
    for name, value in options.items():
        sock.set(name, value)
    return sock


MESSAGES = [[b"small"], [b"a" * 1000], [b"b" * 5000, b"c"], [b"d" * 300_000]]


def test_curve(ctx: mqsdk.Context) -> None:
    server_public, server_secret = mqsdk.curve_keypair()
    client_public, client_secret = mqsdk.curve_keypair()
    server = _socket(
        ctx, mqsdk.PAIR, curve_server=1, curve_secretkey=server_secret,
        curve_publickey=server_public,
    )  # fmt: skip
    server.bind("ws://127.0.0.1:*")
    client = _socket(
        ctx, mqsdk.PAIR, curve_serverkey=server_public, curve_publickey=client_public,
        curve_secretkey=client_secret,
    )  # fmt: skip
    client.connect(server.last_endpoint.decode())
    for message in MESSAGES:
        client.send_multipart(message)
        assert [bytes(f) for f in server.recv_multipart()] == message
        server.send_multipart(message)
        assert [bytes(f) for f in client.recv_multipart()] == message


def test_plain_with_zap(ctx: mqsdk.Context) -> None:
    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"user": "secret"})
        server = _socket(ctx, mqsdk.PULL, plain_server=1)
        server.bind("ws://127.0.0.1:*")
        client = _socket(ctx, mqsdk.PUSH, plain_username=b"user", plain_password=b"secret")
        client.connect(server.last_endpoint.decode())
        client.send(b"authenticated")
        message = server.recv(copy=False)
        assert message.bytes == b"authenticated"
        assert message.get("User-Id") == "user"
    finally:
        auth.stop()


def test_mismatched_mechanisms_never_connect(ctx: mqsdk.Context) -> None:
    """A NULL client offers ZWS2.0/NULL to a CURVE server, which refuses the upgrade."""
    _, server_secret = mqsdk.curve_keypair()
    server = _socket(ctx, mqsdk.PULL, curve_server=1, curve_secretkey=server_secret)
    server.bind("ws://127.0.0.1:*")
    with recording_events(ctx) as events:
        client = _socket(ctx, mqsdk.PUSH)
        client.connect(server.last_endpoint.decode())
        events.wait(server, Event.HANDSHAKE_FAILED_NO_DETAIL)
        events.wait(client, Event.HANDSHAKE_FAILED_NO_DETAIL)
    assert not [e for e in events.of(client) if e.event == Event.HANDSHAKE_SUCCEEDED]


def test_wss_needs_its_certificates(ctx: mqsdk.Context, pems: Pems) -> None:
    server = _socket(ctx, mqsdk.PULL)
    with pytest.raises(mqsdk.EndpointError, match="wss_cert_pem and wss_key_pem"):
        server.bind("wss://127.0.0.1:*")
    server.set("wss_cert_pem", pems.cert)
    server.set("wss_key_pem", b"not a key")
    with pytest.raises(mqsdk.EndpointError, match="cannot load"):
        server.bind("wss://127.0.0.1:*")
    client = _socket(ctx, mqsdk.PUSH)
    with pytest.raises(mqsdk.EndpointError, match="wss_trust_pem"):
        client.connect("wss://127.0.0.1:5555/")


@pytest.mark.parametrize(
    ("trust", "hostname"),
    [("other_ca", b"localhost"), ("ca", b"not-the-server.example")],
    ids=["untrusted-ca", "wrong-name"],
)
def test_wss_refuses_a_server_it_cannot_trust(
    ctx: mqsdk.Context, pems: Pems, trust: str, hostname: bytes
) -> None:
    server = _socket(ctx, mqsdk.PULL, wss_cert_pem=pems.cert, wss_key_pem=pems.key)
    server.bind("wss://127.0.0.1:*")
    with recording_events(ctx) as events:
        client = _socket(ctx, mqsdk.PUSH, wss_trust_pem=getattr(pems, trust), wss_hostname=hostname)
        client.connect(server.last_endpoint.decode())
        events.wait(client, Event.HANDSHAKE_FAILED_NO_DETAIL)
        events.wait(client, Event.CONNECT_RETRIED)
    assert not [e for e in events.of(client) if e.event == Event.HANDSHAKE_SUCCEEDED]


def test_wss_checks_the_endpoints_host_when_wss_hostname_is_unset(
    ctx: mqsdk.Context, pems: Pems
) -> None:
    """libzmq checks no name without wss_hostname: any certificate its trust store
    signs passes, whoever it was issued to. Here the endpoint's host is checked then
    (127.0.0.1 against the certificate's IP addresses), and wss_hostname names the
    one to check instead."""
    server = _socket(
        ctx, mqsdk.PULL, wss_cert_pem=pems.elsewhere_cert, wss_key_pem=pems.elsewhere_key
    )
    server.bind("wss://127.0.0.1:*")
    endpoint = server.last_endpoint.decode()
    with recording_events(ctx) as events:
        impostor_check = _socket(ctx, mqsdk.PUSH, wss_trust_pem=pems.ca)
        impostor_check.connect(endpoint)
        events.wait(impostor_check, Event.HANDSHAKE_FAILED_NO_DETAIL)
    assert not [e for e in events.of(impostor_check) if e.event == Event.HANDSHAKE_SUCCEEDED]
    impostor_check.close()
    named = _socket(ctx, mqsdk.PUSH, wss_trust_pem=pems.ca, wss_hostname=b"elsewhere.example")
    named.connect(endpoint)
    named.send(b"to the name it was told to check")
    assert server.recv() == b"to the name it was told to check"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_wss_accepts_a_certificate_for_the_endpoints_host(
    ctx: mqsdk.Context, pems: Pems, host: str
) -> None:
    server = _socket(ctx, mqsdk.PULL, wss_cert_pem=pems.cert, wss_key_pem=pems.key)
    server.bind("wss://127.0.0.1:*")
    port = server.last_endpoint.decode().rpartition(":")[2]
    client = _socket(ctx, mqsdk.PUSH, wss_trust_pem=pems.ca)
    client.connect(f"wss://{host}:{port}")
    client.send(host.encode())
    assert server.recv() == host.encode()
