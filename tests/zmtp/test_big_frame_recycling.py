"""Big frame bodies are received into a body the user has let go of (the decoder's
recycler: no fresh pages to fault in), never into one anybody still holds."""

from __future__ import annotations

import gc

import pytest

from mqsdk.zmtp import frames
from mqsdk.zmtp.frames import FrameDecoder, encode_message

SIZE = 300_000  # above _Recycler.MIN_SIZE, and a quarter of the buffer: received in place

pytestmark = pytest.mark.skipif(
    frames._rewriter is None, reason="this interpreter's bytes layout is not CPython's"
)


def _wire(body: bytes) -> bytes:
    pieces: list[frames.Buffer] = []
    encode_message([body], pieces)
    return b"".join(pieces)


def _receive(decoder: FrameDecoder, body: bytes) -> bytes:
    (message,) = decoder.feed(_wire(body))
    assert isinstance(message, list)
    (frame,) = message
    assert isinstance(frame, bytes)
    return frame


def test_a_released_body_is_reused_and_its_hash_recomputed() -> None:
    decoder = FrameDecoder()
    first = _receive(decoder, b"a" * SIZE)
    table = {first: "a"}  # caches first's hash
    del table, first
    gc.collect()
    third = _receive(decoder, b"c" * SIZE)
    assert decoder._recycler.reused == 1
    assert third == b"c" * SIZE
    assert hash(third) == hash(b"c" * SIZE)  # not the cached hash of the a's
    assert {third: 1}[b"c" * SIZE] == 1


def test_a_body_still_held_is_never_written() -> None:
    decoder = FrameDecoder()
    held = _receive(decoder, b"a" * SIZE)
    view = memoryview(held)  # a buffer export holds it too
    second = _receive(decoder, b"b" * SIZE)
    assert decoder._recycler.reused == 0
    assert held == b"a" * SIZE and second == b"b" * SIZE
    del held
    third = _receive(decoder, b"c" * SIZE)  # the view still holds the a's, second the b's
    assert decoder._recycler.reused == 0
    assert view.tobytes() == b"a" * SIZE
    assert second == b"b" * SIZE and third == b"c" * SIZE


def test_only_the_same_size_is_reused() -> None:
    decoder = FrameDecoder()
    first = _receive(decoder, b"a" * SIZE)
    del first
    other = _receive(decoder, b"b" * (SIZE + 1))
    assert decoder._recycler.reused == 0
    assert other == b"b" * (SIZE + 1)
