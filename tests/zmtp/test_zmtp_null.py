"""The NULL mechanism and the Mechanism interface, joined by a fake link (h11 style)."""

from __future__ import annotations

import errno
import inspect
from collections.abc import Mapping

import pytest
from zmtp_vectors import ERROR_400, READY_DEALER, READY_PULL, READY_ROUTER

from mqsdk._kernel.component import Component
from mqsdk._kernel.mechanism import (
    ZAP_ENDPOINT,
    Mechanism,
    SocketTypeMismatch,
    ZapReply,
    ZapRequest,
)
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp import (
    Buffer,
    Command,
    FrameDecoder,
    PeerError,
    ProtocolErrorCode,
    encode_message,
    encode_metadata,
    error,
    ready,
)
from mqsdk.zmtp.null import NullMechanism


def null(
    socket_type: str,
    identity: bytes | None = None,
    options: Mapping[str, object] | None = None,
) -> NullMechanism:
    metadata = {"Socket-Type": socket_type.encode()}
    if identity is not None:
        metadata["Identity"] = identity
    return NullMechanism(False, metadata, options or {})


class Link:
    """Two mechanisms joined through the real codec: frames -> bytes -> decoder -> items."""

    def __init__(self, a: Mechanism, b: Mechanism) -> None:
        self.ends = (a, b)
        self.decoders = (FrameDecoder(), FrameDecoder())
        self.wire: list[bytearray] = [bytearray(), bytearray()]  # bytes travelling to end i

    def send(self, to: int, frames: list[bytes]) -> None:
        for frame in frames:
            self.wire[to] += frame

    def start(self) -> None:
        self.send(1, self.ends[0].start())
        self.send(0, self.ends[1].start())

    def pump(self) -> None:
        """Deliver everything in flight, one byte at a time, until nothing moves."""
        moved = True
        while moved:
            moved = False
            for index in (0, 1):
                data = bytes(self.wire[index])
                self.wire[index].clear()
                for i in range(len(data)):
                    for item in self.decoders[index].feed(data[i : i + 1]):
                        moved = True
                        assert isinstance(item, Command), "no message during the handshake"
                        self.send(1 - index, self.ends[index].on_command(item))


# -- the interface ----------------------------------------------------------------------


def test_null_is_a_concrete_mechanism_component() -> None:
    assert issubclass(NullMechanism, Mechanism)
    assert issubclass(NullMechanism, Component)
    assert not inspect.isabstract(NullMechanism)
    assert NullMechanism.kind == "mechanism"
    assert NullMechanism.name == "NULL"
    assert NullMechanism.number == 0
    assert NullMechanism.available()
    assert ZAP_ENDPOINT == "inproc://zeromq.zap.01"


def test_null_leaves_the_traffic_alone() -> None:
    # No codec: the engine's data path is plain ZMTP, with nothing per message.
    mech = null("PUSH")
    assert mech.traffic_codec() is None


# -- handshakes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [("DEALER", "ROUTER"), ("REQ", "REP"), ("PUSH", "PULL"), ("PUB", "XSUB"), ("PAIR", "PAIR")],
)
def test_handshake_completes(left: str, right: str) -> None:
    a, b = null(left, b"" if left == "DEALER" else None), null(right)
    link = Link(a, b)
    link.start()
    assert not a.done and not b.done
    link.pump()
    assert a.done and b.done
    assert a.peer_socket_type == right and b.peer_socket_type == left
    assert b.peer_metadata["socket-type"] == left.encode()


def test_ready_bytes_equal_libzmqs() -> None:
    assert null("PULL").start() == [READY_PULL]
    assert null("DEALER", b"").start() == [READY_DEALER]
    assert null("ROUTER", b"").start() == [READY_ROUTER]


def test_accepts_libzmq_ready_vectors() -> None:
    mech = null("DEALER", b"")
    mech.start()
    (command,) = FrameDecoder().feed(READY_ROUTER)
    assert isinstance(command, Command)
    assert mech.on_command(command) == []
    assert mech.done
    assert dict(mech.peer_metadata) == {"Socket-Type": b"ROUTER", "Identity": b""}


def test_identity_and_app_properties_reach_the_peer() -> None:
    a = NullMechanism(False, {"Socket-Type": b"DEALER", "Identity": b"w1", "X-Zone": b"eu"}, {})
    b = null("ROUTER", b"")
    link = Link(a, b)
    link.start()
    link.pump()
    assert b.peer_metadata["identity"] == b"w1"
    assert b.peer_metadata["X-ZONE"] == b"eu"


def test_socket_type_mismatch_after_sending_ready() -> None:
    pull = null("PULL")
    assert pull.start() == [READY_PULL]  # libzmq sends its READY, then closes
    with pytest.raises(SocketTypeMismatch, match="PULL socket cannot talk to a 'PUB'") as info:
        pull.on_command(Command(b"READY", encode_metadata({"Socket-Type": b"PUB"})))
    assert isinstance(info.value, ProtocolError)
    assert info.value.errno == errno.EINVAL
    assert (info.value.own, info.value.peer) == ("PULL", "PUB")
    assert not pull.done


def test_socket_type_value_is_case_sensitive_like_libzmq() -> None:
    pull = null("PULL")
    pull.start()
    with pytest.raises(SocketTypeMismatch):
        pull.on_command(Command(b"READY", encode_metadata({"Socket-Type": b"push"})))


def test_property_names_are_case_insensitive() -> None:
    pull = null("PULL")
    pull.start()
    pull.on_command(Command(b"READY", encode_metadata({"socket-type": b"PUSH"})))
    assert pull.done and pull.peer_socket_type == "PUSH"


def test_missing_socket_type_is_accepted_like_libzmq() -> None:
    pull = null("PULL")
    pull.start()
    pull.on_command(Command(b"READY", b""))
    assert pull.done and pull.peer_socket_type is None


def test_peer_types_option_overrides_the_table() -> None:
    mech = NullMechanism(False, {"Socket-Type": b"FOO"}, {"peer_types": frozenset({"BAR"})})
    mech.start()
    mech.on_command(Command(b"READY", encode_metadata({"Socket-Type": b"BAR"})))
    assert mech.done
    unknown = null("FOO")  # not in the table, no override: refuses every peer
    unknown.start()
    with pytest.raises(SocketTypeMismatch):
        unknown.on_command(Command(b"READY", encode_metadata({"Socket-Type": b"BAR"})))


def test_error_command_is_fatal() -> None:
    mech = null("DEALER")
    mech.start()
    (command,) = FrameDecoder().feed(ERROR_400)
    assert isinstance(command, Command)
    with pytest.raises(PeerError) as info:
        mech.on_command(command)
    assert info.value.fatal and info.value.reason == b"400" and info.value.status_code == 400


def test_malformed_error_command() -> None:
    mech = null("DEALER")
    mech.start()
    with pytest.raises(ProtocolError) as info:
        mech.on_command(Command(b"ERROR", b"\x09short"))
    assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR


@pytest.mark.parametrize("name", [b"PING", b"HELLO", b"SUBSCRIBE", b"MESSAGE", b"ready", b""])
def test_unexpected_command_before_ready(name: bytes) -> None:
    mech = null("DEALER")
    mech.start()
    with pytest.raises(ProtocolError) as info:
        mech.on_command(Command(name, b"\x00\x00"))
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_second_ready_is_unexpected() -> None:
    mech = null("PULL")
    mech.start()
    ready_cmd = Command(b"READY", encode_metadata({"Socket-Type": b"PUSH"}))
    mech.on_command(ready_cmd)
    for command in (ready_cmd, Command(b"ERROR", b"\x00")):
        with pytest.raises(ProtocolError) as info:
            mech.on_command(command)
        assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_command_before_start_is_unexpected() -> None:
    with pytest.raises(ProtocolError) as info:
        null("PULL").on_command(Command(b"READY", b""))
    assert info.value.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_start_twice_is_a_bug() -> None:
    mech = null("PULL")
    mech.start()
    with pytest.raises(RuntimeError):
        mech.start()


def test_malformed_ready_metadata() -> None:
    mech = null("PULL")
    mech.start()
    with pytest.raises(ProtocolError) as info:
        mech.on_command(Command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x09PUSH"))
    assert info.value.code == ProtocolErrorCode.ZMTP_INVALID_METADATA


@pytest.mark.parametrize("identity", [b"\x00abc", b"x" * 256])
def test_invalid_peer_identity(identity: bytes) -> None:
    mech = null("ROUTER", b"")
    mech.start()
    data = encode_metadata({"Socket-Type": b"DEALER", "Identity": identity})
    with pytest.raises(ProtocolError) as info:
        mech.on_command(Command(b"READY", data))
    assert info.value.code == ProtocolErrorCode.ZMTP_INVALID_METADATA


@pytest.mark.parametrize(
    "metadata",
    [
        {"Identity": b"x"},
        {"Socket-Type": b"DEALER", "Identity": b"\x00x"},
        {"Socket-Type": b"DEALER", "Identity": b"x" * 256},
        {"Socket-Type": b"DEALER", "bad name": b""},
    ],
)
def test_invalid_own_metadata(metadata: dict[str, bytes]) -> None:
    with pytest.raises(ValueError):
        NullMechanism(False, metadata, {})


def test_handshake_with_message_right_after_ready() -> None:
    # A peer's READY and first message can arrive in one read: the engine checks done
    # between items, so the message is seen after the handshake completed.
    mech = null("PULL")
    mech.start()
    out: list[Buffer] = [ready({"Socket-Type": b"PUSH"})]
    encode_message([b"first"], out)
    items = FrameDecoder().feed(b"".join(out))
    first, second = items
    assert isinstance(first, Command)
    mech.on_command(first)
    assert mech.done
    assert second == [b"first"]


# -- ZAP --------------------------------------------------------------------------------


def zap_null(**options: object) -> NullMechanism:
    mech = null("DEALER", b"", {"zap_domain": b"global", **options})
    assert mech.start() == []
    assert mech.pending_zap == ZapRequest(b"NULL")
    return mech


def test_zap_request_frames() -> None:
    request = zap_null().pending_zap
    assert request is not None
    assert request.frames(domain=b"global", address=b"127.0.0.1", identity=b"SRVID") == [
        b"",
        b"1.0",
        b"1",
        b"global",
        b"127.0.0.1",
        b"SRVID",
        b"NULL",
    ]
    plain = ZapRequest(b"PLAIN", (b"admin", b"secret"))
    assert plain.frames(domain=b"", address=b"::1", identity=b"")[-3:] == [
        b"PLAIN",
        b"admin",
        b"secret",
    ]


def test_zap_200_sends_ready_and_keeps_user_id() -> None:
    mech = zap_null()
    metadata = encode_metadata({"X-Hello": b"w"})
    reply = ZapReply.parse([b"", b"1.0", b"1", b"200", b"OK", b"user-joe", metadata])
    assert mech.on_zap_reply(reply) == [READY_DEALER]
    assert mech.pending_zap is None and mech.zap_refusal is None
    assert mech.user_id == b"user-joe" and mech.zap_metadata["x-hello"] == b"w"
    assert not mech.done
    mech.on_command(Command(b"READY", encode_metadata({"Socket-Type": b"ROUTER"})))
    assert mech.done


def test_zap_400_sends_error_vector() -> None:
    mech = zap_null()
    assert mech.on_zap_reply(ZapReply(b"400", b"denied")) == [ERROR_400]
    assert mech.zap_refusal is not None and mech.zap_refusal.status_code == b"400"
    assert not mech.done
    assert zap_null().on_zap_reply(ZapReply(b"500")) == [error(b"500")]


def test_zap_300_closes_silently() -> None:
    mech = zap_null()
    assert mech.on_zap_reply(ZapReply(b"300")) == []
    assert mech.zap_refusal == ZapReply(b"300")


def test_no_zap_handler() -> None:
    assert zap_null().on_zap_reply(None) == [READY_DEALER]
    with pytest.raises(MQError) as info:
        zap_null(zap_enforce_domain=True).on_zap_reply(None)
    assert info.value.errno == errno.EFAULT


def test_zap_reply_without_request_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        null("DEALER").on_zap_reply(None)
    mech = zap_null()
    mech.on_zap_reply(None)
    with pytest.raises(RuntimeError):
        mech.on_zap_reply(None)


def test_zap_reply_parse() -> None:
    reply = ZapReply.parse([b"", b"1.0", b"1", b"200", b"OK", b"u", b""])
    assert reply.ok and reply.user_id == b"u" and dict(reply.metadata) == {}
    assert not ZapReply(b"400").ok


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"", b"1.0", b"1", b"200", b"OK", b"u"], ProtocolErrorCode.ZAP_MALFORMED_REPLY),
        ([b"x", b"1.0", b"1", b"200", b"OK", b"u", b""], ProtocolErrorCode.ZAP_UNSPECIFIED),
        ([b"", b"2.0", b"1", b"200", b"OK", b"u", b""], ProtocolErrorCode.ZAP_BAD_VERSION),
        ([b"", b"1.0", b"2", b"200", b"OK", b"u", b""], ProtocolErrorCode.ZAP_BAD_REQUEST_ID),
        ([b"", b"1.0", b"1", b"201", b"OK", b"u", b""], ProtocolErrorCode.ZAP_INVALID_STATUS_CODE),
        ([b"", b"1.0", b"1", b"200", b"OK", b"u", b"\x05"], ProtocolErrorCode.ZAP_INVALID_METADATA),
    ],
)
def test_zap_reply_parse_errors(frames: list[bytes], code: int) -> None:
    with pytest.raises(ProtocolError) as info:
        ZapReply.parse(frames)
    assert info.value.code == code


def test_pending_zap_defaults_to_none() -> None:
    mech = null("PUSH")
    assert mech.pending_zap is None
    mech.start()
    assert mech.pending_zap is None


class Minimal(Mechanism):
    """The smallest concrete mechanism: what a plugin author must write."""

    name = "MINIMAL"
    number = 99

    def start(self) -> list[bytes]:
        self._done = True
        return [ready(self.own_metadata)]

    def on_command(self, command: Command) -> list[bytes]:
        raise ProtocolError("none expected", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)


def test_minimal_mechanism_defaults() -> None:
    mech = Minimal(True, {"Socket-Type": b"PUSH"}, {})
    assert mech.as_server is True and mech.socket_type == "PUSH"
    assert mech.own_properties() == encode_metadata({"Socket-Type": b"PUSH"})
    assert mech.start() == [ready({"Socket-Type": b"PUSH"})]
    assert mech.done and mech.pending_zap is None and mech.zap_refusal is None
    assert mech.user_id == b"" and dict(mech.zap_metadata) == {}
    with pytest.raises(RuntimeError, match="MINIMAL mechanism did not ask for ZAP"):
        mech.on_zap_reply(None)
