"""The 64-byte greeting: our bytes, and incremental parsing of the peer's."""

from __future__ import annotations

from array import array

import pytest
from zmtp_vectors import LIBZMQ_GREETING, LIBZMQ_GREETING_PARTS

from mqsdk.errors import ProtocolError
from mqsdk.zmtp import GreetingParser, ProtocolErrorCode, make_greeting, mechanism_field


def greeting(mechanism: bytes = b"NULL", major: int = 3, minor: int = 1, server: int = 0) -> bytes:
    return (
        b"\xff"
        + bytes(7)
        + b"\x01\x7f"
        + bytes((major, minor))
        + mechanism.ljust(20, b"\x00")
        + bytes((server,))
        + bytes(31)
    )


# -- make_greeting ----------------------------------------------------------------------


def test_null_greeting_is_exactly_libzmqs() -> None:
    assert make_greeting("NULL", False) == LIBZMQ_GREETING
    assert len(LIBZMQ_GREETING) == 64


def test_greeting_fields() -> None:
    data = make_greeting("PLAIN", True)
    assert len(data) == 64
    assert data[10:12] == b"\x03\x01"
    assert data[12:32] == b"PLAIN" + bytes(15)
    assert data[32] == 1
    assert data[33:] == bytes(31)
    assert make_greeting("CURVE", False)[32] == 0


def test_greeting_padding_carries_identity_size_plus_one() -> None:
    # libzmq with ROUTING_ID=b"abc" puts BE uint64 4 in the padding (vector 1).
    assert make_greeting("NULL", False, identity_size=3)[:10] == b"\xff" + bytes(7) + b"\x04\x7f"


@pytest.mark.parametrize("name", ["", "X" * 21, "NÜLL", "NU\x00LL"])
def test_bad_mechanism_names(name: str) -> None:
    with pytest.raises(ValueError):
        make_greeting(name, False)


def test_null_cannot_be_as_server() -> None:
    with pytest.raises(ValueError, match="NULL"):
        make_greeting("NULL", True)


def test_mechanism_field() -> None:
    assert mechanism_field("NULL") == b"NULL" + bytes(16)
    assert mechanism_field(b"GSSAPI") == b"GSSAPI" + bytes(14)
    assert mechanism_field("A" * 20) == b"A" * 20


# -- GreetingParser ---------------------------------------------------------------------


def test_libzmq_10_1_53_pattern() -> None:
    parser = GreetingParser("NULL")
    first, major, rest = LIBZMQ_GREETING_PARTS
    assert parser.feed(first) == 10
    assert parser.versioned is True
    assert parser.major is None and parser.version is None and not parser.done
    assert parser.feed(major) == 1
    assert parser.major == 3 and parser.version is None
    assert parser.feed(rest) == 53
    assert parser.version == (3, 1)
    assert parser.mechanism == b"NULL"
    assert parser.as_server is False
    assert parser.done and parser.received == 64


def test_byte_at_a_time_exposes_each_fact_as_soon_as_possible() -> None:
    parser = GreetingParser("NULL")
    data = greeting(minor=1)
    for index, byte in enumerate(data):
        assert parser.feed(bytes((byte,))) == 1
        count = index + 1
        assert parser.received == count
        assert (parser.versioned is not None) == (count >= 10)
        assert (parser.major is not None) == (count >= 11)
        assert (parser.version is not None) == (count >= 12)
        assert parser.done == (count == 64)
        assert (parser.mechanism is not None) == (count == 64)
    assert parser.feed(b"\x00\x00") == 0


def test_stops_consuming_at_64() -> None:
    parser = GreetingParser("NULL")
    trailer = b"\x04\x1a\x05READY"
    assert parser.feed(LIBZMQ_GREETING[:30]) == 30
    assert parser.feed(LIBZMQ_GREETING[30:] + trailer) == 34
    assert parser.done
    assert parser.feed(trailer) == 0


def test_accepts_memoryview_and_bytearray() -> None:
    parser = GreetingParser("NULL")
    assert parser.feed(memoryview(LIBZMQ_GREETING)[:20]) == 20
    assert parser.feed(bytearray(LIBZMQ_GREETING[20:])) == 44
    assert parser.done


@pytest.mark.parametrize(("major", "minor"), [(3, 0), (3, 1), (3, 7), (4, 0), (255, 255)])
def test_accepts_3_0_and_any_higher_version(major: int, minor: int) -> None:
    parser = GreetingParser("NULL")
    parser.feed(greeting(major=major, minor=minor))
    assert parser.done and parser.version == (major, minor)


def test_padding_is_not_interpreted() -> None:
    data = bytearray(greeting())
    data[1:9] = b"\xde\xad\xbe\xef\x00\xff\x12\x34"
    parser = GreetingParser("NULL")
    assert parser.feed(bytes(data)) == 64 and parser.done


def test_as_server_byte() -> None:
    parser = GreetingParser("PLAIN")
    parser.feed(greeting(b"PLAIN", server=1))
    assert parser.as_server is True


def test_legacy_zmtp_1_0_refused_on_first_byte() -> None:
    # A 1.0 peer opens with its identity frame, e.g. "01 00" (empty identity).
    parser = GreetingParser("NULL")
    with pytest.raises(ProtocolError, match=r"ZMTP 1\.0.*downgrade") as info:
        parser.feed(b"\x01")
    assert info.value.code == ProtocolErrorCode.ZMTP_UNSPECIFIED
    assert parser.versioned is False


def test_legacy_zmtp_1_0_long_identity_refused_at_byte_10() -> None:
    parser = GreetingParser("NULL")
    assert parser.feed(b"\xff" + bytes(8)) == 9
    with pytest.raises(ProtocolError, match=r"ZMTP 1\.0"):
        parser.feed(b"\x7e")
    assert parser.versioned is False


@pytest.mark.parametrize(("revision", "legacy"), [(0, "1.0"), (1, "2.0"), (2, "2.0")])
def test_zmtp_below_3_refused_at_byte_11(revision: int, legacy: str) -> None:
    parser = GreetingParser("NULL")
    parser.feed(b"\xff" + bytes(8) + b"\x7f")
    assert parser.versioned is True
    with pytest.raises(ProtocolError, match=f"ZMTP {legacy}.*downgrade"):
        parser.feed(bytes((revision, 5, 0, 0)))
    assert parser.major == revision


def test_observed_zmtp_2_dealer_refused() -> None:
    # Scenario 16's hand-made ZMTP 2.0 DEALER, fed whole.
    parser = GreetingParser("NULL")
    with pytest.raises(ProtocolError, match=r"ZMTP 2\.0"):
        parser.feed(b"\xff" + bytes(8) + b"\x7f\x01\x05\x00\x03ID2")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("NULL", b"PLAIN"), ("PLAIN", b"NULL"), ("CURVE", b"NULL"), ("NULL", b"NULLX")],
)
def test_mechanism_mismatch(ours: str, theirs: bytes) -> None:
    parser = GreetingParser(ours)
    with pytest.raises(ProtocolError, match="mechanism mismatch") as info:
        parser.feed(greeting(theirs))
    assert info.value.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH == 0x11000002
    assert parser.mechanism == theirs
    assert not parser.done


def test_mechanism_compare_is_exact_over_20_bytes() -> None:
    data = bytearray(greeting())
    data[31] = 0x20  # a stray byte in the NUL padding
    with pytest.raises(ProtocolError) as info:
        GreetingParser("NULL").feed(bytes(data))
    assert info.value.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH


def test_failed_parser_keeps_raising() -> None:
    parser = GreetingParser("NULL")
    with pytest.raises(ProtocolError):
        parser.feed(b"\x00")
    with pytest.raises(ProtocolError):
        parser.feed(LIBZMQ_GREETING)


def test_mismatch_detected_with_byte_at_a_time() -> None:
    parser = GreetingParser("NULL")
    data = greeting(b"PLAIN")
    for byte in data[:63]:
        parser.feed(bytes((byte,)))
    with pytest.raises(ProtocolError) as info:
        parser.feed(data[63:])
    assert info.value.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH


def test_identity_size_range() -> None:
    with pytest.raises(ValueError):
        make_greeting("NULL", False, identity_size=256)


def test_feed_accepts_non_byte_memoryviews() -> None:
    parser = GreetingParser("NULL")
    assert parser.feed(memoryview(array("h", LIBZMQ_GREETING))) == 64
    assert parser.done
