"""What tls:// adds to the conformance kit: the wire is encrypted, certificates are
checked (and a failure is reported, then retried), settings are validated."""

from __future__ import annotations

import errno
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tls_certs import OPENSSL, Certs, make_certs

import mqsdk
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, recording_events, short_tmpdir

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command for certs")
SECRET = b"attack at dawn, not in plaintext"


@pytest.fixture(scope="module")
def certs() -> Iterator[Certs]:
    with short_tmpdir("tls") as directory:
        yield make_certs(Path(directory))


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def _server(certs: Certs, extra: str = "") -> str:
    return f"tls://127.0.0.1:*?cert={certs.server_cert}&key={certs.server_key}{extra}"


def _pull(ctx: mqsdk.Context, endpoint: str) -> mqsdk.Socket:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = int(WAIT * 1000)
    pull.bind(endpoint)
    return pull


class Tap:
    """A TCP relay between client and server that keeps a copy of every byte."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target
        self.seen = bytearray()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.target)
        peers = {client: server, server: client}
        while True:
            readable, _, _ = select.select(list(peers), [], [], WAIT)
            if not readable:
                break
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    client.close()
                    server.close()
                    return
                self.seen += data
                peers[sock].sendall(data)

    def close(self) -> None:
        self.listener.close()
        self._thread.join(WAIT)


def test_the_bytes_on_the_wire_are_not_plaintext(ctx: mqsdk.Context, certs: Certs) -> None:
    pull = _pull(ctx, _server(certs))
    port = int(pull.last_endpoint.decode().rsplit(":", 1)[1])
    tap = Tap(("127.0.0.1", port))
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"tls://127.0.0.1:{tap.port}?ca={certs.ca}")
    push.send_multipart([SECRET, SECRET * 100])
    assert pull.recv_multipart() == [SECRET, SECRET * 100]
    push.close(linger=0)
    pull.close(linger=0)
    tap.close()
    wire = bytes(tap.seen)
    assert len(wire) > len(SECRET) * 101, "the relay saw less than the message"
    assert SECRET not in wire
    assert b"NULL" not in wire and b"Socket-Type" not in wire, "the ZMTP greeting is visible"
    assert wire[:1] == b"\x16", "the first byte on the wire is not a TLS handshake record"


def test_mutual_tls(ctx: mqsdk.Context, certs: Certs) -> None:
    pull = _pull(ctx, _server(certs, f"&ca={certs.ca}"))
    push = ctx.socket(mqsdk.PUSH)
    endpoint = pull.last_endpoint.decode()
    push.connect(f"{endpoint}?ca={certs.ca}&cert={certs.client_cert}&key={certs.client_key}")
    push.send(b"with a client certificate")
    assert pull.recv() == b"with a client certificate"


@pytest.mark.parametrize(
    "client_settings",
    [
        pytest.param("ca={other_ca}", id="untrusted-server"),
        pytest.param("ca={ca}&hostname=elsewhere.example", id="wrong-hostname"),
    ],
)
def test_a_failed_verification_is_reported_and_retried(
    ctx: mqsdk.Context, certs: Certs, client_settings: str
) -> None:
    pull = _pull(ctx, _server(certs))
    push = ctx.socket(mqsdk.PUSH)
    push.reconnect_ivl = 20
    settings = client_settings.format(other_ca=certs.other_ca, ca=certs.ca)
    with recording_events(ctx) as events:
        push.connect(f"{pull.last_endpoint.decode()}?{settings}")
        failures = events.wait(push, Event.HANDSHAKE_FAILED_NO_DETAIL, count=2)
        events.wait(push, Event.CONNECT_RETRIED)
    assert all(f.value for f in failures)
    assert not [e for e in events.of(push) if e.event == Event.HANDSHAKE_SUCCEEDED]
    assert push.stats["handshake_failures"] >= 2
    with pytest.raises(mqsdk.Again):
        pull.recv(mqsdk.NOBLOCK)


def test_a_client_without_certificate_is_refused_by_mutual_tls(
    ctx: mqsdk.Context, certs: Certs
) -> None:
    pull = _pull(ctx, _server(certs, f"&ca={certs.ca}"))
    push = ctx.socket(mqsdk.PUSH)
    with recording_events(ctx) as events:
        push.connect(f"{pull.last_endpoint.decode()}?ca={certs.ca}")
        events.wait(pull, Event.HANDSHAKE_FAILED_NO_DETAIL)


def test_a_plaintext_peer_is_dropped(ctx: mqsdk.Context, certs: Certs) -> None:
    """A ZMTP peer without TLS fails the TLS handshake; the listener goes on serving."""
    pull = _pull(ctx, _server(certs))
    port = pull.last_endpoint.decode().rsplit(":", 1)[1]
    plain = ctx.socket(mqsdk.PUSH)
    with recording_events(ctx) as events:
        plain.connect(f"tcp://127.0.0.1:{port}")
        events.wait(pull, Event.HANDSHAKE_FAILED_NO_DETAIL)
    plain.close(linger=0)
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"{pull.last_endpoint.decode()}?ca={certs.ca}")
    push.send(b"still serving")
    assert pull.recv() == b"still serving"


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("tls://127.0.0.1:*", "bind needs cert"),
        ("tls://127.0.0.1:*?cert=/nonexistent.pem", "cannot load the certificates"),
        ("tls://127.0.0.1:*?cert={cert}&verify=no", "only apply to connect"),
        ("tls://127.0.0.1:*?cert={cert}&colour=blue", "unknown setting 'colour'"),
        ("tls://127.0.0.1", "is not host:port"),
    ],
)
def test_bad_bind_endpoints(ctx: mqsdk.Context, certs: Certs, endpoint: str, problem: str) -> None:
    sock = ctx.socket(mqsdk.PULL)
    with pytest.raises(mqsdk.EndpointError, match=problem):
        sock.bind(endpoint.format(cert=certs.server_cert))


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("tls://*:5555", "only valid for bind"),
        ("tls://127.0.0.1:*", "needs a real port"),
        ("tls://127.0.0.1:5555?verify=maybe", "verify must be yes or no"),
        ("tls://127.0.0.1:5555?key=k.pem", "key=PATH needs cert=PATH"),
        ("tls://127.0.0.1:5555?ca=a&ca=b", "given twice"),
    ],
)
def test_bad_connect_endpoints(ctx: mqsdk.Context, endpoint: str, problem: str) -> None:
    sock = ctx.socket(mqsdk.PUSH)
    with pytest.raises(mqsdk.EndpointError, match=problem):
        sock.connect(endpoint)


def test_found_through_its_own_entry_point() -> None:
    from importlib import metadata

    (entry,) = [ep for ep in metadata.entry_points(group="mqsdk.plugins") if ep.name == "tls"]
    assert entry.value == "mqsdk_transport_tls"
    assert entry.dist is not None and entry.dist.name == "mqsdk-transport-tls"


def test_a_silent_peer_fails_the_handshake_after_handshake_ivl(
    ctx: mqsdk.Context, certs: Certs
) -> None:
    """A TCP client that never starts TLS is dropped when handshake_ivl expires, and a
    TLS client that gets no answer gives up and retries; nothing hangs."""
    pull = ctx.socket(mqsdk.PULL)
    pull.handshake_ivl = 100
    pull.bind(_server(certs))
    port = int(pull.last_endpoint.decode().rsplit(":", 1)[1])
    silent_server = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never speaks
    push = ctx.socket(mqsdk.PUSH)
    push.handshake_ivl = 100
    push.reconnect_ivl = 20
    with recording_events(ctx) as events, socket.create_connection(("127.0.0.1", port)):
        (dropped,) = events.wait(pull, Event.HANDSHAKE_FAILED_NO_DETAIL)
        push.connect(f"tls://127.0.0.1:{silent_server.getsockname()[1]}?ca={certs.ca}")
        gave_up = events.wait(push, Event.HANDSHAKE_FAILED_NO_DETAIL, count=2)
        events.wait(push, Event.CONNECT_RETRIED)
    silent_server.close()
    assert dropped.value == gave_up[0].value == errno.ETIMEDOUT


def test_bytes_held_decrypted_by_ssl_are_delivered(ctx: mqsdk.Context, certs: Certs) -> None:
    """A message whose last TLS record also carries the next frame: the body is read in
    place (exactly its size), so ssl keeps the next frame decrypted while the fd is no
    longer readable. The engine must read on while ``pending()`` says so (it stalled
    before it did)."""
    pull = _pull(ctx, _server(certs))
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"{pull.last_endpoint.decode()}?ca={certs.ca}")
    push.send(b"connected")
    assert pull.recv() == b"connected"
    pull.rcvtimeo = 3000
    for size in (16400, 20000, 30000, 40000, 50000):
        message = [b"x" * size, b"last frame"]
        push.send_multipart(message)
        assert pull.recv_multipart() == message
