"""pyzmq's socket API on mqsdk.Socket (issue 17): closed sockets, option types and
attributes, bind/connect as context managers, shadows, recv_into, serialized messages."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import gc
import json
import threading
from array import array
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk._kernel.frame import COPY_THRESHOLD
from mqsdk.errors import ContextTerminated, MQError, OptionTypeError, UnsupportedTransport
from mqsdk.testing.helpers import ipc_endpoints, short_tmpdir, wait_until

TIMEOUT_MS = 5000


def _socket(ctx: mqsdk.Context, kind: int) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = TIMEOUT_MS
    sock.sndtimeo = TIMEOUT_MS
    return sock


def _pair(ctx: mqsdk.Context, kinds: tuple[int, int]) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    a, b = _socket(ctx, kinds[0]), _socket(ctx, kinds[1])
    a.bind("tcp://127.0.0.1:*")
    b.connect(a.last_endpoint.decode())
    return a, b


def _errno_of(call: Any, *args: Any) -> int | None:
    with pytest.raises(MQError) as info:
        call(*args)
    return info.value.errno


# -- closed sockets ------------------------------------------------------------------------


def test_a_closed_socket_refuses_sends_options_and_endpoints_with_enotsock(
    ctx: mqsdk.Context,
) -> None:
    pub = ctx.socket(mqsdk.PUB)
    pub.close()
    # A PUB drops what nobody subscribed to: before, this send "succeeded" silently.
    assert _errno_of(pub.send, b"lost") == errno.ENOTSOCK
    assert _errno_of(pub.send_multipart, [b"a", b"b"]) == errno.ENOTSOCK
    assert _errno_of(pub.set, mqsdk.LINGER, 0) == errno.ENOTSOCK
    assert _errno_of(pub.get, mqsdk.LINGER) == errno.ENOTSOCK
    assert _errno_of(pub.bind, "tcp://127.0.0.1:*") == errno.ENOTSOCK
    assert _errno_of(pub.recv) == errno.ENOTSOCK


def test_a_closed_socket_does_not_hand_out_a_message_it_had_queued(ctx: mqsdk.Context) -> None:
    pull, push = _pair(ctx, (mqsdk.PULL, mqsdk.PUSH))
    push.send(b"queued")
    assert pull.poll(TIMEOUT_MS) == mqsdk.POLLIN, "the message never arrived"
    pull.close()
    assert _errno_of(pull.recv, mqsdk.NOBLOCK) == errno.ENOTSOCK


def test_a_send_after_term_says_the_context_went(ctx: mqsdk.Context) -> None:
    pub = ctx.socket(mqsdk.PUB)
    ctx.term()
    with pytest.raises(ContextTerminated):
        pub.send(b"after term")
    with pytest.raises(ContextTerminated):
        pub.send(b"a first frame", mqsdk.SNDMORE)


def test_a_closed_socket_refuses_the_first_frames_of_a_message_too(ctx: mqsdk.Context) -> None:
    # SNDMORE frames are held until the last one: they were taken, silently, after close.
    push = ctx.socket(mqsdk.PUSH)
    push.close()
    assert _errno_of(push.send, b"first", mqsdk.SNDMORE) == errno.ENOTSOCK
    assert _errno_of(push.send_multipart, [b"a", b"b"], mqsdk.SNDMORE) == errno.ENOTSOCK


def test_recv_after_close_does_not_return_the_rest_of_a_half_read_message(
    ctx: mqsdk.Context,
) -> None:
    a, b = _pair(ctx, (mqsdk.PAIR, mqsdk.PAIR))
    a.send_multipart([b"1", b"2", b"3"])
    assert b.recv() == b"1"
    assert b.rcvmore
    b.close()
    assert _errno_of(b.recv) == errno.ENOTSOCK
    assert _errno_of(b.recv_multipart) == errno.ENOTSOCK


def test_a_closed_socket_is_not_referred_to_by_its_own_send_route(ctx: mqsdk.Context) -> None:
    # The route a closed socket's sends take used to be one of its bound methods: a
    # reference cycle through the socket itself, freed only by the cycle collector.
    for close in ("close", "__del__"):
        push = ctx.socket(mqsdk.PUSH)
        getattr(push, close)()
        assert push.closed
        assert push not in gc.get_referents(push._route)
        assert _errno_of(push.send, b"x") == errno.ENOTSOCK


def test_poll_on_a_closed_socket_is_enotsup(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.close()
    assert _errno_of(pull.poll, 0) == errno.ENOTSUP  # pyzmq's answer (libzmq: ENOTSOCK)


def test_asyncio_poll_on_a_closed_socket_is_enotsup() -> None:
    import mqsdk.asyncio

    async def poll_closed() -> int | None:
        with mqsdk.asyncio.Context() as actx:
            sock = actx.socket(mqsdk.PULL)
            sock.close()
            try:
                await sock.poll(0)
            except MQError as exc:
                return exc.errno
            return None

    assert asyncio.run(poll_closed()) == errno.ENOTSUP  # as zmq.asyncio's


# -- options: types, attributes, the ones mqsdk does not implement -----------------------


def test_a_value_of_the_wrong_type_is_both_typeerror_and_einval(ctx: mqsdk.Context) -> None:
    sub = ctx.socket(mqsdk.SUB)
    cases: list[tuple[int | str, Any]] = [
        (mqsdk.SUBSCRIBE, "text"),  # bytes option, no text taken: encode it
        (mqsdk.IDENTITY, "text"),
        (mqsdk.LINGER, "5"),  # "5" is not 5
        (mqsdk.LINGER, b"5"),
        (9999, b"5"),  # unknown numbers take ints only
    ]
    for option, value in cases:
        with pytest.raises(OptionTypeError) as info:
            sub.set(option, value)
        assert isinstance(info.value, TypeError)  # pyzmq code catches this
        assert info.value.errno == errno.EINVAL  # mqsdk code catches this
    # A right type out of range, or an unknown number with an int, stays a plain EINVAL.
    for option, value in [(mqsdk.LINGER, -5), (9999, 5)]:
        with pytest.raises(MQError) as plain:
            sub.set(option, value)
        assert not isinstance(plain.value, TypeError)
        assert plain.value.errno == errno.EINVAL
    # Options whose plugin takes text keep taking it.
    sub.plain_username = "admin"
    assert sub.plain_username == b"admin"


def test_getsockopt_string_is_for_bytes_options(ctx: mqsdk.Context) -> None:
    sub = ctx.socket(mqsdk.SUB)
    sub.setsockopt_unicode(mqsdk.IDENTITY, "tést", "utf16")
    assert sub.getsockopt_unicode(mqsdk.IDENTITY, "utf16") == "tést"
    with pytest.raises(TypeError):
        sub.getsockopt_string(mqsdk.LINGER)
    assert _errno_of(sub.getsockopt_string, mqsdk.SUBSCRIBE) == errno.EINVAL  # write-only


@pytest.mark.parametrize(
    ("name", "default", "other"),
    [
        ("affinity", 0, 1),
        ("conflate", 0, 1),
        ("tos", 0, 0x10),
        ("invert_matching", 0, 1),
        ("connect_timeout", 0, 500),
        ("use_fd", -1, 3),
        ("loopback_fastpath", 0, 1),
    ],
)
def test_a_libzmq_option_mqsdk_lacks_reads_its_default_and_refuses_others(
    ctx: mqsdk.Context, name: str, default: int, other: int
) -> None:
    sock = ctx.socket(mqsdk.PUB)
    assert sock.get(name) == default
    assert getattr(sock, name.upper()) == default
    sock.set(name, default)  # pyzmq code setting the default keeps working
    with pytest.raises(MQError, match="not implemented by mqsdk") as info:
        sock.set(name, other)
    assert info.value.errno == errno.EINVAL
    assert sock.get(name) == default


def test_read_only_and_derived_options(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    assert sock.fd == sock.FD == sock.get(mqsdk.FD) == sock.fileno()
    assert sock.get(mqsdk.THREAD_SAFE) == 0
    assert _errno_of(sock.set, mqsdk.THREAD_SAFE, 1) == errno.EINVAL
    assert sock.socket_type == sock.type == mqsdk.DEALER
    assert sock.ipv4only == 1
    sock.ipv4only = 0  # libzmq's older, inverted name for ipv6
    assert sock.ipv6 == 1
    sock.ipv6 = 0
    assert sock.get(mqsdk.IPV4ONLY) == 1
    assert {"AFFINITY", "FD", "IDENTITY", "fd"} <= set(dir(sock))


def test_copy_threshold_is_a_socket_attribute(ctx: mqsdk.Context) -> None:
    push = _socket(ctx, mqsdk.PUSH)
    assert push.copy_threshold == COPY_THRESHOLD
    # Connected to nobody yet: the message waits in the connection's queue.
    push.connect("tcp://127.0.0.1:1")
    assert push.send(b"small", copy=False, track=True).done  # copied: done at once
    push.copy_threshold = 0
    assert push.copy_threshold == 0
    assert not push.send(b"small", copy=False, track=True).done  # shared: still queued
    made_so = ctx.socket(mqsdk.PUSH, copy_threshold=10)  # pyzmq's keyword
    assert made_so.copy_threshold == 10


# -- endpoints -------------------------------------------------------------------------------


def test_bind_and_connect_are_context_managers(ctx: mqsdk.Context) -> None:
    push, pull = _socket(ctx, mqsdk.PUSH), _socket(ctx, mqsdk.PULL)
    with push.bind("tcp://127.0.0.1:0") as bound:
        assert bound is push
        endpoint = push.last_endpoint.decode()
        connection = pull.connect(endpoint)
        assert repr(connection) == f"<EndpointContext(connect={endpoint!r})>"
        with connection:
            push.send(b"through")
            assert pull.recv() == b"through"
        # Left: disconnected, so a second disconnect finds nothing.
        assert _errno_of(pull.disconnect, endpoint) == errno.ENOENT
    # The port-0 bind was undone under the port really bound.
    assert _errno_of(push.unbind, endpoint) == errno.ENOENT


def test_leaving_a_bind_block_after_close_is_quiet(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PULL)
    with sock.bind("tcp://127.0.0.1:*"):
        sock.close()


def test_an_unknown_transport_names_the_whole_endpoint(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PUSH)
    with pytest.raises(UnsupportedTransport) as info:
        sock.connect("noproc://no/such/file")
    assert "noproc://no/such/file" in str(info.value)
    assert info.value.errno == errno.EPROTONOSUPPORT


# -- shadows -----------------------------------------------------------------------------------


def test_a_shadow_is_another_handle_on_the_same_socket(ctx: mqsdk.Context) -> None:
    pull, push = _pair(ctx, (mqsdk.PULL, mqsdk.PUSH))
    handles = [
        mqsdk.Socket.shadow(push),
        mqsdk.Socket.shadow(push.underlying),
        mqsdk.Socket(push),
        mqsdk.Socket(shadow=push.underlying),
        copy.copy(push),
        copy.deepcopy(push),
    ]
    assert not push._shadow
    for number, handle in enumerate(handles):
        assert isinstance(handle, mqsdk.Socket)
        assert handle._shadow
        assert handle.underlying == push.underlying
        assert handle.context is push.context
        handle.send(b"%d" % number)
        assert pull.recv() == b"%d" % number
    assert handles[0]._shadow_obj is push
    handles[0].sndhwm = 7  # options are the socket's
    assert push.sndhwm == 7
    with pytest.raises(AttributeError):
        handles[0].no_such_option = 1
    handles[0].close()
    assert push.closed


def test_shadow_of_a_number_no_socket_has_is_enotsock() -> None:
    assert _errno_of(mqsdk.Socket.shadow, 12345) == errno.ENOTSOCK
    with pytest.raises(TypeError):
        mqsdk.Socket.shadow("not a socket")  # type: ignore[arg-type]


# -- receiving into a buffer, serialized messages -----------------------------------------------


def test_recv_into(ctx: mqsdk.Context) -> None:
    pull, push = _pair(ctx, (mqsdk.PULL, mqsdk.PUSH))
    for frame in (b"hello", b"there world", b"part 3", b"rest"):
        push.send(frame)
    words = array("Q", [0])  # itemsize 8: nbytes is counted in bytes
    assert pull.recv_into(words) == 5
    assert words.tobytes()[:5] == b"hello"
    small = bytearray(4)
    assert pull.recv_into(small) == 11  # the full length says it was truncated
    assert small == b"ther"
    wide = bytearray(10)
    assert pull.recv_into(wide, nbytes=4) == 6
    assert wide == b"part" + bytes(6)
    empty = bytearray(3)
    assert pull.recv_into(memoryview(empty)[:0]) == 4  # discarded
    assert empty == bytes(3)


def test_recv_into_refuses_bad_buffers_before_taking_a_message(ctx: mqsdk.Context) -> None:
    pull, push = _pair(ctx, (mqsdk.PULL, mqsdk.PUSH))
    push.send(b"kept")
    with pytest.raises(ValueError):
        pull.recv_into(bytearray(10), nbytes=-1)
    with pytest.raises(BufferError):
        pull.recv_into(memoryview(bytearray(10))[::2])
    with pytest.raises(BufferError):
        pull.recv_into(memoryview(b"readonly"))
    with pytest.raises(ValueError):
        pull.recv_into(bytearray(10), nbytes=11)
    with pytest.raises(TypeError):
        pull.recv_into(object())
    assert pull.recv() == b"kept"
    with pytest.raises(mqsdk.Again):
        pull.recv_into(bytearray(5), flags=mqsdk.DONTWAIT)


def test_asyncio_recv_into_refuses_bad_buffers_as_the_blocking_one_does() -> None:
    async def main() -> None:
        context = maio.Context()
        try:
            pull = context.socket(mqsdk.PULL)
            with pytest.raises(BufferError):
                pull.recv_into(memoryview(b"readonly"))
            with pytest.raises(BufferError):
                pull.recv_into(memoryview(bytearray(10))[::2])
            with pytest.raises(ValueError):
                pull.recv_into(bytearray(10), nbytes=11)
            with pytest.raises(ValueError):
                pull.recv_into(bytearray(10), nbytes=-1)
            with pytest.raises(TypeError):
                pull.recv_into(object())
        finally:
            context.destroy(linger=0)

    asyncio.run(main())


def test_send_and_recv_serialized(ctx: mqsdk.Context) -> None:
    router, dealer = _pair(ctx, (mqsdk.ROUTER, mqsdk.DEALER))

    def serialize(msg: dict[str, Any]) -> list[bytes]:
        return [*msg.get("identities", []), json.dumps(msg["content"]).encode()]

    def deserialize(frames: list[bytes]) -> dict[str, Any]:
        return {"identities": frames[:-1], "content": json.loads(frames[-1])}

    dealer.send_serialized({"content": {"a": 5}}, serialize)
    got = router.recv_serialized(deserialize)
    assert got["content"] == {"a": 5}
    assert len(got["identities"]) == 1  # the ROUTER's routing frame
    router.send_serialized(got, serialize)
    assert dealer.recv_serialized(deserialize) == {"identities": [], "content": {"a": 5}}


def test_unicode_aliases(ctx: mqsdk.Context) -> None:
    pull, push = _pair(ctx, (mqsdk.PULL, mqsdk.PUSH))
    push.send_unicode("çπ§", encoding="utf16")
    assert pull.recv_unicode(encoding="utf16") == "çπ§"


def test_frame_metadata_by_subscript(ctx: mqsdk.Context) -> None:
    server, client = _pair(ctx, (mqsdk.DEALER, mqsdk.DEALER))
    client.send(b"hi")
    frame = server.recv(copy=False)
    assert frame["Socket-Type"] == frame.get("Socket-Type") == "DEALER"


# -- zero-copy frames over inproc, tracked Frames ------------------------------------------


def test_recv_returns_bytes_for_frames_sent_without_a_copy_over_inproc(
    ctx: mqsdk.Context,
) -> None:
    # inproc hands the receiver what the sender queued: a memoryview for a zero-copy
    # send. pyzmq's recv() and recv_multipart() return bytes whatever was sent.
    a, b = _socket(ctx, mqsdk.PAIR), _socket(ctx, mqsdk.PAIR)
    a.bind("inproc://zero-copy")
    b.connect("inproc://zero-copy")
    large = bytearray(b"z" * COPY_THRESHOLD)
    tracker = a.send(large, copy=False, track=True)
    got = b.recv()
    assert type(got) is bytes and got == large
    a.send(memoryview(b"untracked view"), copy=False)
    got = b.recv()
    assert type(got) is bytes and got == b"untracked view"
    a.send_multipart([b"head", large, memoryview(b"tail")], copy=False, track=True)
    parts = b.recv_multipart()
    assert [type(part) for part in parts] == [bytes, bytes, bytes]
    assert parts == [b"head", large, b"tail"]
    a.send_multipart([memoryview(b"first"), large], copy=False)
    first, rest = b.recv(), b.recv()
    assert (type(first), type(rest)) == (bytes, bytes)
    assert (first, rest) == (b"first", large)
    assert tracker is not None
    tracker.wait(TIMEOUT_MS / 1000)  # received as bytes: the kernel's view went


def test_a_tracked_frame_is_sent_from_its_buffer_without_a_copy_kept(ctx: mqsdk.Context) -> None:
    push = _socket(ctx, mqsdk.PUSH)
    with short_tmpdir() as directory:
        # Connected to an address nobody listens on yet: the message waits in the queue.
        endpoint = ipc_endpoints(directory)()
        push.connect(endpoint)
        content = b"f" * COPY_THRESHOLD
        frame = mqsdk.Frame(bytearray(content), copy=False, track=True)
        tracker = push.send(frame, copy=False)
        assert tracker is frame.tracker and tracker is not None
        # .bytes made a copy of the whole buffer and the Frame kept it.
        assert getattr(frame, "_bytes", None) is None
        del frame
        gc.collect()
        # The Frame is gone but the queued message still refers to its buffer.
        assert not tracker.done
        pull = _socket(ctx, mqsdk.PULL)
        pull.bind(endpoint)
        assert pull.recv() == content
        wait_until(lambda: tracker.done, "the queued buffer to be released once written")


def test_tracked_frames_in_send_multipart_go_without_a_copy_kept(ctx: mqsdk.Context) -> None:
    push = _socket(ctx, mqsdk.PUSH)
    with short_tmpdir() as directory:
        endpoint = ipc_endpoints(directory)()
        push.connect(endpoint)  # nobody listens yet: the message waits in the queue
        content = b"m" * COPY_THRESHOLD
        frame = mqsdk.Frame(bytearray(content), copy=False, track=True)
        tracker = push.send_multipart([b"head", frame], copy=False, track=True)
        assert tracker is not None
        assert getattr(frame, "_bytes", None) is None  # .bytes would copy it and keep it
        del frame
        gc.collect()
        assert not tracker.done  # the queued message still refers to the buffer
        pull = _socket(ctx, mqsdk.PULL)
        pull.bind(endpoint)
        assert pull.recv_multipart() == [b"head", content]
        wait_until(lambda: tracker.done, "the queued buffer to be released once written")


def test_max_sockets_holds_for_sockets_made_at_once_by_two_threads(ctx: mqsdk.Context) -> None:
    ctx.max_sockets = 1
    # Each thread, once past the limit check, waits for the other: without the check and
    # the making under one lock both get there and both make a socket. With it the
    # second waits at the check, the first's wait runs out (a bound, not a condition),
    # and the second then finds the place taken.
    both_past_the_check = threading.Barrier(2, timeout=1.0)
    made: list[mqsdk.Socket] = []
    refused: list[int | None] = []

    def waiting_socket(context: mqsdk.Context, kind: int) -> mqsdk.Socket:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_past_the_check.wait()
        return mqsdk.Socket(context, kind)

    def make() -> None:
        try:
            made.append(ctx.socket(mqsdk.PUSH, socket_class=waiting_socket))
        except MQError as exc:
            refused.append(exc.errno)

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_MS / 1000)
        assert not thread.is_alive(), "a socket() call never returned"
    assert (len(made), refused) == (1, [errno.EMFILE])
