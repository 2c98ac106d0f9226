"""The CURVE mechanism sans I/O: a client and a server object talking in memory, checked
against the sizes and framing libzmq uses (protocols.md 2.2)."""

from __future__ import annotations

from typing import Any

import mqsdk_mechanism_curve.mechanism as curve_module
import pytest
from mqsdk_mechanism_curve import CurveMechanism
from nacl import bindings

import mqsdk
from mqsdk._kernel.mechanism import ZapReply
from mqsdk.errors import ProtocolError
from mqsdk.zmtp.frames import Command, FrameDecoder

SERVER_PUBLIC, SERVER_SECRET = mqsdk.curve_keypair()
CLIENT_PUBLIC, CLIENT_SECRET = mqsdk.curve_keypair()


def raw(key: bytes) -> bytes:
    return mqsdk.z85_decode(key)


def make_pair() -> tuple[CurveMechanism, CurveMechanism]:
    server = CurveMechanism(True, {"Socket-Type": b"PULL"}, {"curve_secretkey": raw(SERVER_SECRET)})
    client = CurveMechanism(
        False,
        {"Socket-Type": b"PUSH"},
        {
            "curve_serverkey": raw(SERVER_PUBLIC),
            "curve_publickey": raw(CLIENT_PUBLIC),
            "curve_secretkey": raw(CLIENT_SECRET),
        },
    )
    return server, client


def wire(frames: list[bytes]) -> list[Any]:
    items: list[Any] = []
    for frame in frames:
        items += FrameDecoder().feed(frame)
    return items


def handshake(server: CurveMechanism, client: CurveMechanism) -> dict[str, int]:
    """Run the handshake; return the body size of each command."""
    sizes: dict[str, int] = {}
    to_server = client.start()
    assert server.start() == []
    while not (server.done and client.done):
        to_client: list[bytes] = []
        for item in wire(to_server):
            sizes[item.name.decode()] = 1 + len(item.name) + len(item.data)
            to_client += server.on_command(item)
            if server.pending_zap is not None:
                assert server.pending_zap.credentials == (raw(CLIENT_PUBLIC),)
                to_client += server.on_zap_reply(None)  # no handler: accepted
        to_server = []
        for item in wire(to_client):
            sizes[item.name.decode()] = 1 + len(item.name) + len(item.data)
            to_server += client.on_command(item)
    return sizes


def test_handshake_sizes_and_metadata() -> None:
    server, client = make_pair()
    sizes = handshake(server, client)
    assert sizes["HELLO"] == 200 and sizes["WELCOME"] == 168
    assert sizes["INITIATE"] >= 257 and sizes["READY"] >= 30
    assert server.peer_socket_type == "PUSH" and client.peer_socket_type == "PULL"
    assert server.client_key == raw(CLIENT_PUBLIC)


def test_shared_key_computed_once_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = bindings.crypto_box_beforenm

    def counting(public: bytes, secret: bytes) -> bytes:
        calls.append(public)
        return real(public, secret)

    monkeypatch.setattr(curve_module._nacl, "crypto_box_beforenm", counting)
    server, client = make_pair()
    handshake(server, client)
    for _ in range(10):
        server.traffic_codec().decode_items(wire([b"".join(_encoded(client, [b"m"]))]))
    assert len(calls) == 2  # one per side, none per message


def _encoded(mechanism: CurveMechanism, message: list[bytes]) -> list[Any]:
    out: list[Any] = []
    mechanism.traffic_codec().encode_message(message, out)
    return out


def test_messages_travel_in_message_frames_with_inner_flags() -> None:
    server, client = make_pair()
    handshake(server, client)
    data = b"".join(_encoded(client, [b"one", b"two" * 100]))
    # two frames, both plain message frames (00, or 02 when long), never MORE or COMMAND
    assert data[0] == 0x00 and data[1] == 33 + 3
    second = data[2 + 36 :]
    assert second[0] == 0x02
    assert server.traffic_codec().decode_items(wire([data])) == [[b"one", b"two" * 100]]
    ping = client.traffic_codec().encode_command(b"PING", b"\x00\x00")
    assert ping[0] == 0x00
    assert server.traffic_codec().decode_items(wire([ping])) == [Command(b"PING", b"\x00\x00")]


def test_nonces_must_grow() -> None:
    server, client = make_pair()
    handshake(server, client)
    first = b"".join(_encoded(client, [b"a"]))
    second = b"".join(_encoded(client, [b"b"]))
    assert server.traffic_codec().decode_items(wire([second])) == [[b"b"]]
    with pytest.raises(ProtocolError) as info:
        server.traffic_codec().decode_items(wire([first]))
    assert info.value.code == 0x10000002


def test_codec_is_offered_once_the_handshake_is_done() -> None:
    server, client = make_pair()
    with pytest.raises(RuntimeError):
        server.traffic_codec()  # no session key yet
    handshake(server, client)
    assert server.traffic_codec() is server.traffic_codec()  # one per connection


def test_multipart_split_across_batches() -> None:
    server, client = make_pair()
    handshake(server, client)
    pieces = _encoded(client, [b"head", b"tail"])
    data = b"".join(pieces)
    half = 2 + 33 + 4
    assert server.traffic_codec().decode_items(wire([data[:half]])) == []
    assert server.traffic_codec().decode_items(wire([data[half:]])) == [[b"head", b"tail"]]


def test_server_refusal_sends_error() -> None:
    server, client = make_pair()
    server.start()
    (hello,) = wire(client.start())
    (welcome,) = wire(server.on_command(hello))
    (initiate,) = wire(client.on_command(welcome))
    assert server.on_command(initiate) == []
    reply = ZapReply(b"400", b"no")
    (error,) = wire(server.on_zap_reply(reply))
    assert error == Command(b"ERROR", b"\x03400")
    assert server.zap_refusal == reply and not server.done
