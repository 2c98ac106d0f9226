"""Framing: encoder output, decoder items, chunking, limits, big frames."""

from __future__ import annotations

import errno
import struct
from array import array

import pytest
from zmtp_vectors import (
    BODY_255,
    BODY_256,
    CANCEL_30,
    DECODE_VECTORS,
    FRAME_255,
    FRAME_256,
    REQ_HI,
    SUBSCRIBE_30,
    feed_chunks,
    hx,
    recv_into_chunks,
)

from mqsdk.errors import ProtocolError
from mqsdk.zmtp import (
    ZEROCOPY_THRESHOLD,
    Buffer,
    Command,
    FrameDecoder,
    Item,
    ProtocolErrorCode,
    encode_command,
    encode_message,
)


def encode(*messages: list[bytes]) -> bytes:
    out: list[Buffer] = []
    for message in messages:
        encode_message(message, out)
    return b"".join(out)


def decode_whole(data: bytes, **kwargs: int) -> list[Item]:
    return FrameDecoder(**kwargs).feed(data)


# -- encoder ----------------------------------------------------------------------------


def test_encode_vectors() -> None:
    assert encode([b"", b"hi"]) == REQ_HI
    assert encode([b"\x01topic"]) == SUBSCRIBE_30
    assert encode([b"\x00topic"]) == CANCEL_30
    assert encode([BODY_255]) == FRAME_255
    assert encode([BODY_256]) == FRAME_256
    assert encode([b"oldnews"]) == hx("00 07") + b"oldnews"  # vector 4


def test_encode_more_flags_and_long_more() -> None:
    wire = encode([b"a", BODY_256, b""])
    assert wire == hx("01 01") + b"a" + hx("03 00 00 00 00 00 00 01 00") + BODY_256 + hx("00 00")


def test_encode_returns_byte_count() -> None:
    out: list[Buffer] = []
    assert encode_message([b"abc"], out) == 5
    assert encode_message([b"", BODY_256, b"x" * 9000], out) == 2 + 265 + 9009
    assert sum(memoryview(piece).nbytes for piece in out) == 5 + 2 + 265 + 9009


def test_encode_accepts_bytearray_and_memoryview() -> None:
    ints = array("i", range(100))  # 400 bytes: a long frame, size = nbytes
    view = memoryview(ints)
    wire = encode([bytearray(b"ab"), view, memoryview(b"xyz")[1:]])
    assert wire == (
        hx("01 02") + b"ab" + struct.pack(">BQ", 3, 400) + ints.tobytes() + hx("00 02") + b"yz"
    )
    assert encode([memoryview(array("h", [1, 2]))]) == hx("00 04") + array("h", [1, 2]).tobytes()


def test_big_bodies_are_not_copied() -> None:
    big = bytes(ZEROCOPY_THRESHOLD)
    huge = bytearray(1 << 20)
    out: list[Buffer] = []
    encode_message([b"id", b"", big, b"tail", huge], out)
    assert out[1] is big
    assert out[-1] is huge
    # small frames are joined with their headers into few pieces
    assert out[0] == hx("01 02") + b"id" + hx("01 00") + struct.pack(">BQ", 3, len(big))
    assert out[2] == hx("01 04") + b"tail" + struct.pack(">BQ", 2, len(huge))
    assert len(out) == 4
    single: list[Buffer] = []
    encode_message([huge], single)
    assert single[1] is huge and single[0] == struct.pack(">BQ", 2, len(huge))


def test_small_single_frame_is_one_piece() -> None:
    out: list[Buffer] = []
    encode_message([b"x" * 16], out)
    encode_message([b"y" * 1000], out)
    assert out == [hx("00 10") + b"x" * 16, struct.pack(">BQ", 2, 1000) + b"y" * 1000]


def test_empty_message_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_message([], [])


def test_encode_command() -> None:
    assert encode_command(b"SUBSCRIBE", b"topic") == DECODE_VECTORS["subscribe"][0]
    assert encode_command(b"PONG", b"ctx123") == DECODE_VECTORS["pong-ctx"][0]
    assert encode_command(b"X") == hx("04 02 01") + b"X"
    initiate = encode_command(b"INITIATE", bytes(268))  # CURVE-sized: needs the long form
    assert initiate[:9] == struct.pack(">BQ", 6, 277)
    with pytest.raises(ValueError):
        encode_command(b"")
    with pytest.raises(ValueError):
        encode_command(b"N" * 256)


# -- decoder: vectors, whole and in every split -----------------------------------------


@pytest.mark.parametrize("name", sorted(DECODE_VECTORS))
def test_decode_vector(name: str) -> None:
    wire, expected = DECODE_VECTORS[name]
    assert decode_whole(wire) == expected


@pytest.mark.parametrize("name", sorted(DECODE_VECTORS))
def test_decode_vector_every_split_and_byte_at_a_time(name: str) -> None:
    wire, expected = DECODE_VECTORS[name]
    for cut in range(1, len(wire)):
        assert feed_chunks(FrameDecoder(), [wire[:cut], wire[cut:]]) == expected, cut
    singles = [wire[i : i + 1] for i in range(len(wire))]
    assert feed_chunks(FrameDecoder(), singles) == expected
    assert recv_into_chunks(FrameDecoder(bufsize=1024), wire, [1]) == expected


def stream_of_everything() -> tuple[bytes, list[Item]]:
    wire = b""
    items: list[Item] = []
    for name in sorted(DECODE_VECTORS):
        chunk, expected = DECODE_VECTORS[name]
        wire += chunk
        items += expected
    return wire, items


def test_multi_message_stream_every_split() -> None:
    wire, expected = stream_of_everything()
    assert decode_whole(wire) == expected
    for cut in range(1, len(wire)):
        assert feed_chunks(FrameDecoder(), [wire[:cut], wire[cut:]]) == expected, cut
    assert feed_chunks(FrameDecoder(), [wire[i : i + 1] for i in range(len(wire))]) == expected


@pytest.mark.parametrize("bufsize", [1024, 1500, 65536])
@pytest.mark.parametrize("reads", [[1], [7], [3, 250, 1], [64], [1000000]])
def test_stream_through_read_buffer_commit(bufsize: int, reads: list[int]) -> None:
    wire, expected = stream_of_everything()
    wire = wire * 3
    assert recv_into_chunks(FrameDecoder(bufsize=bufsize), wire, reads) == expected * 3


# -- decoder: tolerance and structure ---------------------------------------------------


def test_reserved_flag_bits_are_ignored() -> None:
    assert decode_whole(hx("08 02") + b"hi") == [[b"hi"]]
    assert decode_whole(hx("f9 01") + b"a" + hx("f8 01") + b"b") == [[b"a", b"b"]]
    assert decode_whole(hx("fc 03 02") + b"AB") == [Command(b"AB", b"")]


def test_long_flag_with_small_size() -> None:
    assert decode_whole(hx("03 00 00 00 00 00 00 00 01") + b"a" + hx("00 00")) == [[b"a", b""]]
    assert decode_whole(hx("06 00 00 00 00 00 00 00 05 04") + b"PING") == [Command(b"PING", b"")]


def test_more_on_a_command_is_not_checked() -> None:
    wire = hx("05 05 04") + b"PONG" + hx("00 01") + b"m"
    assert decode_whole(wire) == [Command(b"PONG", b""), [b"m"]]


def test_command_between_frames_of_a_message() -> None:
    wire = hx("01 01") + b"a" + hx("04 07 04") + b"PING" + hx("00 00") + hx("00 01") + b"b"
    expected: list[Item] = [Command(b"PING", hx("00 00")), [b"a", b"b"]]
    assert decode_whole(wire) == expected
    for cut in range(1, len(wire)):
        assert feed_chunks(FrameDecoder(), [wire[:cut], wire[cut:]]) == expected


def test_empty_frames() -> None:
    assert decode_whole(hx("00 00")) == [[b""]]
    assert decode_whole(hx("01 00 01 00 00 00")) == [[b"", b"", b""]]
    assert encode([b"", b"", b""]) == hx("01 00 01 00 00 00")


def test_boundary_255_256_roundtrip() -> None:
    for size in (254, 255, 256, 257):
        body = bytes(size)
        wire = encode([body, body])
        assert decode_whole(wire) == [[body, body]]
    assert len(encode([bytes(255)])) == 257
    assert len(encode([bytes(256)])) == 265


def test_thousand_frame_message() -> None:
    frames = [i.to_bytes(2, "big") * (i % 7) for i in range(1000)]
    wire = encode(frames)
    assert decode_whole(wire) == [frames]
    assert recv_into_chunks(FrameDecoder(bufsize=1024), wire, [97]) == [frames]


def test_items_come_in_wire_order_with_partial_message_pending() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(hx("01 01") + b"a") == []
    assert decoder.has_partial
    assert decoder.feed(hx("04 05 04") + b"PING") == [Command(b"PING", b"")]
    assert decoder.feed(hx("00 01") + b"b" + hx("00 01")) == [[b"a", b"b"]]
    assert decoder.has_partial
    assert decoder.feed(b"c") == [[b"c"]]
    assert not decoder.has_partial


# -- decoder: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        hx("04 00"),  # empty command body
        hx("04 01 00"),  # only a name-length byte
        hx("04 01 05"),
        hx("04 03 05") + b"AB",  # the name runs past the body
        hx("04 05 05") + b"PING",
        hx("06 00 00 00 00 00 00 00 00"),  # long form, empty body
    ],
)
def test_malformed_commands(wire: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_whole(wire)
    assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED


def test_empty_command_name_is_tolerated_like_libzmq() -> None:
    assert decode_whole(hx("04 02 00") + b"x") == [Command(b"", b"x")]


def test_maxmsgsize_refuses_before_allocating() -> None:
    decoder = FrameDecoder(maxmsgsize=1000, bufsize=4096)
    header = struct.pack(">BQ", 2, 1 << 40)
    with pytest.raises(ProtocolError, match="MAXMSGSIZE of 1000") as info:
        decoder.feed(header)
    assert info.value.errno == errno.EMSGSIZE
    assert decoder.allocated == 4096


def test_maxmsgsize_is_per_frame_and_inclusive() -> None:
    frames = [bytes(100), bytes(100), bytes(100)]
    assert decode_whole(encode(frames), maxmsgsize=100) == [frames]
    with pytest.raises(ProtocolError):
        decode_whole(encode([bytes(101)]), maxmsgsize=100)


@pytest.mark.parametrize("limit", [0, 10, 254])
def test_maxmsgsize_below_255_applies_to_short_frames(limit: int) -> None:
    ok = encode([bytes(limit)], [bytes(limit)])
    assert decode_whole(ok, maxmsgsize=limit) == [[bytes(limit)], [bytes(limit)]]
    for flags in (0, 1):
        with pytest.raises(ProtocolError, match="MAXMSGSIZE"):
            decode_whole(bytes((flags, limit + 1)) + bytes(limit + 1), maxmsgsize=limit)


def test_maxmsgsize_applies_to_commands() -> None:
    with pytest.raises(ProtocolError):
        decode_whole(encode_command(b"READY", bytes(50)), maxmsgsize=20)


def test_frame_size_over_2_63_is_refused() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError, match=r"2\*\*63-1") as info:
        decoder.feed(hx("02 80 00 00 00 00 00 00 00"))
    assert info.value.errno == errno.EMSGSIZE
    assert decoder.allocated == FrameDecoder.initial_bufsize


def test_items_before_an_error_are_kept() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(hx("00 01") + b"a" + hx("04 00"))
    assert decoder.decoded_before_error == [[b"a"]]
    decoder = FrameDecoder(bufsize=1024)
    with pytest.raises(ProtocolError):
        decoder.feed(encode([b"x" * 200]) * 7 + hx("04 00"))
    assert decoder.decoded_before_error == [[b"x" * 200]] * 7


def test_commit_past_the_region_is_a_bug() -> None:
    decoder = FrameDecoder(bufsize=1024)
    with pytest.raises(ValueError):
        decoder.commit(1025)


def test_bufsize_minimum() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(bufsize=1023)


# -- decoder: big frames ----------------------------------------------------------------


def test_one_mib_frame_is_received_in_place() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    wire = encode([b"head", body])
    decoder = FrameDecoder(bufsize=65536)
    first = FrameDecoder.initial_bufsize
    region = decoder.read_buffer()
    assert len(region) == first
    region[:first] = wire[:first]
    assert decoder.commit(first) == []
    # 4 KiB of a 1 MiB body do not buy its final buffer yet: a chunk first. The read
    # filled the read buffer, which doubled for the reads to come.
    region = decoder.read_buffer()
    assert len(region) < len(wire) - first
    assert decoder.allocated <= 2 * first + 2 * first
    pos = first
    items: list[Item] = []
    while pos < len(wire):
        region = decoder.read_buffer()
        take = min(len(region), len(wire) - pos)
        region[:take] = wire[pos : pos + take]
        items += decoder.commit(take)
        pos += take
        # Once a 16th of the body is there, the rest is read straight into the final
        # bytes, in one region.
        if pos > len(body) // 16 + 200 and pos < len(wire):
            assert len(decoder.read_buffer()) == len(wire) - pos
    assert items == [[b"head", body]]
    assert decoder.allocated == 2 * first
    assert not decoder.has_partial


def test_big_frame_is_the_bytes_it_was_received_into(monkeypatch: pytest.MonkeyPatch) -> None:
    # Received straight into the bytes object handed out: a plain, hashable, equal
    # bytes, no later read may change it, and the copying fallback gives the same.
    from mqsdk.zmtp import frames

    for writable in (frames._writable_bytes, frames._copying_writable_bytes):
        monkeypatch.setattr(frames, "_writable_bytes", writable)
        first, second = bytes(range(256)) * 400, bytes(reversed(range(256))) * 400
        decoder = FrameDecoder(bufsize=1024)
        (got,) = recv_into_chunks(decoder, encode([first], [second]), [700, 1024, 5000])[:1]
        body = got[0]
        assert type(body) is bytes and body == first and hash(body) == hash(first)
        assert recv_into_chunks(decoder, encode([second]), [333]) == [[second]]
        assert body == first  # the next big frame went into a buffer of its own


def test_one_mib_frame_in_socket_sized_reads() -> None:
    body = bytes(range(256)) * 4096
    wire = encode([body], [b"after"], [body, body])
    expected: list[Item] = [[body], [b"after"], [body, body]]
    assert recv_into_chunks(FrameDecoder(), wire, [65536]) == expected
    assert recv_into_chunks(FrameDecoder(), wire, [1000, 65536, 3]) == expected
    assert decode_whole(wire) == expected


def test_big_command_is_received_in_place() -> None:
    wire = encode_command(b"INITIATE", bytes(range(256)) * 100)
    decoder = FrameDecoder(bufsize=1024)
    assert recv_into_chunks(decoder, wire, [500]) == [Command(b"INITIATE", bytes(range(256)) * 100)]


def test_big_malformed_command() -> None:
    wire = struct.pack(">BQ", 6, 5000) + b"\xff" + bytes(4999)  # name-len 255 fits, ok
    assert decode_whole(wire, bufsize=1024) == [Command(bytes(255), bytes(4744))]


def test_declared_size_grows_with_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FrameDecoder, "growth_factor", 1)
    body = bytes(range(256)) * 100  # 25600 bytes
    wire = encode([body])
    decoder = FrameDecoder(bufsize=1024)
    decoder.feed(wire[:2000])
    # The 1015 body bytes read so far, and a chunk the size of the read buffer: not the
    # declared 25600.
    assert decoder.allocated == 1024 + 1015 + 1024
    assert decoder.feed(wire[2000:]) == [[body]]
    assert decoder.allocated == 1024
    # A peer that declares a huge frame and sends little costs one small chunk.
    liar = FrameDecoder(bufsize=1024)
    liar.feed(struct.pack(">BQ", 2, 1 << 40) + bytes(600))
    assert liar.allocated == 1024 + 600 + 1024  # read buffer, bytes received, one chunk


@pytest.mark.parametrize("declared", [2**40, 100 * 2**20, 50 * 2**20, 2**20 + 1, 300_000])
def test_declared_size_costs_memory_only_as_bytes_arrive(declared: int) -> None:
    """Issue 14: a declaration alone once cost up to 64 MiB, zero-filled, per connection."""
    decoder = FrameDecoder()  # unlimited maxmsgsize, the default bufsize
    bufsize = decoder.bufsize
    decoder.feed(struct.pack(">BQ", 2, declared) + b"abc")
    # The read buffer, the 3 bytes, a first chunk the size of the read buffer.
    assert decoder.allocated == 2 * FrameDecoder.initial_bufsize + 3
    received = 3
    piece = bytes(range(256)) * 256  # 64 KiB
    allocations = [decoder.allocated]
    while received + len(piece) < min(declared, 8 * 2**20):
        assert decoder.feed(piece) == []
        received += len(piece)
        # At most the bytes received, plus one growth step that is a bounded multiple
        # of them (the final buffer, once the rest is at most growth_factor times them).
        bound = bufsize + (FrameDecoder.growth_factor + 1) * received
        assert decoder.allocated <= bound, (received, decoder.allocated)
        allocations.append(decoder.allocated)
    assert allocations == sorted(allocations)
    assert allocations[-1] > min(declared, 8 * 2**20) // 2  # it did grow with the data
    assert allocations[-1] < allocations[0] + 17 * received
    assert decoder.has_partial


def test_a_big_frame_whose_first_read_brings_enough_is_allocated_at_once() -> None:
    # The fast path for legitimate big messages: received in place, no copy. A 1 MiB
    # frame whose first read brings a 16th of it (the read buffer is 64 KiB once it
    # grew) gets its final buffer at once; the same header with 100 bytes does not.
    size = 2**20
    body = bytes(range(256)) * (size // 256)
    wire = encode([body])
    decoder = FrameDecoder()
    decoder.feed(wire[:100])
    assert decoder.allocated < FrameDecoder.initial_bufsize + 100_000
    assert decoder.feed(wire[100:]) == [[body]]
    decoder = FrameDecoder()
    region = decoder.read_buffer()
    while len(region) < 65536:  # let the read buffer grow as reads fill it
        region[:] = bytes(len(region))
        decoder.commit(len(region))
        region = decoder.read_buffer()
    fill = len(encode([b""]))  # empty frames filled it; they are decoded and gone
    assert decoder.allocated == 65536 and fill
    first = wire[: size // 16 + 9]
    decoder.feed(first)
    assert decoder.allocated == 65536 + size  # the final bytes, nothing besides
    (message,) = decoder.feed(wire[len(first) :])
    assert message == [body]


def test_growth_steps_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FrameDecoder, "max_growth_step", 8192)
    body = bytes(range(251)) * 400  # 100400 bytes: many steps of at most 8192
    wire = encode([b"head"], [body, b"tail"], [b"next"])
    decoder = FrameDecoder(bufsize=1024)
    items: list[Item] = []
    previous = decoder.allocated
    for pos in range(0, len(wire), 700):
        items += decoder.feed(wire[pos : pos + 700])
        now = decoder.allocated
        assert now - previous <= 8192 + 700, (pos, previous, now)
        previous = now
    assert items == [[b"head"], [body, b"tail"], [b"next"]]
    assert decoder.allocated == 1024


@pytest.mark.parametrize("reads", [[65536], [1000, 65536, 3], [4097], [1 << 20]])
def test_big_frames_decode_through_chunks(reads: list[int]) -> None:
    size = 2**20 * 3 + 12345
    body = bytes(range(253)) * (size // 253) + b"z" * (size % 253)
    command = encode_command(b"BIG", body[: 2**20 + 77])
    wire = encode([b"a", body], [body]) + command + encode([b"after"])
    expected: list[Item] = [
        [b"a", body],
        [body],
        Command(b"BIG", body[: 2**20 + 77]),
        [b"after"],
    ]
    decoder = FrameDecoder()
    assert recv_into_chunks(decoder, wire, reads) == expected
    assert decoder.allocated <= decoder.bufsize and not decoder.has_partial
    assert feed_chunks(FrameDecoder(), [wire[:5000], wire[5000:]]) == expected


def test_pending_frame_and_message_in_progress() -> None:
    decoder = FrameDecoder()
    assert decoder.pending_frame is None and not decoder.message_in_progress
    decoder.feed(b"\x06\x00\x00")  # a long command header, incomplete
    assert decoder.pending_frame is None
    decoder.feed(struct.pack(">Q", 70000)[2:] + b"\x05READY")  # now complete
    assert decoder.pending_frame == (70000, True) and not decoder.message_in_progress
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x0aabc")  # a short message frame, part of its body
    assert decoder.pending_frame == (10, False) and decoder.message_in_progress
    decoder = FrameDecoder()
    assert decoder.feed(encode([b"first", b"second"])[:7]) == []  # "first" is held
    assert decoder.pending_frame is None and decoder.message_in_progress
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">BQ", 2, 2**40) + b"abc")  # a big frame, received apart
    assert decoder.pending_frame == (2**40, False) and decoder.message_in_progress


def test_read_buffer_starts_small_and_grows_with_bulk_reads() -> None:
    decoder = FrameDecoder()
    assert decoder.allocated == FrameDecoder.initial_bufsize < decoder.bufsize
    # A handshake-sized exchange leaves it small...
    assert decoder.feed(encode_command(b"READY", bytes(100))) == [Command(b"READY", bytes(100))]
    assert decoder.allocated == FrameDecoder.initial_bufsize
    # ... reads that fill it make it double, up to bufsize, frames cut anywhere.
    frames = [bytes((i % 256,)) * (i * 37 % 20000) for i in range(400)]
    wire = encode(*([f] for f in frames))
    assert recv_into_chunks(decoder, wire, [65536, 777, 65536, 5]) == [[f] for f in frames]
    assert decoder.allocated == decoder.bufsize


def test_partial_frames_compact_and_read_buffer_never_empty() -> None:
    # Frames around the direct threshold (256), read in odd sizes, in a small buffer.
    frames = [bytes((i,)) * (250 + i % 12) for i in range(200)]
    wire = encode(*([f] for f in frames))
    decoder = FrameDecoder(bufsize=1024)
    assert recv_into_chunks(decoder, wire, [5, 761, 13, 1024, 300]) == [[f] for f in frames]
    assert decoder.allocated == 1024


def test_feed_accepts_any_buffer() -> None:
    wire = encode([b"abcd"])  # 6 bytes = 3 shorts
    assert FrameDecoder().feed(memoryview(array("h", wire))) == [[b"abcd"]]
    assert FrameDecoder().feed(bytearray(wire)) == [[b"abcd"]]


def test_decoder_properties() -> None:
    decoder = FrameDecoder(maxmsgsize=123, bufsize=2048)
    assert decoder.maxmsgsize == 123 and decoder.bufsize == 2048 and decoder.allocated == 2048
    assert FrameDecoder().maxmsgsize == -1


def test_commit_past_the_direct_region_is_a_bug() -> None:
    decoder = FrameDecoder(bufsize=1024)
    decoder.feed(struct.pack(">BQ", 2, 5000) + bytes(100))
    region = len(decoder.read_buffer())
    assert 0 < region < 4900  # a chunk: 100 bytes do not buy the declared 5000
    with pytest.raises(ValueError):
        decoder.commit(region + 1)
