"""The CURVE mechanism sans I/O: a command that arrives when the handshake is not
waiting for one is refused, whatever its name and even when it is boxed with the
session key, which the client knows (found by tests/fuzz)."""

from __future__ import annotations

import struct

import pytest
from mqsdk_mechanism_curve import CurveMechanism
from nacl import bindings

import mqsdk
from mqsdk._kernel.mechanism import ZapReply
from mqsdk.errors import ProtocolError
from mqsdk.zmtp.commands import encode_metadata
from mqsdk.zmtp.constants import ProtocolErrorCode
from mqsdk.zmtp.frames import Command, FrameDecoder

SERVER_PUBLIC, SERVER_SECRET = (mqsdk.z85_decode(k) for k in mqsdk.curve_keypair())
CLIENT_PUBLIC, CLIENT_SECRET = (mqsdk.z85_decode(k) for k in mqsdk.curve_keypair())


def commands(frames: list[bytes]) -> list[Command]:
    items = FrameDecoder().feed(b"".join(frames))
    assert all(isinstance(item, Command) for item in items)
    return items  # type: ignore[return-value]


def server_waiting_for_zap() -> tuple[CurveMechanism, CurveMechanism]:
    server = CurveMechanism(True, {"Socket-Type": b"PULL"}, {"curve_secretkey": SERVER_SECRET})
    client = CurveMechanism(
        False,
        {"Socket-Type": b"PUSH"},
        {
            "curve_serverkey": SERVER_PUBLIC,
            "curve_publickey": CLIENT_PUBLIC,
            "curve_secretkey": CLIENT_SECRET,
        },
    )
    assert server.start() == []
    (hello,) = commands(client.start())
    (welcome,) = commands(server.on_command(hello))
    (initiate,) = commands(client.on_command(welcome))
    assert server.on_command(initiate) == []
    assert server.pending_zap is not None
    return server, client


INJECTED = encode_metadata({"Socket-Type": b"PUSH", "X-Injected": b"1"})


def forged_ready(client: CurveMechanism, name: bytes) -> Command:
    """What a hostile client can build: a READY body boxed with its own session key."""
    nonce = struct.pack(">Q", 1000)
    box = bindings.crypto_box_afternm(INJECTED, b"CurveZMQREADY---" + nonce, client._shared)
    return Command(name, nonce + box)


@pytest.mark.parametrize("name", [b"ZAP", b"READY", b""])
def test_forged_ready_cannot_skip_zap(name: bytes) -> None:
    # While ZAP decides, `expecting` is "ZAP": a command named ZAP used to go to the
    # client's READY handler, which opened this box and completed the handshake.
    server, client = server_waiting_for_zap()
    with pytest.raises(ProtocolError) as info:
        server.on_command(forged_ready(client, name))
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    assert not server.done


def test_forged_ready_after_zap_refused() -> None:
    server, client = server_waiting_for_zap()
    server.on_zap_reply(ZapReply(b"400", b"no"))
    with pytest.raises(ProtocolError):
        server.on_command(forged_ready(client, b"ZAP"))
    assert not server.done


def test_forged_ready_after_the_handshake() -> None:
    server, client = server_waiting_for_zap()
    server.on_zap_reply(None)  # no handler: accepted, as libzmq does
    assert server.done and server.peer_socket_type == "PUSH"
    # `expecting` is "" now: an empty command name used to reach the READY handler and
    # replace the authenticated peer's metadata.
    with pytest.raises(ProtocolError):
        server.on_command(forged_ready(client, b""))
    assert "X-Injected" not in server.peer_metadata
