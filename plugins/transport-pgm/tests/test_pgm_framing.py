"""ZeroMQ framing inside PGM: v1 frames behind the 2-byte message-start offset."""

from __future__ import annotations

import pytest
from mqsdk_transport_pgm.framing import NO_OFFSET, StreamPacker, StreamUnpacker, encode_frames


def test_v1_frame_encoding() -> None:
    out = bytearray()
    encode_frames([b"ab", b"x" * 254], out)
    assert out[:4] == b"\x03\x01ab"  # length counts the flags byte; MORE on the first
    assert out[4] == 0xFF and int.from_bytes(out[5:13], "big") == 255 and out[13] == 0


def test_offsets_point_at_message_starts() -> None:
    packer = StreamPacker(max_tsdu=12)  # 10 stream bytes per TSDU
    packer.add([b"a" * 15])  # 17 bytes: spans two TSDUs
    packer.add([b"b"])  # starts at stream byte 17
    first, second = packer.take(), packer.take()
    assert first is not None and second is not None
    assert int.from_bytes(first[:2], "big") == 0
    assert int.from_bytes(second[:2], "big") == 7
    assert packer.take() is None
    middle = StreamPacker(max_tsdu=12)
    middle.add([b"c" * 40])
    tsdus = [middle.take() for _ in range(5)]
    assert [int.from_bytes(t[:2], "big") for t in tsdus if t] == [
        0,
        NO_OFFSET,
        NO_OFFSET,
        NO_OFFSET,
        NO_OFFSET,
    ]


def _stream(messages: list[list[bytes]], room: int) -> list[bytes]:
    packer = StreamPacker(room)
    for m in messages:
        packer.add(m)
    out = []
    while (t := packer.take()) is not None:
        out.append(t)
    return out


MESSAGES = [[b"t", bytes([n]) * (n * 37 % 300)] for n in range(60)]


@pytest.mark.parametrize("room", [3, 5, 64, 1448])
def test_round_trip_any_tsdu_size(room: int) -> None:
    unpacker = StreamUnpacker()
    got = [m for t in _stream(MESSAGES, room) for m in unpacker.feed(t)]
    assert got == MESSAGES


def test_late_joiner_starts_at_a_message_boundary() -> None:
    tsdus = _stream(MESSAGES, 40)
    for start in range(len(tsdus)):
        unpacker = StreamUnpacker()
        got = [m for t in tsdus[start:] for m in unpacker.feed(t)]
        # Whole messages only: a suffix of what was sent.
        assert got == MESSAGES[len(MESSAGES) - len(got) :]


def test_loss_drops_the_partial_message_and_resyncs() -> None:
    tsdus = _stream(MESSAGES, 40)
    for lost in range(1, len(tsdus) - 1):
        unpacker = StreamUnpacker()
        got = [m for t in tsdus[:lost] for m in unpacker.feed(t)]
        unpacker.lose()
        after = [m for t in tsdus[lost + 1 :] for m in unpacker.feed(t)]
        assert got == MESSAGES[: len(got)]
        assert after == MESSAGES[len(MESSAGES) - len(after) :]  # never a torn message


@pytest.mark.parametrize(
    "tsdu",
    [
        b"",
        b"\x00",
        b"\x00\x05abc",
        b"\x00\x00\x00\x00",
        b"\x00\x00\xff" + (2**62).to_bytes(8, "big"),
    ],
)
def test_corrupt_tsdus_resync(tsdu: bytes) -> None:
    unpacker = StreamUnpacker(maxmsgsize=1 << 20)
    assert unpacker.feed(tsdu) == []
    assert unpacker.feed(b"\x00\x00\x02\x00k") == [[b"k"]]


def test_maxmsgsize_bounds_what_a_peer_makes_us_buffer() -> None:
    unpacker = StreamUnpacker(maxmsgsize=10)
    assert unpacker.feed(b"\x00\x00\x0c\x00" + b"x" * 11) == []
    assert unpacker.corrupt == 1
