"""mqsdk.asyncio with pyzmq's semantics: I/O methods return futures, under way at once."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.testing.helpers import WAIT

Pair = tuple[Any, Any]


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), WAIT))


async def _push_pull(ctx: Any, endpoint: str = "tcp://127.0.0.1:*") -> Pair:
    push, pull = ctx.socket(mqsdk.PUSH), ctx.socket(mqsdk.PULL)
    push.linger = pull.linger = 0
    pull.bind(endpoint)
    push.connect(pull.last_endpoint.decode())
    return push, pull


@pytest.fixture
def ctx() -> Any:
    context = maio.Context()
    yield context
    context.destroy(linger=0)


# -- futures at once -------------------------------------------------------------------------


def test_recv_returns_a_pending_future_and_receives_in_call_order(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        first, second = pull.recv(), pull.recv_multipart()
        assert isinstance(first, asyncio.Future) and isinstance(second, asyncio.Future)
        assert not first.done() and not second.done()
        await push.send(b"one")
        await push.send_multipart([b"two", b"parts"])
        assert await second == [b"two", b"parts"]  # awaiting the later one first
        assert first.done() and first.result() == b"one"

    run(main)


def test_asyncio_wait_takes_the_futures(ctx: Any) -> None:
    # A coroutine here raised TypeError ("passing coroutines is forbidden").
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        first, second = pull.recv(), pull.recv()
        done, pending = await asyncio.wait([first, second], timeout=0)
        assert not done and len(pending) == 2
        await push.send_multipart([b"x", b"y"])
        done, pending = await asyncio.wait([first, second], timeout=WAIT)
        assert not pending
        assert (first.result(), second.result()) == (b"x", b"y")

    run(main)


def test_rcvtimeo_is_read_when_recv_is_called(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx, "inproc://rcvtimeo-at-call")
        pull.rcvtimeo = 10
        short = pull.recv()
        pull.rcvtimeo = int(WAIT * 1000)  # too late for the first receive
        long = pull.recv()
        with pytest.raises(mqsdk.Again):
            await short
        assert not long.done()
        await push.send(b"for the second")
        assert await long == b"for the second"

    run(main)


def test_nonblocking_recv_and_zero_timeout_poll_are_done_on_return(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx, "inproc://done-on-return")
        nothing = pull.recv(mqsdk.NOBLOCK)
        assert nothing.done() and isinstance(nothing.exception(), mqsdk.Again)
        polled = pull.poll(timeout=0)
        assert polled.done() and polled.result() == 0
        sent = push.send(b"ready")
        assert sent.done() and sent.result() is None  # room in the queue: sent at once
        assert await pull.poll(WAIT * 1000) == mqsdk.POLLIN
        taken = pull.recv(mqsdk.NOBLOCK)
        assert taken.done() and taken.result() == b"ready"

    run(main)


def test_a_send_that_cannot_go_yet_waits_then_goes(ctx: Any) -> None:
    async def main() -> None:
        push = ctx.socket(mqsdk.PUSH)
        push.linger = 0
        push.bind("inproc://send-waits")
        assert isinstance(push.send(b"nobody", mqsdk.NOBLOCK).exception(), mqsdk.Again)
        blocked = push.send(b"waits")  # a PUSH without peers cannot send
        assert not blocked.done()
        pull = ctx.socket(mqsdk.PULL)
        pull.linger = 0
        pull.connect("inproc://send-waits")
        await blocked
        assert await pull.recv() == b"waits"

    run(main)


# -- cancellation and close ------------------------------------------------------------------


def test_a_cancelled_recv_takes_no_message(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        cancelled, kept = pull.recv_json(), pull.recv()
        assert cancelled.cancel() and cancelled.done()
        await push.send(json.dumps({"a": 1}).encode())
        assert json.loads(await kept) == {"a": 1}

    run(main)


def test_a_task_cancelled_after_its_recv_got_a_message_keeps_it(ctx: Any) -> None:
    # The message is handed over before the task resumes: a cancellation in between
    # would drop it with a plain future. The awaiter gets the message instead.
    async def main() -> None:
        push, pull = await _push_pull(ctx)

        async def receive() -> bytes:
            return bytes(await pull.recv())

        task = asyncio.ensure_future(receive())
        await asyncio.sleep(0)  # the task awaits the receive now
        receiving = pull._recv_futures[0].future
        await push.send(b"kept")
        while not receiving.done():
            await asyncio.sleep(0)
        task.cancel()  # after the message was given to the receive, before the task ran
        assert await task == b"kept"

    run(main)


def test_that_cancellation_comes_back_at_the_tasks_next_await(ctx: Any) -> None:
    # Kept message or not, a cancelled task must end: a swallowed cancellation would
    # leave a serving loop running (and asyncio.run's shutdown waiting for it).
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        got: list[bytes] = []

        async def serve() -> None:
            while True:
                got.append(bytes(await pull.recv()))

        task = asyncio.ensure_future(serve())
        await asyncio.sleep(0)
        receiving = pull._recv_futures[0].future
        await push.send(b"kept")
        while not receiving.done():
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task], timeout=WAIT / 2)
        assert task.cancelled(), "the cancellation was swallowed: the task still runs"
        assert got == [b"kept"]
        assert not pull._recv_futures  # the next receive was withdrawn

    run(main)


def test_close_cancels_what_waits(ctx: Any) -> None:
    async def main() -> None:
        _push, pull = await _push_pull(ctx)
        receiving, polling = pull.recv(), pull.poll(WAIT * 1000)
        pull.close()
        for _ in range(5):
            await asyncio.sleep(0)
        assert receiving.cancelled() and polling.cancelled()
        assert not pull._recv_futures and not pull._poll_futures

    run(main)


def test_cancelled_polls_leave_nothing_behind(ctx: Any) -> None:
    async def main() -> None:
        _push, pull = await _push_pull(ctx)
        for _ in range(10):
            pull.poll(WAIT * 1000).cancel()
        await asyncio.sleep(0)
        assert not pull._poll_futures and not pull.io_policy.loop_waiting

    run(main)


# -- the other receive and send methods ---------------------------------------------------------


def test_recv_into_and_serialized(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        await push.send_multipart([b"hello", b"a longer frame"])
        buffer = bytearray(10)
        assert await pull.recv_into(buffer) == 5 and buffer[:5] == b"hello"
        small = bytearray(4)
        assert await pull.recv_into(small) == len(b"a longer frame")  # truncated
        assert small == b"a lo"
        with pytest.raises(ValueError):
            pull.recv_into(bytearray(1), nbytes=-1)
        await push.send_serialized({"k": 1}, lambda m: [json.dumps(m).encode()])
        assert await pull.recv_serialized(lambda frames: json.loads(frames[0])) == {"k": 1}
        with pytest.raises(TypeError):
            await push.send_serialized(json, json.dumps)  # a module is not JSON
        await push.send(b"not json")
        with pytest.raises(TypeError):  # json.loads of the list of frames
            await pull.recv_serialized(json.loads)

    run(main)


def test_poller_poll_returns_a_future(ctx: Any) -> None:
    async def main() -> None:
        push, pull = await _push_pull(ctx)
        poller = maio.Poller()
        poller.register(pull, mqsdk.POLLIN)
        immediate = poller.poll(0)
        assert immediate.done() and immediate.result() == []
        waiting = poller.poll(WAIT * 1000)
        assert isinstance(waiting, asyncio.Future) and not waiting.done()
        await push.send(b"x")
        assert await waiting == [(pull, mqsdk.POLLIN)]

    run(main)


# -- pyzmq's module layout ---------------------------------------------------------------------


def test_tornado_future_socket_is_closed_by_its_ioloop() -> None:
    pytest.importorskip("tornado")
    from tornado.ioloop import IOLoop

    from mqsdk.compat.eventloop import future

    ctx = future.Context()
    try:
        sock = ctx.socket(mqsdk.PUB)
        assert isinstance(sock, future.Socket)
        loop = IOLoop(make_current=False)

        async def attach() -> None:
            sock._get_loop()

        loop.run_sync(attach)
        loop.close(all_fds=True)
        assert sock.closed
        assert future.Context.instance() is not maio.Context.instance()
    finally:
        ctx.destroy(linger=0)


def test_no_warning_when_a_future_is_awaited_after_the_socket_closed(ctx: Any) -> None:
    async def main() -> None:
        _push, pull = await _push_pull(ctx)
        receiving = pull.recv()
        pull.close()
        with pytest.raises(asyncio.CancelledError):
            await receiving

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(main)


def test_an_asyncio_handle_on_a_blocking_socket() -> None:
    # pyzmq's zmq.asyncio.Socket(sock) / Socket.from_socket(sock): futures, same socket.
    ctx = mqsdk.Context()
    try:
        pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
        pull.bind("inproc://handle")
        push.connect("inproc://handle")
        handle = maio.Socket(pull)
        assert isinstance(handle, maio.Socket)
        assert handle.underlying == pull.underlying and handle.type == pull.type
        assert isinstance(maio.Socket.from_socket(pull), maio.Socket)

        async def main() -> None:
            receiving = handle.recv()
            assert not receiving.done()
            push.send(b"through the handle")
            assert await receiving == b"through the handle"
            handle.rcvtimeo = 10  # an option of the socket itself
            assert pull.rcvtimeo == 10
            with pytest.raises(mqsdk.Again):
                await handle.recv()
            waiting = handle.recv()
            handle.close()
            await asyncio.sleep(0)
            assert waiting.cancelled() and pull.closed

        run(main)
    finally:
        ctx.destroy(linger=0)


def test_pyzmqs_deprecated_event_loop_names_warn_and_work() -> None:
    import mqsdk.compat.asyncio as zaio

    assert zaio.Socket is maio.Socket and zaio.Context is maio.Context
    with pytest.warns(DeprecationWarning, match="any asyncio event loop"):
        zaio.install()
    with pytest.warns(DeprecationWarning, match="ZMQEventLoop"):
        loop = zaio.ZMQEventLoop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_poller_gives_files_back_as_their_fd_numbers() -> None:
    import os

    async def main() -> None:
        read_fd, write_fd = os.pipe()
        with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
            poller = maio.Poller()
            poller.register(reader, mqsdk.POLLIN)
            poller.register(writer, mqsdk.POLLOUT)
            assert dict(await poller.poll(WAIT * 1000)) == {write_fd: mqsdk.POLLOUT}
            assert dict(poller.poll(0).result()) == {write_fd: mqsdk.POLLOUT}
            poller.unregister(writer)
            writer.write(b"x")
            writer.flush()
            assert dict(await poller.poll(WAIT * 1000)) == {read_fd: mqsdk.POLLIN}

    run(main)


def test_a_socket_outlives_a_closed_loop_that_left_a_receive_waiting() -> None:
    # pyzmq's test_multiple_loops, with a receive stranded in a loop closed since.
    ctx = maio.Context()
    try:
        first = asyncio.new_event_loop()
        push, pull = first.run_until_complete(_push_pull(ctx))

        async def strand() -> asyncio.Future[bytes]:
            return pull.recv()

        stranded = first.run_until_complete(strand())
        first.close()

        async def second() -> None:
            await push.send(b"for the second loop")
            assert await pull.recv() == b"for the second loop"

        run(second)
        assert stranded.cancelled() or not stranded.done()
    finally:
        ctx.destroy(linger=0)


def test_socket_keyword_arguments_reach_the_socket(ctx: Any) -> None:
    sock = ctx.socket(mqsdk.PUSH, copy_threshold=10)
    assert isinstance(sock, maio.Socket) and sock.copy_threshold == 10
    with pytest.warns(DeprecationWarning, match="io_loop"):
        maio.Socket(ctx, mqsdk.PULL, io_loop=object())  # pyzmq's, ignored there too
