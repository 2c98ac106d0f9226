"""Handshakes under a burst of clients, and connections that send garbage (issue 14, item 7).

A thousand pyzmq clients connect to one mqsdk PULL at once while its I/O thread is busy
(held here; in real life it is running Python for other connections, waiting for the GIL,
or collecting garbage). The OS must queue them all until the I/O thread gets to them: a
SYN that finds the listen queue full is dropped, and its client tries again only 1 s,
3 s, 7 s... later, long enough for clients with a linger of a few seconds to give up.
Then every client must complete its handshake and every message arrive.

A connection that fails its handshake must cost little: no log line at INFO (anyone who
can connect could fill the log), nothing left for the garbage collector (a reference
cycle per failed connection made a garbage flood pay for collections of everything), and
no wake-up of the user's thread (it would re-examine every connection, per failure).
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk.testing.helpers import WAIT, wait_until

CLIENTS = 1000
MESSAGES = 8  # per client
FDS_PER_CLIENT = 4  # the server's connection, the client's, and pyzmq's mailbox and spare
GREETING = b"\xff" + bytes(7) + b"\x01\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + bytes(32)


@pytest.fixture
def fd_limit() -> Iterator[int]:
    """Raise the soft fd limit to the hard one for the test (a thousand clients need
    about four thousand fds; many systems start processes with 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    wanted = min(wanted, 65536)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield max(soft, wanted)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _queued_connections(port: int) -> int:
    """Connections to 127.0.0.1:``port`` the server side has ESTABLISHED (Linux), which
    includes those waiting in the listen queue."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local_port = int(fields[1].rpartition(":")[2], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                count += 1
    return count


@pytest.fixture
def held_io_thread() -> Iterator[tuple[mqsdk.Context, threading.Event]]:
    """A context whose I/O thread is held busy until the event is set."""
    ctx = mqsdk.Context()
    release = threading.Event()
    try:
        yield ctx, release
    finally:
        release.set()
        ctx.term()


@pytest.mark.interop
@pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="counts queued connections in /proc/net/tcp"
)
def test_a_burst_of_clients_queues_while_the_io_thread_is_busy_and_all_handshake(
    fd_limit: int, held_io_thread: tuple[mqsdk.Context, threading.Event]
) -> None:
    clients = min(CLIENTS, (fd_limit - 256) // FDS_PER_CLIENT)
    if clients < 300:
        pytest.skip(f"the fd limit ({fd_limit}) allows only {clients} clients")
    with open("/proc/sys/net/core/somaxconn") as somaxconn:
        if int(somaxconn.read()) < clients:
            pytest.skip("net.core.somaxconn caps every listen queue below the client count")
    ctx, release = held_io_thread
    pull = ctx.socket(mqsdk.PULL)  # default options: the backlog is the point
    pull.linger = 0
    pull.rcvtimeo = int(WAIT * 1000)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    port = int(endpoint.rpartition(":")[2])
    held = threading.Event()

    def hold() -> None:
        held.set()
        release.wait(6 * WAIT)  # bounded: a failing test must not hang the I/O thread

    pull.reactor.call_soon(hold)
    assert held.wait(WAIT), "the I/O thread did not run the holding call"

    zctx: zmq.Context[Any] = zmq.Context()
    zctx.set(zmq.MAX_SOCKETS, clients + 64)
    pushes: list[zmq.Socket[Any]] = []
    try:
        for index in range(clients):
            push = zctx.socket(zmq.PUSH)
            pushes.append(push)
            push.connect(endpoint)
            for seq in range(MESSAGES):
                push.send(b"%d:%d" % (index, seq))  # queued until the handshake
        wait_until(
            lambda: _queued_connections(port) >= clients,
            f"all {clients} connections queued by the OS while the I/O thread is busy "
            f"(has {_queued_connections(port)}): the listen backlog is too small, the "
            "others' SYNs were dropped and are retried only seconds later",
        )
        release.set()
        received = {pull.recv() for _ in range(clients * MESSAGES)}
        assert len(received) == clients * MESSAGES
        assert pull.stats["handshake_failures"] == 0
    finally:
        release.set()
        for push in pushes:
            push.close(linger=0)
        zctx.term()
        pull.close()


def _garbage_connections(port: int, count: int) -> None:
    """Connections that each fail their handshake a different way, then close."""
    bad_mechanism = GREETING[:12] + b"PLAIN".ljust(20, b"\0") + bytes(32)
    payloads = [
        b"\x01\x00garbage",  # a ZMTP 1.0 peer's first byte
        GREETING[:20],  # closed in the middle of the greeting
        bad_mechanism,  # fails at the greeting's last byte
        GREETING + b"\x04\xffjunk",  # a command frame whose body is cut short
        GREETING + b"\x00\x03abc",  # a message before the handshake completed
    ]
    for index in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
            client.sendall(payloads[index % len(payloads)])


def _bound_pull(ctx: mqsdk.Context) -> tuple[mqsdk.Socket, int]:
    """A PULL on a free loopback port, and the port."""
    pull = ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    return pull, int(pull.last_endpoint.decode().rpartition(":")[2])


def test_failed_handshakes_leave_nothing_for_the_garbage_collector() -> None:
    gc.collect()
    gc.disable()
    ctx = mqsdk.Context()
    try:
        pull, port = _bound_pull(ctx)
        _garbage_connections(port, 25)
        wait_until(lambda: pull.stats["handshake_failures"] == 25, "25 failed handshakes")

        def engines_alive() -> int:
            return sum(
                1 for o in gc.get_objects() if isinstance(o, StreamEngine) and o.owner is pull
            )

        wait_until(
            lambda: engines_alive() == 0,
            "every failed connection's engine freed by reference counting alone "
            f"({engines_alive()} are still there: a reference cycle holds them)",
        )
        pull.close()
    finally:
        ctx.term()
        gc.enable()


def test_failed_handshakes_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mqsdk")
    ctx = mqsdk.Context()
    try:
        pull, port = _bound_pull(ctx)
        _garbage_connections(port, 5)
        wait_until(lambda: pull.stats["handshake_failures"] == 5, "5 failed handshakes")
        pull.close()
    finally:
        ctx.term()
    noisy = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not noisy, noisy


def test_failed_handshakes_do_not_wake_the_users_thread() -> None:
    ctx = mqsdk.Context()
    try:
        pull, port = _bound_pull(ctx)
        ready = pull.fileno()  # readable while recv would not block, or when woken
        assert not select.select([ready], [], [], 0)[0]
        _garbage_connections(port, 5)
        wait_until(lambda: pull.stats["handshake_failures"] == 5, "5 failed handshakes")
        settled = threading.Event()
        pull.reactor.call_soon(settled.set)  # runs after the I/O thread's current work
        assert settled.wait(WAIT), "the I/O thread did not run the call"
        assert not select.select([ready], [], [], 0)[0], "a failed handshake woke the socket"
        pull.close()
    finally:
        ctx.term()
