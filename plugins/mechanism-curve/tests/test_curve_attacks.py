"""A hostile CURVE client, written here with PyNaCl from RFC 26 (not with the plugin's
code), against an mqsdk CURVE server: each attack is refused with libzmq's protocol
error code in the monitor, nothing of it is delivered, and a well-behaved client is
still served afterwards."""

from __future__ import annotations

import socket
import struct
import tracemalloc
from collections.abc import Iterator

import pytest
from nacl import bindings as nacl
from nacl.utils import random

import mqsdk
from tests.badinput.rawzmtp import command, greeting, read_until_closed, recv_exactly
from tests.interop.helpers import WAIT, Monitor
from tests.interop.security_helpers import (
    PROTOCOL,
    ZMTP_CRYPTOGRAPHIC,
    ZMTP_INVALID_SEQUENCE,
    ZMTP_MALFORMED_COMMAND_HELLO,
    ZMTP_MALFORMED_COMMAND_INITIATE,
    ZMTP_MALFORMED_COMMAND_MESSAGE,
    ZMTP_MECHANISM_MISMATCH,
)


def prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


class RawCurveClient:
    """Speaks CurveZMQ by hand; every step can be skipped or corrupted by the test."""

    def __init__(self, address: tuple[str, int], server_public: bytes) -> None:
        self.sock = socket.create_connection(address, timeout=WAIT)
        self.server_public = server_public
        self.public, self.secret = nacl.crypto_box_keypair()
        self.t_public, self.t_secret = nacl.crypto_box_keypair()
        self.nonce = 0
        self.shared = b""

    def next_nonce(self) -> bytes:
        self.nonce += 1
        return struct.pack(">Q", self.nonce)

    def greet(self) -> None:
        self.sock.sendall(greeting(b"CURVE"))
        assert recv_exactly(self.sock, 64)[12:17] == b"CURVE"

    def hello(self) -> bytes:
        nonce = self.next_nonce()
        box = nacl.crypto_box(
            bytes(64), b"CurveZMQHELLO---" + nonce, self.server_public, self.t_secret
        )
        return command(b"HELLO", b"\x01\x00" + bytes(72) + self.t_public + nonce + box)

    def read_command(self) -> bytes:
        header = recv_exactly(self.sock, 2)
        assert header[0] == 0x04, header
        return recv_exactly(self.sock, header[1])

    def welcome(self) -> bytes:
        """Read WELCOME; return the cookie."""
        body = self.read_command()
        assert body[:8] == b"\x07WELCOME" and len(body) == 168, body[:8]
        plain = nacl.crypto_box_open(
            body[24:], b"WELCOME-" + body[8:24], self.server_public, self.t_secret
        )
        self.server_transient = plain[:32]
        self.shared = nacl.crypto_box_beforenm(self.server_transient, self.t_secret)
        return plain[32:]

    def initiate(self, cookie: bytes) -> bytes:
        vouch_nonce = random(16)
        vouch = vouch_nonce + nacl.crypto_box(
            self.t_public + self.server_public,
            b"VOUCH---" + vouch_nonce,
            self.server_transient,
            self.secret,
        )
        metadata = prop(b"Socket-Type", b"PUSH")
        nonce = self.next_nonce()
        box = nacl.crypto_box_afternm(
            self.public + vouch + metadata, b"CurveZMQINITIATE" + nonce, self.shared
        )
        return command(b"INITIATE", cookie + nonce + box)

    def handshake(self) -> None:
        self.greet()
        self.sock.sendall(self.hello())
        self.sock.sendall(self.initiate(self.welcome()))
        header = recv_exactly(self.sock, 2)
        body = recv_exactly(self.sock, header[1])
        assert body[:6] == b"\x05READY", body[:6]

    def message(self, payload: bytes, flags: int = 0, nonce: bytes | None = None) -> bytes:
        """One MESSAGE box in a ZMTP message frame (flags 00), as libzmq sends it."""
        nonce = nonce or self.next_nonce()
        box = nacl.crypto_box_afternm(
            bytes((flags,)) + payload, b"CurveZMQMESSAGEC" + nonce, self.shared
        )
        body = b"\x07MESSAGE" + nonce + box
        assert len(body) <= 255
        return bytes((0, len(body))) + body


class Server:
    def __init__(self) -> None:
        self.ctx = mqsdk.Context()
        self.public, secret = mqsdk.curve_keypair()
        self.pull = self.ctx.socket(mqsdk.PULL)
        self.pull.linger = 0
        self.pull.rcvtimeo = int(WAIT * 1000)
        self.pull.curve_secretkey = secret
        self.pull.curve_server = 1
        self.monitor = Monitor(self.pull)  # type: ignore[arg-type]
        self.pull.bind("tcp://127.0.0.1:*")
        host, port = self.pull.last_endpoint.decode().removeprefix("tcp://").rsplit(":", 1)
        self.address = (host, int(port))
        self.good = self.ctx.socket(mqsdk.PUSH)
        self.good.linger = 0
        self.good.curve_serverkey = self.public
        self.good.curve_publickey, self.good.curve_secretkey = mqsdk.curve_keypair()
        self.good.connect(self.pull.last_endpoint.decode())
        self.count = 0
        self.raws: list[socket.socket] = []

    def raw(self, server_public: bytes = b"") -> RawCurveClient:
        client = RawCurveClient(self.address, server_public or mqsdk.z85_decode(self.public))
        self.raws.append(client.sock)
        return client

    def assert_serving(self) -> None:
        self.count += 1
        self.good.send(b"good %d" % self.count)
        assert self.pull.recv() == b"good %d" % self.count
        with pytest.raises(mqsdk.Again):
            self.pull.recv(mqsdk.NOBLOCK)

    def refused(self, client: RawCurveClient, code: int) -> None:
        """The server reported ``code`` and closed the raw client's connection."""
        event = self.monitor.wait_for(PROTOCOL)
        assert event["value"] == code, f"{event['value']:#x} != {code:#x}"
        read_until_closed(client.sock)

    def close(self) -> None:
        for sock in self.raws:
            sock.close()
        self.monitor.close()
        self.ctx.destroy(linger=0)


@pytest.fixture
def server() -> Iterator[Server]:
    made = Server()
    made.assert_serving()
    yield made
    made.close()


def test_the_raw_client_is_accepted(server: Server) -> None:
    client = server.raw()
    client.handshake()
    client.sock.sendall(client.message(b"part", 1) + client.message(b"last"))
    assert server.pull.recv_multipart() == [b"part", b"last"]


@pytest.mark.parametrize("attack", ["replayed", "reordered"])
def test_replayed_or_reordered_message_refused(server: Server, attack: str) -> None:
    client = server.raw()
    client.handshake()
    first = client.message(b"first")
    second = first if attack == "replayed" else client.message(b"second")
    # The first box on the wire is authentic and delivered; the next one's nonce does
    # not grow (the same nonce again, or an older one).
    client.sock.sendall(first + second if attack == "replayed" else second + first)
    assert server.pull.recv() == (b"first" if attack == "replayed" else b"second")
    server.refused(client, ZMTP_INVALID_SEQUENCE)
    server.assert_serving()


def test_flipped_bit_refused(server: Server) -> None:
    client = server.raw()
    client.handshake()
    frame = bytearray(client.message(b"tampered"))
    frame[-3] ^= 0x01
    client.sock.sendall(bytes(frame))
    server.refused(client, ZMTP_CRYPTOGRAPHIC)
    server.assert_serving()


def test_short_message_refused(server: Server) -> None:
    client = server.raw()
    client.handshake()
    body = b"\x07MESSAGE" + bytes(20)
    client.sock.sendall(bytes((0, len(body))) + body)
    server.refused(client, ZMTP_MALFORMED_COMMAND_MESSAGE)
    server.assert_serving()


def test_short_hello_refused(server: Server) -> None:
    client = server.raw()
    client.greet()
    hello = client.hello()
    body = hello[2:-1]  # 199 bytes
    client.sock.sendall(bytes((4, len(body))) + body)
    server.refused(client, ZMTP_MALFORMED_COMMAND_HELLO)
    server.assert_serving()


def test_hello_for_another_server_refused(server: Server) -> None:
    client = server.raw(nacl.crypto_box_keypair()[0])
    client.greet()
    client.sock.sendall(client.hello())
    server.refused(client, ZMTP_CRYPTOGRAPHIC)
    server.assert_serving()


@pytest.mark.parametrize("declared", [100_000, 2**40])
def test_oversized_initiate_refused_before_allocation(server: Server, declared: int) -> None:
    client = server.raw()
    client.greet()
    client.sock.sendall(client.hello())
    client.welcome()
    tracemalloc.start()
    try:
        # Only the header and a few bytes: the declared size alone must get us refused.
        client.sock.sendall(b"\x06" + struct.pack(">Q", declared) + b"\x08INITIATE" + bytes(64))
        server.refused(client, ZMTP_MALFORMED_COMMAND_INITIATE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated while refusing"
    server.assert_serving()


def test_garbage_initiate_refused(server: Server) -> None:
    client = server.raw()
    client.greet()
    client.sock.sendall(client.hello())
    client.welcome()
    client.sock.sendall(command(b"INITIATE", bytes(300)))
    server.refused(client, ZMTP_CRYPTOGRAPHIC)  # the cookie does not open
    server.assert_serving()


def test_null_greeting_refused(server: Server) -> None:
    client = server.raw()
    client.sock.sendall(greeting(b"NULL"))
    server.refused(client, ZMTP_MECHANISM_MISMATCH)
    server.assert_serving()


def test_plaintext_message_after_handshake_refused(server: Server) -> None:
    client = server.raw()
    client.handshake()
    client.sock.sendall(b"\x00\x05hello")
    server.refused(client, ZMTP_MALFORMED_COMMAND_MESSAGE)
    server.assert_serving()
