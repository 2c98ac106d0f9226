"""pyzmq's Frame semantics on mqsdk.Frame: construction (copy, track, bad input), the
buffer protocol, message options, MessageTracker and ``track=True`` sends."""

from __future__ import annotations

import asyncio
import copy
import errno
import gc

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk._kernel.frame import COPY_THRESHOLD, FINISHED_TRACKER, MORE, MessageTracker
from mqsdk.errors import MQError, NotDone
from mqsdk.testing.helpers import ipc_endpoints, short_tmpdir, wait_until

TIMEOUT_MS = 5000
WAIT_S = TIMEOUT_MS / 1000


@pytest.mark.parametrize("data", [5, object(), "text"])
def test_frame_of_a_non_buffer_is_a_type_error(data: object) -> None:
    # Frame(5) used to be five zero bytes (bytes(5)).
    with pytest.raises(TypeError):
        mqsdk.Frame(data)


def test_frame_of_a_non_contiguous_buffer_is_a_buffer_error() -> None:
    with pytest.raises(BufferError):
        mqsdk.Frame(memoryview(bytearray(10))[::2])


def test_frame_takes_pyzmqs_arguments_and_any_contiguous_buffer() -> None:
    assert mqsdk.Frame().bytes == b""
    assert mqsdk.Frame(bytearray(b"abc"), track=False, copy=True, copy_threshold=10).bytes == b"abc"
    array = memoryview(bytes(range(12))).cast("B", (3, 4))
    frame = mqsdk.Frame(array)
    assert len(frame) == 12
    assert frame.bytes == bytes(range(12))
    assert mqsdk.Frame(frame).bytes == bytes(range(12))


def test_frame_copies_small_data_and_shares_large_or_copy_false_data() -> None:
    small = bytearray(b"x" * 10)
    copied = mqsdk.Frame(small)
    small[0] = ord("y")
    assert copied.bytes == b"x" * 10  # a copy: the change does not show
    shared_data = bytearray(b"x" * 10)
    shared = mqsdk.Frame(shared_data, copy=False)
    shared_data[0] = ord("y")
    assert shared.buffer[0] == ord("y")  # the same memory
    large = bytearray(COPY_THRESHOLD)
    by_size = mqsdk.Frame(large)
    large[0] = 1
    assert by_size.buffer[0] == 1


def test_bytes_is_a_copy_made_once_and_buffer_the_same_view() -> None:
    data = b"payload"
    frame = mqsdk.Frame(data)
    assert frame.bytes == data
    assert frame.bytes is not data  # the frame's own copy, as pyzmq's
    assert frame.bytes is frame.bytes
    assert frame.buffer is frame.buffer
    assert isinstance(frame.buffer, memoryview)
    zero_copy = mqsdk.Frame(bytearray(b"abc"), copy=False)
    assert type(zero_copy.bytes) is bytes
    assert zero_copy.bytes is zero_copy.bytes


def test_copy_shares_content_and_tracker() -> None:
    frame = mqsdk.Frame(b"abc", copy=False, track=True)
    twin = copy.copy(frame)
    assert twin.bytes == b"abc"
    assert twin.tracker is frame.tracker
    tracker = frame.tracker
    assert tracker is not None
    del frame
    gc.collect()
    assert not tracker.done  # the copy still refers to the buffer
    del twin
    gc.collect()
    assert tracker.done


def test_memoryview_of_a_frame() -> None:
    """On every Python: from 3.12 through __buffer__, before as a bytes (a copy)."""
    frame = mqsdk.Frame(b"abcdef")
    view = memoryview(frame)  # type: ignore[arg-type,unused-ignore]
    assert (view.ndim, view.shape, view.tobytes()) == (1, (6,), b"abcdef")


def test_memoryview_of_a_received_frame(ctx: mqsdk.Context) -> None:
    """What jupyter_client does with every buffer of a message it receives without a copy
    (ipyparallel's engines failed on Python 3.11 before Frames were bytes there)."""
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send_multipart([b"head", b"x" * 100_000])
    frames = pull.recv_multipart(copy=False)
    views = [memoryview(f) for f in frames]  # type: ignore[arg-type,unused-ignore]
    assert [v.tobytes() for v in views] == [b"head", b"x" * 100_000]
    assert [f.bytes for f in frames] == [b"head", b"x" * 100_000]


def test_received_frame_options(ctx: mqsdk.Context) -> None:
    a = ctx.socket(mqsdk.PAIR)
    b = ctx.socket(mqsdk.PAIR)
    a.rcvtimeo = TIMEOUT_MS
    port = a.bind_to_random_port("tcp://127.0.0.1")
    b.connect(f"tcp://127.0.0.1:{port}")
    b.send_multipart([b"hi", b"there"])
    first = a.recv(copy=False)
    second = a.recv(copy=False)
    assert (first.more, first.get(MORE)) == (True, 1)
    assert (second.more, second.get(MORE)) == (False, 0)
    assert second.get("Socket-Type") == "PAIR"
    with pytest.raises(MQError) as unknown:
        second.get(99)
    assert unknown.value.errno == errno.EINVAL
    with pytest.raises(MQError) as read_only:
        second.set(MORE, 0)
    assert read_only.value.errno == errno.EINVAL
    assert second.tracker is None


def test_tracker_of_a_frame_is_done_once_the_frame_is_gone() -> None:
    frame = mqsdk.Frame(b"asdf", copy=False, track=True)
    other = mqsdk.Frame(b"whoda", copy=False, track=True)
    both = MessageTracker(frame, other)
    assert not both.done
    with pytest.raises(NotDone):
        both.wait(0.01)
    del frame
    gc.collect()
    assert not both.done
    del other
    gc.collect()
    assert both.wait(0) is None
    assert both.done


def test_tracker_refuses_untracked_frames_and_other_objects() -> None:
    with pytest.raises(ValueError):
        MessageTracker(mqsdk.Frame(b"x"))
    with pytest.raises(TypeError):
        MessageTracker(b"x")  # type: ignore[arg-type]
    assert MessageTracker().done


def test_zero_copy_send_is_tracked_until_written(ctx: mqsdk.Context) -> None:
    # PUSH connected to an address nobody listens on yet: its messages wait in the
    # queue, holding the buffers they were sent from.
    with short_tmpdir() as directory:
        _tracked_until_written(ctx, ipc_endpoints(directory)())


def _tracked_until_written(ctx: mqsdk.Context, endpoint: str) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.connect(endpoint)
    large = b"x" * COPY_THRESHOLD
    single = push.send(large, copy=False, track=True)
    multi = push.send_multipart([large, b"end"], copy=False, track=True)
    assert isinstance(single, MessageTracker) and isinstance(multi, MessageTracker)
    assert not single.done
    assert not multi.done
    small = push.send(b"small", copy=False, track=True)
    assert small is FINISHED_TRACKER and small.done  # copied: the buffer is free at once
    assert push.send(b"copied", track=False) is None
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind(endpoint)
    assert pull.recv() == large
    assert pull.recv_multipart() == [large, b"end"]
    assert pull.recv() == b"small"
    assert pull.recv() == b"copied"
    wait_until(lambda: single.done and multi.done, "the sent buffers to be released")


def test_sending_a_frame_returns_its_tracker(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    push = ctx.socket(mqsdk.PUSH)
    pull.rcvtimeo = TIMEOUT_MS
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    frame = mqsdk.Frame(b"again", copy=False, track=True)
    tracker = push.send(frame, copy=False)
    assert tracker is frame.tracker
    assert pull.recv() == b"again"
    assert tracker is not None and not tracker.done  # the frame still lives
    with pytest.raises(ValueError):
        push.send(mqsdk.Frame(b"untracked"), track=True)
    del frame
    gc.collect()
    assert tracker.done


def test_tracked_send_on_an_asyncio_socket() -> None:
    async def main() -> tuple[object, object]:
        context = maio.Context()
        try:
            pull = context.socket(mqsdk.PULL)
            push = context.socket(mqsdk.PUSH)
            port = pull.bind_to_random_port("tcp://127.0.0.1")
            push.connect(f"tcp://127.0.0.1:{port}")
            large = b"x" * COPY_THRESHOLD
            single = await asyncio.wait_for(push.send(large, copy=False, track=True), WAIT_S)
            multi = await asyncio.wait_for(
                push.send_multipart([large, b"end"], copy=False, track=True), WAIT_S
            )
            assert await asyncio.wait_for(pull.recv(), WAIT_S) == large
            assert await asyncio.wait_for(pull.recv_multipart(), WAIT_S) == [large, b"end"]
            return single, multi
        finally:
            context.destroy(linger=0)

    single, multi = asyncio.run(main())
    assert isinstance(single, MessageTracker) and isinstance(multi, MessageTracker)
    wait_until(lambda: single.done and multi.done, "the sent buffers to be released")
