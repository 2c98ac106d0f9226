"""Property-based tests: round trips under any chunking; garbage only ever raises ProtocolError."""

from __future__ import annotations

import contextlib
import struct
from typing import ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zmtp_vectors import LIBZMQ_GREETING, recv_into_chunks

from mqsdk.errors import ProtocolError
from mqsdk.zmtp import (
    Buffer,
    Command,
    FrameDecoder,
    GreetingParser,
    Item,
    encode_command,
    encode_message,
    encode_metadata,
    parse_error,
    parse_metadata,
    parse_ping,
)
from mqsdk.zmtp.null import NullMechanism

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class SmallPreallocDecoder(FrameDecoder):
    """Garbage may declare huge frames; keep what that allocates small in tests."""

    max_growth_step: ClassVar[int] = 4096


small_frames = st.binary(max_size=600)
big_frames = st.builds(
    lambda size, byte: bytes((byte,)) * size, st.integers(300, 70_000), st.integers(0, 255)
)
frames = st.integers(0, 24).flatmap(lambda k: big_frames if k == 0 else small_frames)
messages = st.lists(frames, min_size=1, max_size=5)
commands = st.builds(
    Command,
    st.binary(min_size=1, max_size=20),
    st.binary(max_size=300),
)
read_sizes = st.lists(
    st.integers(1, 300) | st.integers(1000, 70_000) | st.sampled_from([1, 65536]),
    min_size=1,
    max_size=12,
)
bufsizes = st.sampled_from([1024, 4096, 65536])


def frame_bytes(body: bytes, more: bool) -> bytes:
    out: list[Buffer] = []
    encode_message([body], out)
    wire = b"".join(out)
    return bytes((wire[0] | (1 if more else 0),)) + wire[1:]


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces = []
    pos = 0
    turn = 0
    while pos < len(data):
        size = sizes[turn % len(sizes)]
        pieces.append(data[pos : pos + size])
        pos += size
        turn += 1
    return pieces


@SETTINGS
@given(st.lists(messages, max_size=20), read_sizes, bufsizes)
def test_messages_roundtrip_any_chunking(
    msgs: list[list[bytes]], sizes: list[int], bufsize: int
) -> None:
    out: list[Buffer] = []
    for message in msgs:
        encode_message(message, out)
    wire = b"".join(out)
    assert FrameDecoder(bufsize=bufsize).feed(wire) == msgs
    assert recv_into_chunks(FrameDecoder(bufsize=bufsize), wire, sizes) == msgs
    decoder = FrameDecoder(bufsize=bufsize)
    got: list[Item] = []
    for piece in chunked(wire, sizes):
        got += decoder.feed(piece)
    assert got == msgs
    assert not decoder.has_partial


@SETTINGS
@given(
    st.lists(st.tuples(messages, st.none() | commands, st.integers(0, 4)), max_size=15),
    read_sizes,
    bufsizes,
)
def test_commands_interleaved_even_inside_messages(
    plan: list[tuple[list[bytes], Command | None, int]], sizes: list[int], bufsize: int
) -> None:
    wire = bytearray()
    expected: list[Item] = []
    for message, command, where in plan:
        at = where % len(message)  # the command goes after frame `at` (or after the message)
        for index, body in enumerate(message):
            wire += frame_bytes(body, more=index < len(message) - 1)
            if command is not None and index == at:
                wire += encode_command(command.name, command.data)
        if command is not None and at < len(message) - 1:
            expected += [command, message]  # completes inside the message: comes first
        elif command is not None:
            expected += [message, command]
        else:
            expected.append(message)
    assert recv_into_chunks(FrameDecoder(bufsize=bufsize), bytes(wire), sizes) == expected


@SETTINGS
@given(
    st.binary(max_size=3000),
    read_sizes,
    st.sampled_from([-1, 0, 100, 5000]),
    bufsizes,
)
def test_garbage_to_decoder_only_raises_protocol_error(
    data: bytes, sizes: list[int], maxmsgsize: int, bufsize: int
) -> None:
    decoder = SmallPreallocDecoder(maxmsgsize=maxmsgsize, bufsize=bufsize)
    with contextlib.suppress(ProtocolError):
        recv_into_chunks(decoder, data, sizes)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 0x80, 0xFF]), st.binary(max_size=40)),
        max_size=30,
    ),
    read_sizes,
)
def test_frame_shaped_garbage_only_raises_protocol_error(
    parts: list[tuple[int, bytes]], sizes: list[int]
) -> None:
    # Plausible flags followed by random size bytes and bodies reach deeper states.
    data = b"".join(bytes((flags,)) + body for flags, body in parts)
    with contextlib.suppress(ProtocolError):
        recv_into_chunks(SmallPreallocDecoder(bufsize=1024), data, sizes)


@SETTINGS
@given(st.binary(max_size=100), st.lists(st.integers(1, 70), min_size=1, max_size=5))
def test_garbage_to_greeting_parser_only_raises_protocol_error(
    data: bytes, sizes: list[int]
) -> None:
    for prefix in (b"", LIBZMQ_GREETING[:10], LIBZMQ_GREETING[:12]):
        parser = GreetingParser("NULL")
        consumed = 0
        try:
            for piece in chunked(prefix + data, sizes):
                consumed += parser.feed(piece)
        except ProtocolError:
            continue
        assert consumed == min(64, len(prefix + data))
        assert parser.done == (consumed == 64)


@SETTINGS
@given(st.binary(max_size=300))
def test_garbage_to_parsers_only_raises_protocol_error(data: bytes) -> None:
    for parse in (parse_metadata, parse_error, parse_ping):
        with contextlib.suppress(ProtocolError):
            parse(data)


@SETTINGS
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z0-9\-_.+]{1,30}", fullmatch=True),
        st.binary(max_size=300),
        max_size=8,
    )
)
def test_metadata_roundtrip(props: dict[str, bytes]) -> None:
    # Names differing only in case collapse (case-insensitive); compare case-folded.
    parsed = parse_metadata(encode_metadata(props))
    folded = {name.lower(): value for name, value in props.items()}
    assert {name.lower(): value for name, value in parsed.items()} == folded
    for name in props:
        assert parsed[name.upper()] == folded[name.lower()]


@SETTINGS
@given(commands)
def test_garbage_commands_to_null_only_raise_protocol_error(command: Command) -> None:
    for name in (command.name, b"READY", b"ERROR"):
        mech = NullMechanism(False, {"Socket-Type": b"DEALER"}, {})
        mech.start()
        with contextlib.suppress(ProtocolError):
            mech.on_command(Command(name, command.data))


def test_frame_bytes_helper() -> None:
    assert frame_bytes(b"ab", True) == b"\x01\x02ab"
    assert frame_bytes(bytes(300), False)[:9] == struct.pack(">BQ", 2, 300)
