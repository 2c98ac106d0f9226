"""The PGM packet codec: RFC 3208 layouts, checksum, options, bad input."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from mqsdk_transport_pgm.packets import (
    NAK,
    NCF,
    ODATA,
    RDATA,
    SPM,
    SPMR,
    Packet,
    PacketError,
    checksum,
    decode,
    encode,
    sqn_add,
    sqn_diff,
    sqn_lt,
)

GSI = bytes.fromhex("0a0b0c0d0e0f")


def reference_checksum(data: bytes) -> int:
    """RFC 1071, word by word, with the RFC 3208 rule that a computed 0 is sent as ffff."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF) or 0xFFFF


@pytest.mark.parametrize("size", [0, 1, 2, 15, 16, 17, 1499, 1500])
def test_checksum_matches_rfc1071(size: int) -> None:
    rng = random.Random(size)
    for _ in range(20):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert checksum(data) == reference_checksum(data)


def test_checksum_of_zeros_and_ones() -> None:
    assert checksum(b"\0" * 8) == 0xFFFF
    assert checksum(b"\xff\xff") == reference_checksum(b"\xff\xff")


def test_header_layout() -> None:
    packet = encode(Packet(ODATA, 4000, 5555, GSI, 7, 3, data=b"\xff\xffhello"))
    sport, dport, kind, options, csum, gsi, tsdu = struct.unpack_from("!HHBBH6sH", packet)
    assert (sport, dport, kind, options, gsi, tsdu) == (4000, 5555, ODATA, 0, GSI, 7)
    assert struct.unpack_from("!II", packet, 16) == (7, 3)
    assert packet[24:] == b"\xff\xffhello"
    zeroed = packet[:6] + b"\0\0" + packet[8:]
    assert csum == reference_checksum(zeroed)


@pytest.mark.parametrize(
    "packet",
    [
        Packet(ODATA, 1, 2, GSI, 2**32 - 1, 2**32 - 10, data=b"\x00\x00\x02\x00x"),
        Packet(RDATA, 1, 2, GSI, 0, 0, data=b"abc"),
        Packet(SPM, 1, 2, GSI, 5, 100, 200, "10.0.0.1"),
        Packet(NAK, 2, 1, GSI, 42, nla="10.0.0.1", group="239.192.1.1"),
        Packet(NCF, 1, 2, GSI, 42, nla="10.0.0.1", group="239.192.1.1", naks=(43, 45)),
        Packet(NAK, 2, 1, GSI, 1, nla="10.0.0.1", group="239.1.1.1", naks=tuple(range(2, 64))),
        Packet(SPMR, 2, 1, GSI),
    ],
)
def test_round_trip(packet: Packet) -> None:
    assert decode(encode(packet)) == packet


def test_nak_list_option_layout() -> None:
    raw = encode(Packet(NAK, 2, 1, GSI, 1, nla="10.0.0.1", group="239.1.1.1", naks=(2, 3)))
    assert raw[5] & 0x01  # options present
    options = raw[16 + 4 + 8 + 8 :]
    assert options[:4] == bytes([0x00, 4]) + struct.pack("!H", 4 + 12)  # OPT_LENGTH
    assert options[4] == 0x02 | 0x80 and options[5] == 12  # OPT_NAK_LIST, the last option
    assert struct.unpack_from("!II", options, 8) == (2, 3)


def test_too_many_naks_refused() -> None:
    with pytest.raises(PacketError):
        encode(Packet(NAK, 2, 1, GSI, 1, nla="10.0.0.1", group="239.1.1.1", naks=tuple(range(63))))


def _corrupt(raw: bytes, at: int, value: int) -> bytes:
    data = bytearray(raw)
    data[at] = value
    return bytes(data)


GOOD = encode(Packet(ODATA, 1, 2, GSI, 9, 1, data=b"\x00\x00\x03\x00abc"))
GOOD_NAK = encode(Packet(NAK, 2, 1, GSI, 1, nla="10.0.0.1", group="239.1.1.1", naks=(2, 3)))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        GOOD[:15],
        GOOD[:20],  # data header cut
        GOOD[:-1],  # TSDU shorter than its length
        _corrupt(GOOD, 30, GOOD[30] ^ 1),  # payload bit flip: checksum
        GOOD[:6] + b"\0\0" + GOOD[8:],  # ODATA without checksum
        GOOD_NAK[:30],  # NLA cut
        GOOD_NAK[:-2],  # option cut
        encode(Packet(SPMR, 2, 1, GSI))[:4] + b"\x07" + encode(Packet(SPMR, 2, 1, GSI))[5:],
    ],
)
def test_bad_packets_raise_packet_error(data: bytes) -> None:
    with pytest.raises(PacketError):
        decode(data)


def test_random_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(7)
    seeds = [GOOD, GOOD_NAK, encode(Packet(SPM, 1, 2, GSI, 1, 2, 3, "1.2.3.4"))]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randrange(len(data) + 1)]
        # Re-checksum half of them, so the parser past the checksum sees garbage too.
        if rng.random() < 0.5 and len(data) >= 16:
            data[6:8] = b"\0\0"
            data[6:8] = struct.pack("!H", checksum(data))
        with contextlib.suppress(PacketError):
            decode(bytes(data))


def test_serial_number_arithmetic_wraps() -> None:
    top = 2**32 - 1
    assert sqn_add(top, 1) == 0
    assert sqn_add(0, -1) == top
    assert sqn_diff(0, top) == 1
    assert sqn_diff(top, 0) == -1
    assert sqn_lt(top, 0) and not sqn_lt(0, top)
    assert sqn_lt(2**31 - 2, 2**32 - 1) is False  # more than half the space apart
