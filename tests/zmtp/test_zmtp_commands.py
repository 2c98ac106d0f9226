"""Command builders and parsers, metadata."""

from __future__ import annotations

import struct

import pytest
from zmtp_vectors import (
    CANCEL_TOPIC,
    ERROR_400,
    PING_CTX,
    PING_TTL_1500,
    PONG_CTX,
    READY_DEALER,
    READY_PULL,
    READY_ROUTER,
    SUBSCRIBE_TOPIC,
)

from mqsdk.errors import ProtocolError
from mqsdk.zmtp import (
    FrameDecoder,
    Metadata,
    PeerError,
    ProtocolErrorCode,
    cancel,
    encode_metadata,
    error,
    parse_error,
    parse_metadata,
    parse_ping,
    parse_ready,
    ping,
    pong,
    ready,
    subscribe,
    valid_property_name,
)


def test_ready_vectors_encode() -> None:
    assert ready({"Socket-Type": b"DEALER", "Identity": b""}) == READY_DEALER
    assert ready({"Socket-Type": b"ROUTER", "Identity": b""}) == READY_ROUTER
    assert ready({"Socket-Type": b"PULL"}) == READY_PULL


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (READY_DEALER, {"Socket-Type": b"DEALER", "Identity": b""}),
        (READY_ROUTER, {"Socket-Type": b"ROUTER", "Identity": b""}),
        (READY_PULL, {"Socket-Type": b"PULL"}),
    ],
)
def test_ready_vectors_decode(wire: bytes, expected: dict[str, bytes]) -> None:
    (command,) = FrameDecoder().feed(wire)
    assert not isinstance(command, list)
    assert command.name == b"READY"
    metadata = parse_ready(command.data)
    assert dict(metadata) == expected
    assert list(metadata) == list(expected)


def test_metadata_is_case_insensitive_and_case_preserving() -> None:
    metadata = parse_metadata(encode_metadata({"socket-TYPE": b"PUSH", "X-Hello": b"w"}))
    assert metadata["Socket-Type"] == b"PUSH"
    assert metadata["socket-type"] == b"PUSH"
    assert "SOCKET-TYPE" in metadata
    assert 42 not in metadata
    assert metadata.get("x-hello") == b"w"
    assert metadata.get("Identity") is None
    assert list(metadata) == ["socket-TYPE", "X-Hello"]
    assert len(metadata) == 2
    assert metadata == {"socket-TYPE": b"PUSH", "X-Hello": b"w"}
    assert "X-Hello" in repr(metadata)
    with pytest.raises(KeyError):
        metadata["Resource"]


def test_metadata_later_duplicate_wins() -> None:
    data = encode_metadata({"A": b"1"}) + encode_metadata({"a": b"2"})
    assert dict(parse_metadata(data)) == {"a": b"2"}


def test_metadata_roundtrip_with_big_and_empty_values() -> None:
    props = {"Socket-Type": b"DEALER", "Identity": b"", "X-Big": bytes(70000), "a.b_c+d-1": b"v"}
    assert dict(parse_metadata(encode_metadata(props))) == props
    assert dict(parse_metadata(b"")) == {}


@pytest.mark.parametrize(
    "data",
    [
        b"\x05Sock",  # name runs past the end
        b"\x04Sock\x00\x00\x00",  # value length truncated
        b"\x04Sock\x00\x00\x00\x05abc",  # value runs past the end
        b"\x00\x00\x00\x00\x00",  # empty name
        b"\x04So k\x00\x00\x00\x00",  # space in the name
        b"\x04So:k\x00\x00\x00\x00",
        b"\x04Sock\x80\x00\x00\x00",  # value length > 2**31-1
        b"\x01",
    ],
)
def test_malformed_metadata(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_metadata(data)
    assert info.value.code == ProtocolErrorCode.ZMTP_INVALID_METADATA
    with pytest.raises(ProtocolError) as info:
        parse_metadata(data, ProtocolErrorCode.ZAP_INVALID_METADATA)
    assert info.value.code == ProtocolErrorCode.ZAP_INVALID_METADATA


@pytest.mark.parametrize("name", ["", "Bad Name", "Ünï", "a" * 256, "x:y"])
def test_encode_metadata_refuses_bad_names(name: str) -> None:
    assert not valid_property_name(name)
    with pytest.raises(ValueError):
        encode_metadata({name: b""})


def test_valid_property_names() -> None:
    for name in ("Socket-Type", "X-a.b_c+d", "9", "a" * 255):
        assert valid_property_name(name)
        assert valid_property_name(name.encode())


def test_error_vector_and_truncation() -> None:
    assert error(b"400") == ERROR_400
    assert error("400") == ERROR_400
    long = error(b"x" * 300)
    assert long[:9] == struct.pack(">BQ", 6, 1 + 5 + 1 + 255)
    (command,) = FrameDecoder().feed(long)
    assert not isinstance(command, list)
    assert parse_error(command.data) == b"x" * 255


def test_parse_error() -> None:
    assert parse_error(b"\x03400") == b"400"
    assert parse_error(b"\x00") == b""
    assert parse_error(b"\x02okEXTRA") == b"ok"  # trailing bytes ignored, as libzmq
    for bad in (b"", b"\x04abc", b"\xff"):
        with pytest.raises(ProtocolError) as info:
            parse_error(bad)
        assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR


def test_ping_pong_vectors() -> None:
    assert ping(15) == PING_TTL_1500
    assert ping(0, b"ctx123") == PING_CTX
    assert pong(b"ctx123") == PONG_CTX
    assert parse_ping(b"\x00\x0f") == (15, b"")
    assert parse_ping(b"\x00\x00ctx123") == (0, b"ctx123")
    assert parse_ping(b"\xff\xff") == (65535, b"")


def test_pong_truncates_context_to_16() -> None:
    context = bytes(range(20))
    ttl, got = parse_ping(struct.pack(">H", 1) + context)
    assert ttl == 1 and got == context
    assert pong(got) == pong(context[:16])
    assert len(pong(got)) == 2 + 1 + 4 + 16


def test_ping_limits() -> None:
    with pytest.raises(ValueError):
        ping(65536)
    with pytest.raises(ValueError):
        ping(-1)
    with pytest.raises(ValueError):
        ping(1, bytes(17))
    assert len(ping(1, bytes(16))) == 2 + 1 + 4 + 2 + 16
    for bad in (b"", b"\x01"):
        with pytest.raises(ProtocolError) as info:
            parse_ping(bad)
        assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED


def test_subscribe_cancel_vectors() -> None:
    assert subscribe(b"topic") == SUBSCRIBE_TOPIC
    assert cancel(b"topic") == CANCEL_TOPIC
    assert subscribe(b"") == b"\x04\x0a\x09SUBSCRIBE"


def test_peer_error() -> None:
    exc = PeerError(b"400")
    assert isinstance(exc, ProtocolError)
    assert exc.fatal is True
    assert exc.reason == b"400" and exc.status_code == 400
    assert "400" in str(exc)
    assert PeerError(b"200").status_code is None
    assert PeerError(b"no thanks \xff").status_code is None


def test_metadata_constructor_forms() -> None:
    assert dict(Metadata([("A", b"1")])) == {"A": b"1"}
    assert dict(Metadata({"A": b"1"})) == {"A": b"1"}
    assert dict(Metadata()) == {}


def test_encode_metadata_refuses_huge_values() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return 2**31

    with pytest.raises(ValueError, match="2\\*\\*31-1"):
        encode_metadata({"X-Big": Huge()})
