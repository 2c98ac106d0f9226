"""Background devices (mqsdk.devices, pyzmq's ``zmq.devices``), the ``@context`` /
``@socket`` decorators and the PUB logging handler.

pyzmq's own tests of these run in tests/pyzmq_suite; these cover what they do not
(its steerable-proxy tests skip on libzmq 4.3.5) and each defect found on the way.
"""

from __future__ import annotations

import logging
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

import mqsdk
from mqsdk import devices
from mqsdk.decorators import context, socket
from mqsdk.errors import ZMQBindError
from mqsdk.log import PUBHandler
from mqsdk.monitor import Event
from mqsdk.testing.helpers import recording_events, wait_until

TIMEOUT_MS = 10_000
JOIN_S = 10.0
LOOPBACK = "tcp://127.0.0.1"


def in_context(device_class: type[Any], ctx: mqsdk.Context) -> type[Any]:
    """The device class, making its sockets in ``ctx`` (not the shared instance), so
    the test stops the device by terminating a context of its own."""
    return type(device_class.__name__, (device_class,), {"context_factory": lambda: ctx})


def receiver(ctx: mqsdk.Context, kind: int, address: str) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.rcvtimeo = TIMEOUT_MS
    sock.linger = 0
    sock.connect(address)
    return sock


def stop(device: Any, ctx: mqsdk.Context) -> None:
    """Terminate the device's context, as pyzmq programs stop a device, and check it
    stopped: ETERM is its normal end, not an error."""
    ctx.destroy(linger=0)
    device.join(JOIN_S)
    assert device.done, "the device did not stop when its context was terminated"
    assert all(sock.closed for sock in device._sockets)


def test_single_socket_device_applies_the_out_sides_connects(ctx: mqsdk.Context) -> None:
    # out_type < 0: one socket serves both sides, so what was queued for "out" (here
    # the connect) must be done on it too. It was dropped: the request never arrived.
    peer = zmq.Context()
    try:
        req = peer.socket(zmq.REQ)
        req.linger = 0
        req.rcvtimeo = TIMEOUT_MS
        port = req.bind_to_random_port(LOOPBACK)
        dev = in_context(devices.ThreadDevice, ctx)(devices.QUEUE, mqsdk.REP, -1)
        dev.setsockopt_out(mqsdk.LINGER, 0)
        dev.connect_out(f"{LOOPBACK}:{port}")
        dev.start()
        req.send(b"echo")
        assert req.recv() == b"echo"
        stop(dev, ctx)
    finally:
        peer.destroy(linger=0)


def test_thread_proxy_copies_to_monitor_and_stops_on_term(ctx: mqsdk.Context) -> None:
    dev = in_context(devices.ThreadProxy, ctx)(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUSH)
    ports = [
        dev.bind_in_to_random_port(LOOPBACK),
        dev.bind_out_to_random_port(LOOPBACK),
        dev.bind_mon_to_random_port(LOOPBACK),
    ]
    assert len(set(ports)) == 3
    dev.start()
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    push.connect(f"{LOOPBACK}:{ports[0]}")
    pull = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{ports[1]}")
    mon = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{ports[2]}")
    push.send_multipart([b"a", b"b"])
    assert pull.recv_multipart() == [b"a", b"b"]
    assert mon.recv_multipart() == [b"a", b"b"]
    stop(dev, ctx)


def test_monitored_queue_joins_two_routers_and_prefixes_by_direction(
    ctx: mqsdk.Context,
) -> None:
    dev = in_context(devices.ThreadMonitoredQueue, ctx)(
        mqsdk.ROUTER, mqsdk.ROUTER, mqsdk.PUSH, b"IN", b"OUT"
    )
    port_a = dev.bind_in_to_random_port(LOOPBACK)
    port_b = dev.bind_out_to_random_port(LOOPBACK)
    port_mon = dev.bind_mon_to_random_port(LOOPBACK)
    with recording_events(ctx) as events:
        dev.start()
        wait_until(lambda: len(dev._sockets) == 3, "the device made its sockets")
        peers = {}
        for name, port in ((b"a", port_a), (b"b", port_b)):
            peer = ctx.socket(mqsdk.DEALER)
            peer.rcvtimeo = TIMEOUT_MS
            peer.linger = 0
            peer.routing_id = name  # before connecting: the ROUTER learns it in the handshake
            peer.connect(f"{LOOPBACK}:{port}")
            peers[name] = peer
        # A ROUTER drops what it cannot route yet: both peers must be known to it.
        for side in dev._sockets[:2]:
            events.wait(side, Event.HANDSHAKE_SUCCEEDED)
    mon = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{port_mon}")
    a, b = peers[b"a"], peers[b"b"]
    # Each ROUTER puts the sender first; the device swaps the first two frames so the
    # other ROUTER routes on the addressee.
    b.send_multipart([b"a", b"hello"])
    assert a.recv_multipart() == [b"b", b"hello"]
    assert mon.recv_multipart() == [b"OUT", b"a", b"b", b"hello"]
    a.send_multipart([b"b", b"back"])
    assert b.recv_multipart() == [b"a", b"back"]
    assert mon.recv_multipart() == [b"IN", b"b", b"a", b"back"]
    stop(dev, ctx)


def test_steerable_proxy_device_statistics_and_terminate(ctx: mqsdk.Context) -> None:
    dev = in_context(devices.ThreadProxySteerable, ctx)(
        mqsdk.PULL, mqsdk.PUSH, mqsdk.PUSH, mqsdk.PAIR
    )
    port_in = dev.bind_in_to_random_port(LOOPBACK)
    port_out = dev.bind_out_to_random_port(LOOPBACK)
    port_mon = dev.bind_mon_to_random_port(LOOPBACK)
    port_ctrl = dev.bind_ctrl_to_random_port(LOOPBACK)
    dev.start()
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    push.connect(f"{LOOPBACK}:{port_in}")
    pull = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{port_out}")
    mon = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{port_mon}")
    ctrl = receiver(ctx, mqsdk.PAIR, f"{LOOPBACK}:{port_ctrl}")
    push.send(b"hello")
    assert pull.recv() == b"hello"
    assert mon.recv() == b"hello"
    ctrl.send(b"STATISTICS")
    stats = [struct.unpack("=Q", frame)[0] for frame in ctrl.recv_multipart()]
    assert (stats[0], stats[1], stats[6], stats[7]) == (1, 5, 1, 5)
    ctrl.send(b"TERMINATE")
    dev.join(JOIN_S)
    assert dev.done, "TERMINATE did not stop the device"


def test_steerable_proxy_needs_a_control_type() -> None:
    with pytest.raises(TypeError, match="ctrl_type"):
        devices.ThreadProxySteerable(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUSH)


@pytest.mark.skipif(sys.platform != "linux", reason="forks a child process (fork start method)")
# Python 3.12+ warns on fork() beside threads (the context's I/O threads): the child uses
# only a context of its own, made after the fork, which is what makes that safe.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_process_device_runs_in_a_child_with_its_own_context(ctx: mqsdk.Context) -> None:
    # The capture is a PUB: nobody reads it here, and a PUSH capture would block the proxy.
    dev = devices.ProcessProxySteerable(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUB, mqsdk.PAIR)
    assert type(dev).context_factory is mqsdk.Context  # never the parent's instance
    ports = [dev.bind_in_to_random_port(LOOPBACK), dev.bind_out_to_random_port(LOOPBACK)]
    dev.bind_mon_to_random_port(LOOPBACK)
    port_ctrl = dev.bind_ctrl_to_random_port(LOOPBACK)
    dev.start()
    try:
        push = ctx.socket(mqsdk.PUSH)
        push.linger = 0
        push.connect(f"{LOOPBACK}:{ports[0]}")
        pull = receiver(ctx, mqsdk.PULL, f"{LOOPBACK}:{ports[1]}")
        ctrl = receiver(ctx, mqsdk.PAIR, f"{LOOPBACK}:{port_ctrl}")
        push.send(b"across")
        assert pull.recv() == b"across"
        ctrl.send(b"TERMINATE")
        dev.join(JOIN_S)
        assert dev.launcher is not None
        assert dev.launcher.exitcode == 0
    finally:
        if dev.launcher is not None and dev.launcher.is_alive():
            dev.launcher.kill()


def test_random_ports_are_distinct_within_the_range_then_refused() -> None:
    dev = devices.ThreadProxy(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUSH)
    low, high = 20_000, 20_003
    ports = [
        dev.bind_in_to_random_port(LOOPBACK, min_port=low, max_port=high),
        dev.bind_out_to_random_port(LOOPBACK, min_port=low, max_port=high),
        dev.bind_mon_to_random_port(LOOPBACK, min_port=low, max_port=high),
    ]
    assert sorted(ports) == [20_000, 20_001, 20_002]
    with pytest.raises(ZMQBindError):
        dev.bind_in_to_random_port(LOOPBACK, min_port=low, max_port=high)


def test_monitored_queue_wants_bytes_prefixes(ctx: mqsdk.Context) -> None:
    sockets = [ctx.socket(kind) for kind in (mqsdk.ROUTER, mqsdk.DEALER, mqsdk.PUB)]
    with pytest.raises(TypeError, match="in_prefix"):
        devices.monitored_queue(*sockets, in_prefix="in")  # type: ignore[arg-type]


def test_compat_submodule_wins_over_mqsdk_module_of_the_same_name() -> None:
    # ``from zmq import devices`` reads the attribute first: it returned mqsdk.devices,
    # which lacks pyzmq's submodules (``zmq.devices.monitoredqueue``).
    import mqsdk.compat

    assert mqsdk.compat.devices.__name__ == "mqsdk.compat.devices"
    assert mqsdk.compat.devices.monitoredqueue.monitored_queue is devices.monitored_queue
    assert mqsdk.compat.log.__name__ == "mqsdk.compat.log"


# --- decorators ----------------------------------------------------------------------


def test_decorators_inject_context_and_sockets_and_close_them() -> None:
    made: list[Any] = []

    @context()
    @socket(mqsdk.PUSH)
    @socket("sub", mqsdk.SUB)
    def work(label: str, ctx: mqsdk.Context, push: mqsdk.Socket, sub: mqsdk.Socket) -> str:
        made.extend([ctx, push, sub])
        assert push.context is ctx and sub.context is ctx
        assert (push.type, sub.type) == (mqsdk.PUSH, mqsdk.SUB)
        return label

    assert work("done") == "done"
    ctx, push, sub = made
    assert push.closed and sub.closed and ctx.closed


def test_socket_decorator_finds_the_context_keyword_and_refuses_a_clash() -> None:
    own = mqsdk.Context()
    try:

        @socket("skt", mqsdk.PAIR, context_name="c")
        def use(c: mqsdk.Context, skt: mqsdk.Socket) -> mqsdk.Context:
            return skt.context

        assert use(c=own) is own
        with pytest.raises(TypeError, match="multiple values"):
            use(c=own, skt=None)
    finally:
        own.term()


# --- PUBHandler ----------------------------------------------------------------------


@pytest.fixture
def pub_sub(ctx: mqsdk.Context) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    pub, sub = ctx.socket(mqsdk.PUB), ctx.socket(mqsdk.SUB)
    pub.bind("inproc://log")
    sub.rcvtimeo = TIMEOUT_MS
    sub.subscribe(b"")
    sub.connect("inproc://log")  # inproc: subscribed by the time connect returns
    return pub, sub


def logger_with(handler: logging.Handler) -> Iterator[logging.Logger]:
    logger = logging.getLogger("mqsdk-test-pubhandler")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


def test_pub_handler_topics(pub_sub: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pub, sub = pub_sub
    handler = PUBHandler(pub, root_topic=b"app")  # type: ignore[arg-type]
    assert handler.root_topic == "app" and handler.ctx is pub.context
    for logger in logger_with(handler):
        logger.info("db::lost connection")
        assert sub.recv_multipart() == [b"app.INFO.db", b"lost connection\n"]
        handler.root_topic = ""
        logger.warning("plain %s", "text")
        topic, body = sub.recv_multipart()
        assert topic == b"WARNING"
        assert body.endswith(b" - plain text\n")


def test_pub_handler_formatter_per_level(pub_sub: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pub, sub = pub_sub
    handler = PUBHandler(pub)
    handler.setFormatter(logging.Formatter("D %(message)s"), logging.DEBUG)
    for logger in logger_with(handler):
        logger.debug("x")
        assert sub.recv_multipart() == [b"DEBUG", b"D x"]
        logger.info("y")
        assert sub.recv_multipart() == [b"INFO", b"y\n"]


def _run_in_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_S)
    assert not any(thread.is_alive() for thread in threads)


def test_socket_decorator_gives_each_call_its_own_socket() -> None:
    seen: list[int] = []

    @socket(mqsdk.PUB)
    def work(pub: mqsdk.Socket) -> None:
        seen.append(id(pub))

    try:
        _run_in_threads(work, 4)
    finally:
        mqsdk.Context.instance().term()  # the decorator's sockets came from the instance
    assert len(seen) == 4


def test_pub_handler_that_cannot_publish_reports_through_logging() -> None:
    # It raised into the code that logged (here ContextTerminated), unlike every stdlib
    # handler; in pyzmq's suite one failed test's leftover handler so broke the next ones.
    own = mqsdk.Context()
    handler = PUBHandler(own.socket(mqsdk.PUB))
    failed: list[logging.LogRecord] = []
    handler.handleError = failed.append  # type: ignore[method-assign]
    own.term()
    for logger in logger_with(handler):
        logger.info("nobody can hear this")
    assert [record.getMessage() for record in failed] == ["nobody can hear this"]


def test_a_process_device_pickles_for_spawn_without_its_process_or_threads() -> None:
    # spawn and forkserver (macOS's and Python 3.14's default start methods) pickle the
    # device into the child: its Event, and the Process object set by start(), did not.
    import multiprocessing
    import pickle

    dev = devices.ProcessProxy(mqsdk.PULL, mqsdk.PUSH, mqsdk.PUB)
    dev.bind_in("tcp://127.0.0.1:5999")
    dev.setsockopt_out(mqsdk.LINGER, 0)
    dev.launcher = multiprocessing.Process()
    copy = pickle.loads(pickle.dumps(dev))
    assert copy._plans["in"].binds == ["tcp://127.0.0.1:5999"]
    assert copy._plans["out"].options == [(mqsdk.LINGER, 0)]
    assert copy.launcher is None and not copy.done


def test_pub_handler_close_releases_only_what_it_made(
    ctx: mqsdk.Context, pub_sub: tuple[mqsdk.Socket, mqsdk.Socket]
) -> None:
    # Review 26 item 4: a handler given an address made a context and a socket and
    # never closed either (logging.shutdown() calls close() on every handler).
    pub, _ = pub_sub
    given_socket = PUBHandler(pub)
    given_socket.close()
    assert not pub.closed, "closed the caller's socket"
    given_context = PUBHandler(f"{LOOPBACK}:*", context=ctx)
    given_context.close()
    assert given_context.socket.closed and not ctx.closed
    own = PUBHandler(f"{LOOPBACK}:*")
    own.close()
    assert own.socket.closed and own.ctx.closed
    own.close()  # a second close (logging.shutdown after the program's own) is harmless
