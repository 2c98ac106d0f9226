"""mqsdk.zmqstream.ZMQStream (pyzmq's ``zmq.eventloop.zmqstream``) on tornado's IOLoop.

Each test runs its own asyncio loop (``asyncio.run``) with tornado's IOLoop on it, as
tornado 5+ programs do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import zmq

import mqsdk

pytest.importorskip("tornado")

from tornado.ioloop import IOLoop

from mqsdk.zmqstream import ZMQStream

WAIT_S = 10.0
LOOPBACK = "tcp://127.0.0.1"


def run(main: Callable[[], Awaitable[None]]) -> None:
    async def with_timeout() -> None:
        await asyncio.wait_for(main(), WAIT_S)

    asyncio.run(with_timeout())


def test_receives_from_and_sends_to_a_pyzmq_peer(ctx: mqsdk.Context) -> None:
    peer = zmq.Context()

    async def main() -> None:
        stream = ZMQStream(ctx.socket(mqsdk.PAIR))
        port = stream.bind_to_random_port(LOOPBACK)  # the socket's method, through the stream
        other = peer.socket(zmq.PAIR)
        other.linger = 0
        other.connect(f"{LOOPBACK}:{port}")
        received: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        stream.on_recv(received.set_result)
        other.send_multipart([b"to", b"stream"])
        assert await received == [b"to", b"stream"]
        sent: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stream.send_multipart(
            [b"from", b"stream"], callback=lambda msg, status: sent.set_result(msg)
        )
        assert await sent == [b"from", b"stream"]
        assert other.poll(int(WAIT_S * 1000)), "the pyzmq peer got nothing"
        assert other.recv_multipart() == [b"from", b"stream"]
        other.close()
        stream.close()
        assert stream.closed()

    try:
        run(main)
    finally:
        peer.destroy(linger=0)


def test_sends_wait_for_room_and_all_arrive_in_order(ctx: mqsdk.Context) -> None:
    # High-water marks of 1: most sends find no room and must wait for the fd.
    count = 300

    async def main() -> None:
        push_socket, pull_socket = ctx.socket(mqsdk.PUSH), ctx.socket(mqsdk.PULL)
        push_socket.sndhwm = pull_socket.rcvhwm = 1
        push, pull = ZMQStream(push_socket), ZMQStream(pull_socket)
        port = pull.bind_to_random_port(LOOPBACK)
        push.connect(f"{LOOPBACK}:{port}")
        got: list[int] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_message(frames: list[bytes]) -> None:
            got.append(int(frames[0]))
            if len(got) == count:
                done.set_result(None)

        pull.on_recv(on_message)
        for number in range(count):
            push.send(str(number).encode())
        await done
        assert got == list(range(count))
        assert not push.sending()
        push.close(linger=0)
        pull.close(linger=0)

    run(main)


def test_a_stream_without_a_receive_callback_does_not_watch_its_fd(ctx: mqsdk.Context) -> None:
    # The fd is level-triggered: watched with unread messages and nothing to take them,
    # it would wake the loop on every turn.
    async def main() -> None:
        pull_socket = ctx.socket(mqsdk.PULL)
        pull = ZMQStream(pull_socket)
        port = pull.bind_to_random_port(LOOPBACK)
        push = ctx.socket(mqsdk.PUSH)
        push.linger = 0
        push.connect(f"{LOOPBACK}:{port}")
        push.send(b"waits")
        assert pull_socket.poll(int(WAIT_S * 1000)) == mqsdk.POLLIN
        loop = asyncio.get_running_loop()
        first: asyncio.Future[list[bytes]] = loop.create_future()
        pull.on_recv(first.set_result)
        assert await first == [b"waits"]
        pull.stop_on_recv()
        push.send(b"stays queued")
        assert pull_socket.poll(int(WAIT_S * 1000)) == mqsdk.POLLIN
        await asyncio.sleep(0)  # let the scheduled check run
        assert not loop.remove_reader(pull_socket.fileno()), "the fd is still watched"
        assert pull.flush() == 1  # flush still takes (and drops) what is there
        pull.close(linger=0)

    run(main)


def test_a_failing_callback_is_logged_and_receiving_goes_on(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        pull = ZMQStream(ctx.socket(mqsdk.PULL))
        port = pull.bind_to_random_port(LOOPBACK)
        push = ctx.socket(mqsdk.PUSH)
        push.linger = 0
        push.connect(f"{LOOPBACK}:{port}")
        got: list[bytes] = []
        second: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def callback(frames: list[bytes]) -> None:
            got.append(frames[0])
            if frames[0] == b"boom":
                raise ValueError("callback failed")
            second.set_result(None)

        pull.on_recv(callback)
        push.send(b"boom")
        push.send(b"next")
        await second
        assert got == [b"boom", b"next"]
        pull.close(linger=0)

    with caplog.at_level(logging.ERROR, logger="tornado.general"):
        run(main)
    assert "Uncaught exception in ZMQStream callback" in caplog.text
    assert "callback failed" in caplog.text


def test_callbacks_must_be_callable(ctx: mqsdk.Context) -> None:
    async def main() -> None:
        stream = ZMQStream(ctx.socket(mqsdk.PULL))
        # A TypeError, and an AssertionError as pyzmq's (which asserts) is.
        with pytest.raises(TypeError):
            stream.on_recv(1)  # type: ignore[arg-type]
        with pytest.raises(AssertionError):
            stream.on_send("not a function")  # type: ignore[arg-type]
        stream.close()

    run(main)


def test_closing_the_socket_under_the_stream_warns_and_closes_the_stream(
    ctx: mqsdk.Context,
) -> None:
    async def main() -> None:
        sock = ctx.socket(mqsdk.PULL)
        stream = ZMQStream(sock, IOLoop.current())
        closed: list[bool] = []
        stream.set_close_callback(lambda: closed.append(True))
        stream.on_recv(print)
        await asyncio.sleep(0)  # the stream now watches the fd
        sock.close()
        with pytest.warns(UserWarning, match="after closing socket"):
            stream.close()
        assert stream.closed() and closed == [True]
        with pytest.raises(OSError, match="closed"):
            stream.send(b"late")

    run(main)


def test_an_asyncio_socket_gives_frames_not_futures(ctx: mqsdk.Context) -> None:
    import mqsdk.asyncio

    async def main() -> None:
        actx = mqsdk.asyncio.Context()
        try:
            sock = actx.socket(mqsdk.PULL)
            with pytest.warns(RuntimeWarning, match="frames, not futures"):
                stream = ZMQStream(sock)
            port = stream.bind_to_random_port(LOOPBACK)
            push = ctx.socket(mqsdk.PUSH)
            push.linger = 0
            push.connect(f"{LOOPBACK}:{port}")
            received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            stream.on_recv(received.set_result)
            push.send(b"plain")
            assert await received == [b"plain"]
            stream.close(linger=0)
        finally:
            actx.destroy(linger=0)

    run(main)


def test_a_message_that_cannot_be_sent_is_dropped_and_later_sends_go_on(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    # Review 26 item 2: the TypeError of an unsendable frame escaped into the loop on
    # every wake-up and the message stayed first in the queue, blocking every later send.
    unsendable = object()

    async def main() -> None:
        push = ZMQStream(ctx.socket(mqsdk.PUSH))
        port = push.bind_to_random_port(LOOPBACK)
        pull = ctx.socket(mqsdk.PULL)
        pull.linger = 0
        pull.rcvtimeo = int(WAIT_S * 1000)
        pull.connect(f"{LOOPBACK}:{port}")
        reports: list[tuple[list[Any], Any]] = []
        both_reported: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_send(msg: list[Any], status: Any) -> None:
            reports.append((list(msg), status))
            if len(reports) == 2:
                both_reported.set_result(None)

        push.on_send(on_send)
        push.send(unsendable)
        push.send(b"after")
        await both_reported
        (bad_msg, bad_status), (good_msg, _) = reports
        assert bad_msg == [unsendable] and isinstance(bad_status, TypeError)
        assert good_msg == [b"after"]
        assert pull.recv() == b"after", "the message queued behind the bad one never arrived"
        push.close(linger=0)

    with caplog.at_level(logging.ERROR, logger="tornado.general"):
        run(main)
    assert "could not be sent" in caplog.text
