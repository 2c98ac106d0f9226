"""Regression tests for concurrency bugs found in review (each failed before its fix)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import mqsdk
import mqsdk.asyncio as maio

TIMEOUT_MS = 5000


def test_events_while_the_io_thread_delivers() -> None:
    # FairQueue.can_recv iterated a deque the reading thread appends to.
    with mqsdk.Context() as ctx:
        pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
        pull.bind("tcp://127.0.0.1:*")
        push.connect(pull.last_endpoint.decode())
        stop = threading.Event()

        def produce() -> None:
            while not stop.is_set():
                push.send(b"x")
                time.sleep(0.0005)

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            deadline = time.monotonic() + 2
            received = 0
            while time.monotonic() < deadline:
                if pull.events & mqsdk.POLLIN:
                    pull.recv()
                    received += 1
            assert received > 0
        finally:
            stop.set()
            producer.join(5)


def test_bound_socket_lingers_on_close() -> None:
    # Closing the listeners first used to close accepted connections with queued data.
    with mqsdk.Context() as ctx:
        push = ctx.socket(mqsdk.PUSH)
        push.bind("tcp://127.0.0.1:*")
        pull = ctx.socket(mqsdk.PULL)
        pull.rcvtimeo = TIMEOUT_MS
        pull.connect(push.last_endpoint.decode())
        push.send(b"first")
        assert pull.recv() == b"first"
        sent = 0
        while True:
            try:
                push.send(b"y" * 1000, mqsdk.NOBLOCK)
            except mqsdk.Again:
                break
            sent += 1
        push.close(linger=TIMEOUT_MS)
        got = 0
        while got < sent:
            pull.recv()
            got += 1
        assert got == sent


def test_term_wakes_a_poller_in_another_thread() -> None:
    ctx = mqsdk.Context()
    pull = ctx.socket(mqsdk.PULL)
    pull.bind("inproc://poller-term")
    poller = mqsdk.Poller()
    poller.register(pull, mqsdk.POLLIN)
    outcome: list[BaseException] = []
    waiting = threading.Event()

    def wait() -> None:
        waiting.set()
        try:
            poller.poll()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    assert waiting.wait(5)
    time.sleep(0.05)  # let it enter the poll: nothing to wait for but the wait itself
    ctx.term()
    thread.join(5)
    assert not thread.is_alive(), "Poller.poll was not woken by term()"
    assert len(outcome) == 1 and isinstance(outcome[0], mqsdk.ContextTerminated)


def test_term_from_another_thread_ends_an_awaited_recv() -> None:
    async def main() -> None:
        ctx = maio.Context()
        pull = ctx.socket(mqsdk.PULL)
        pull.bind("inproc://aio-term")
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, lambda: threading.Thread(target=ctx.term).start())
        with pytest.raises(mqsdk.ContextTerminated):
            await asyncio.wait_for(pull.recv(), 5)

    asyncio.run(main())


def test_async_poller_and_recv_on_one_socket_do_not_steal_each_other() -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("inproc://clash")
            push.connect("inproc://clash")
            receiving = asyncio.ensure_future(pull.recv())
            await asyncio.sleep(0)
            poller = maio.Poller()
            poller.register(pull, mqsdk.POLLIN)
            assert await poller.poll(20) == []
            await push.send(b"one")
            assert await asyncio.wait_for(receiving, 5) == b"one"
            poller.close()
        finally:
            ctx.destroy(linger=0)

    asyncio.run(main())


def test_destroy_while_another_thread_starts_polling_its_sockets() -> None:
    """Context.destroy() closes sockets another thread is just registering in a Poller:
    the waker's fd must never be used after close (it raised ValueError/EBADF, and
    could have written into a reused fd number)."""
    import mqsdk.auth

    failures: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)  # type: ignore[assignment]
    try:
        for _ in range(100):
            ctx = mqsdk.Context()
            auth = mqsdk.auth.ThreadAuthenticator(ctx)
            auth.start()
            ctx.destroy(linger=0)
            auth.stop()
            assert not auth.is_alive()
    finally:
        threading.excepthook = previous
    assert not failures, failures[:1]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_output_a_blocked_sender_leaves_pending_still_goes_out(
    transport: str, tmp_path: object
) -> None:
    # While a user's thread waits in a blocked send, the I/O thread leaves the
    # connection's writes to it. When that send times out, encoded output can still
    # be pending with nobody watching the fd: the I/O thread must take it up again
    # (it once could not, and those messages never left).
    with mqsdk.Context() as ctx:
        pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
        pull.rcvhwm = push.sndhwm = 5
        pull.rcvbuf = push.sndbuf = 8192
        endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path}/blocked"
        pull.bind(endpoint)
        push.sndtimeo = 200
        push.linger = 0  # a failure must not wait at exit for what never went out
        push.connect(pull.last_endpoint.decode())
        body = bytes(20000)
        sent = 0
        with pytest.raises(mqsdk.Again):
            for _ in range(10000):  # far more than the queues and buffers hold
                push.send(body)
                sent += 1
        # The sender's thread now does nothing; everything it sent must arrive.
        pull.rcvtimeo = TIMEOUT_MS
        for index in range(sent):
            try:
                assert pull.recv() == body
            except mqsdk.Again:
                pytest.fail(f"only {index} of {sent} sent messages arrived")
        pull.rcvtimeo = 300
        with pytest.raises(mqsdk.Again):
            pull.recv()  # and nothing more: the timed-out message was not sent
