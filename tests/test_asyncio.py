"""mqsdk.asyncio: awaitable sockets, cancellation safety, timeouts, uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

import mqsdk
import mqsdk.asyncio as maio

LOOPS = ["asyncio"]
try:
    import uvloop  # noqa: F401

    LOOPS.append("uvloop")
except ImportError:  # pragma: no cover - uvloop is in the test requirements
    pass


def run(loop_kind: str, main: Callable[[], Awaitable[None]]) -> None:
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


@pytest.fixture(params=LOOPS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:*", "inproc://aio"])
def test_send_and_recv(loop_kind: str, endpoint: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            assert isinstance(pull, maio.Socket)
            pull.bind(endpoint)
            push.connect(pull.last_endpoint.decode())
            await push.send(b"hello")
            await push.send_multipart([b"a", b"b"])
            await push.send_string("text")
            assert await asyncio.wait_for(pull.recv(), 5) == b"hello"
            assert await asyncio.wait_for(pull.recv_multipart(), 5) == [b"a", b"b"]
            assert await asyncio.wait_for(pull.recv_string(), 5) == "text"
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_cancelled_recv_loses_no_message(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("tcp://127.0.0.1:*")
            push.connect(pull.last_endpoint.decode())
            got: list[bytes] = []
            cancelled = 0
            for i in range(50):
                waiting = asyncio.create_task(pull.recv())
                await asyncio.sleep(0)
                waiting.cancel()
                try:
                    got.append(await waiting)  # it may have finished before the cancel
                except asyncio.CancelledError:
                    cancelled += 1
                await push.send(b"%d" % i)
            while len(got) < 50:
                got.append(await asyncio.wait_for(pull.recv(), 5))
            assert got == [b"%d" % i for i in range(50)]
            assert cancelled > 0, "no recv was ever cancelled while waiting"
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_timeout_around_recv_loses_no_message(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("inproc://timeouts")
            push.connect("inproc://timeouts")
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.02):
                    await pull.recv()
            await push.send(b"kept")
            assert await asyncio.wait_for(pull.recv(), 5) == b"kept"
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_rcvtimeo_raises_again(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull = ctx.socket(mqsdk.PULL)
            pull.bind("inproc://rcvtimeo")
            pull.rcvtimeo = 20
            with pytest.raises(mqsdk.Again):
                await pull.recv()
            with pytest.raises(mqsdk.Again):
                await pull.recv(mqsdk.NOBLOCK)
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_many_messages_with_concurrent_tasks(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            push.sndhwm = 10
            pull.rcvhwm = 10
            pull.bind("tcp://127.0.0.1:*")
            push.connect(pull.last_endpoint.decode())
            count = 5000

            async def produce() -> None:
                for i in range(count):
                    await push.send(i.to_bytes(4, "big"))

            producer = asyncio.create_task(produce())
            got = [
                int.from_bytes(await asyncio.wait_for(pull.recv(), 5), "big") for _ in range(count)
            ]
            await producer
            assert got == list(range(count))
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_async_poller_and_socket_poll(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("inproc://apoll")
            push.connect("inproc://apoll")
            poller = maio.Poller()
            poller.register(pull, mqsdk.POLLIN)
            assert await poller.poll(10) == []
            assert await pull.poll(10) == 0

            async def later() -> None:
                await asyncio.sleep(0.01)
                await push.send(b"x")

            task = asyncio.create_task(later())
            assert dict(await poller.poll(5000)) == {pull: mqsdk.POLLIN}
            assert await pull.poll(5000) == mqsdk.POLLIN
            await task
            poller.close()
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_options_are_attributes_on_both_socket_classes() -> None:
    # An asyncio socket made first must not hide the options from plain sockets.
    with maio.Context() as actx, mqsdk.Context() as ctx:
        asock = actx.socket(mqsdk.PULL)
        plain = ctx.socket(mqsdk.PULL)
        for sock in (asock, plain):
            sock.rcvtimeo = 42
            assert sock.getsockopt(mqsdk.RCVTIMEO) == 42


def test_json_and_pyobj_are_awaitable(loop_kind: str) -> None:
    # As in pyzmq's zmq.asyncio: the helpers await the send/recv underneath.
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("inproc://aio-json")
            push.connect("inproc://aio-json")
            await push.send_json({"n": 1}, sort_keys=True)
            await push.send_pyobj({2, 3})
            assert await asyncio.wait_for(pull.recv_json(), 5) == {"n": 1}
            assert await asyncio.wait_for(pull.recv_pyobj(), 5) == {2, 3}
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)
