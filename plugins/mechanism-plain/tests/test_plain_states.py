"""The PLAIN mechanism sans I/O: a command that arrives when the handshake is not
waiting for one is refused, whatever its name (found by tests/fuzz)."""

from __future__ import annotations

import pytest
from mqsdk_mechanism_plain import PlainMechanism

from mqsdk._kernel.mechanism import ZapReply
from mqsdk.errors import ProtocolError
from mqsdk.zmtp.commands import encode_metadata
from mqsdk.zmtp.constants import ProtocolErrorCode
from mqsdk.zmtp.frames import Command, FrameDecoder

PUSH_PROPERTIES = encode_metadata({"Socket-Type": b"PUSH"})
INJECTED = encode_metadata({"Socket-Type": b"PUSH", "X-Injected": b"1"})


def commands(frames: list[bytes]) -> list[Command]:
    items = FrameDecoder().feed(b"".join(frames))
    assert all(isinstance(item, Command) for item in items)
    return items  # type: ignore[return-value]


def server_waiting_for_zap() -> PlainMechanism:
    server = PlainMechanism(True, {"Socket-Type": b"PULL"}, {"zap_domain": b"global"})
    client = PlainMechanism(
        False, {"Socket-Type": b"PUSH"}, {"plain_username": b"admin", "plain_password": b"pw"}
    )
    assert server.start() == []
    (hello,) = commands(client.start())
    assert server.on_command(hello) == []
    assert server.pending_zap is not None
    return server


@pytest.mark.parametrize("name", [b"ZAP", b"", b"READY", b"INITIATE"])
def test_no_command_completes_the_handshake_while_zap_decides(name: bytes) -> None:
    # The server's `expecting` is "ZAP" here: a command named ZAP used to match it and
    # complete the handshake with no verdict at all.
    server = server_waiting_for_zap()
    with pytest.raises(ProtocolError) as info:
        server.on_command(Command(name, PUSH_PROPERTIES))
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    assert not server.done


def test_no_command_is_taken_after_zap_refused() -> None:
    server = server_waiting_for_zap()
    server.on_zap_reply(ZapReply(b"400", b"no"))
    assert server.zap_refusal is not None
    with pytest.raises(ProtocolError):
        server.on_command(Command(b"ZAP", PUSH_PROPERTIES))
    assert not server.done


def test_no_command_is_taken_after_the_handshake() -> None:
    server = server_waiting_for_zap()
    (welcome,) = commands(server.on_zap_reply(ZapReply(b"200", b"OK", b"admin")))
    assert welcome.name == b"WELCOME"
    (ready,) = commands(server.on_command(Command(b"INITIATE", PUSH_PROPERTIES)))
    assert server.done and ready.name == b"READY"
    # `expecting` is "" now: an empty command name used to match it and replace the
    # authenticated peer's metadata.
    with pytest.raises(ProtocolError):
        server.on_command(Command(b"", INJECTED))
    assert "X-Injected" not in server.peer_metadata
