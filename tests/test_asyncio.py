"""mqsdk.asyncio: awaitable sockets, cancellation safety, timeouts, uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.monitor import Event, MonitorEvent
from mqsdk.testing.helpers import wait_until

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
                waiting = asyncio.ensure_future(pull.recv())
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


# -- the event loop reads the connections itself (mqsdk/_asyncio_io.py) ----------------------


async def _until(predicate: Callable[[], object], what: str) -> None:
    """Yield to the loop until ``predicate()`` holds (bounded), for states no event marks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.001)


def test_replies_are_read_by_the_loop_without_a_handoff(loop_kind: str) -> None:
    # While a task awaits, the loop watches the connection and reads it itself: no reply
    # reaches it through the I/O thread waking the loop.
    async def main() -> None:
        ctx = maio.Context()
        try:
            rep, req = ctx.socket(mqsdk.REP), ctx.socket(mqsdk.REQ)
            rep.bind("tcp://127.0.0.1:*")
            req.connect(rep.last_endpoint.decode())

            async def serve(count: int) -> None:
                for _ in range(count):
                    await rep.send(await rep.recv())

            async def ask(count: int) -> None:
                for i in range(count):
                    await req.send(b"%d" % i)
                    assert await req.recv() == b"%d" % i

            await asyncio.wait_for(asyncio.gather(serve(5), ask(5)), 5)  # connected
            before = dict(req.loop_counters)
            rounds = 200
            await asyncio.wait_for(asyncio.gather(serve(rounds), ask(rounds)), 30)
            after = req.loop_counters
            assert after["handoffs"] == before["handoffs"], (before, after)
            assert after["reads"] - before["reads"] == rounds, (before, after)
            assert after["connections"] == 1
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_a_connection_that_closes_while_awaited(loop_kind: str) -> None:
    # The peer goes away while a receive waits: the loop stops watching that connection,
    # the receive keeps waiting, and a new connection's message reaches it.
    async def main() -> None:
        ctx, peers = maio.Context(), mqsdk.Context()
        try:
            pull = ctx.socket(mqsdk.PULL)
            pull.bind("tcp://127.0.0.1:*")
            endpoint = pull.last_endpoint.decode()
            monitor = pull.get_monitor_socket(Event.DISCONNECTED)
            first = peers.socket(mqsdk.PUSH)
            first.connect(endpoint)
            first.send(b"one")
            assert await asyncio.wait_for(pull.recv(), 5) == b"one"
            waiting = asyncio.ensure_future(pull.recv())
            await _until(lambda: pull.io_policy.loop_waiting, "the receive waits")
            first.close(linger=0)
            event = MonitorEvent.decode(await asyncio.wait_for(monitor.recv_multipart(), 5))
            assert event.event == Event.DISCONNECTED
            assert not waiting.done()
            second = peers.socket(mqsdk.PUSH)
            second.connect(endpoint)
            second.send(b"two")
            assert await asyncio.wait_for(waiting, 5) == b"two"

            def watches_the_live_connection_only() -> bool:
                io = pull._loop_io
                watched = {fd: serial for fd, (serial, _dup) in io._watched.items()} if io else {}
                return watched == {fd: e.serial for fd, e in pull._engines.items()}

            third = asyncio.ensure_future(pull.recv())
            await _until(lambda: pull.io_policy.loop_waiting, "the next receive waits")
            await _until(watches_the_live_connection_only, "the closed connection is let go")
            assert pull.loop_counters["connections"] == 1
            second.send(b"three")
            assert await asyncio.wait_for(third, 5) == b"three"
        finally:
            peers.destroy(linger=0)
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_many_sockets_on_one_loop(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pairs = []
            for _ in range(20):
                pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
                pull.bind("tcp://127.0.0.1:*")
                push.connect(pull.last_endpoint.decode())
                pairs.append((pull, push))
            count = 100

            async def receive(pull: maio.Socket) -> list[int]:
                return [int(await pull.recv()) for _ in range(count)]

            async def produce(push: maio.Socket) -> None:
                for i in range(count):
                    await push.send(b"%d" % i)

            receivers = [asyncio.create_task(receive(pull)) for pull, _ in pairs]
            await asyncio.wait_for(asyncio.gather(*(produce(push) for _, push in pairs)), 30)
            for got in await asyncio.wait_for(asyncio.gather(*receivers), 30):
                assert got == list(range(count))
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_a_loop_that_stops_while_awaiting() -> None:
    # A first loop stops with a receive still waiting in it. The I/O thread takes the
    # connection back (nobody else would read it, nor answer its heartbeats), and the
    # socket then serves a second loop, which watches the connection itself.
    ctx, peers = maio.Context(), mqsdk.Context()
    first = asyncio.new_event_loop()
    try:
        pull, push = ctx.socket(mqsdk.PULL), peers.socket(mqsdk.PUSH)
        pull.bind("tcp://127.0.0.1:*")
        push.connect(pull.last_endpoint.decode())

        async def start_receiving() -> asyncio.Future[bytes]:
            return pull.recv()  # a future of the loop running now

        stranded = first.run_until_complete(start_receiving())
        first.run_until_complete(
            _until(
                lambda: pull.io_policy.loop_waiting and pull.loop_counters["connections"],
                "the receive waits, the loop watching the connection",
            )
        )
        assert not stranded.done()
        push.send(b"while stopped")
        wait_until(
            lambda: bool(pull.poll_events() & mqsdk.POLLIN),
            "the I/O thread reads the connection of a stopped loop",
        )

        async def second() -> bytes:
            assert await asyncio.wait_for(pull.recv(), 5) == b"while stopped"
            receiving = asyncio.ensure_future(pull.recv())
            await _until(lambda: pull.loop_counters["connections"], "the second loop watches")
            push.send(b"to the second loop")
            return await asyncio.wait_for(receiving, 5)

        assert asyncio.run(second()) == b"to the second loop"
        assert stranded.cancelled()  # its loop stopped: the second loop's receives come first
        with pytest.raises(asyncio.CancelledError):
            first.run_until_complete(stranded)
    finally:
        first.close()
        peers.destroy(linger=0)
        ctx.destroy(linger=0)


def test_close_in_the_loop_wakes_an_awaiting_receive(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("tcp://127.0.0.1:*")
            push.connect(pull.last_endpoint.decode())
            await push.send(b"first")
            assert await asyncio.wait_for(pull.recv(), 5) == b"first"
            waiting = asyncio.ensure_future(pull.recv())
            await _until(lambda: pull.loop_counters["connections"], "the loop watches")
            pull.close(linger=0)
            assert pull.loop_counters["connections"] == 0  # let go at once, in the loop
            with pytest.raises(asyncio.CancelledError):  # pyzmq's close() does the same
                await asyncio.wait_for(waiting, 5)
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)


def test_async_poller_wakes_for_a_message_the_loop_reads(loop_kind: str) -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            pull.bind("tcp://127.0.0.1:*")
            push.connect(pull.last_endpoint.decode())
            poller = maio.Poller()
            poller.register(pull, mqsdk.POLLIN)
            for i in range(20):
                polling = asyncio.ensure_future(poller.poll(5000))
                await _until(lambda: pull.io_policy.loop_waiting, "the poller waits")
                await push.send(b"%d" % i)
                assert dict(await polling) == {pull: mqsdk.POLLIN}
                assert await pull.recv() == b"%d" % i
            poller.close()
        finally:
            ctx.destroy(linger=0)

    run(loop_kind, main)
