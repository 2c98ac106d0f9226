"""Soak: peers killed (SIGKILL) and restarted under a live mqsdk socket, connections
reset again and again by injected faults (contrib/transport-chaos: resets, partial reads
and writes, delayed writes), and rounds of connections opened and closed against one
server.

All end where they started: the same fds, threads and engines. The default is a few
rounds, well under a minute on a loaded 2-core machine; ``SOAK_SCALE`` multiplies the
rounds for a long run (``SOAK_SCALE=20`` kills each peer 100 times)::

    SOAK_SCALE=20 python -m pytest -q tests/test_soak.py -p no:randomly
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, EventLog, observing, recording_events, wait_until

zmq = pytest.importorskip("zmq")

pytestmark = pytest.mark.interop

# Read at import, not in a fixture: conftest clears MQSDK_* variables, this one is ours.
SCALE = max(1, int(os.environ.get("SOAK_SCALE", "1")))
KILLS = 5 * SCALE
CHURN_ROUNDS = 3 * SCALE
CLIENTS_PER_ROUND = 40  # per kind: pyzmq, mqsdk, raw with a greeting, raw without
MESSAGES_PER_ROUND = 5
RESETS = 8 * SCALE

# A process that imports the peer's library once, then forks one peer process per
# endpoint it reads on stdin (importing mqsdk takes longer than a whole round). Each peer
# binds the endpoint (the same one again after a restart), prints "<pid> bound <endpoint>"
# and "<pid> got <text>" for every message, and echoes on REP and ROUTER; a REP asked to
# "swallow" never answers. Nothing but imports happens before a fork.
PEER_SOURCE = """
import os, signal, sys, threading, time
lib_name, pattern = sys.argv[1:3]
if lib_name == "mqsdk":
    import mqsdk as lib
else:
    import zmq as lib
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the killed peers

def serve(endpoint):
    ctx = lib.Context()
    sock = ctx.socket({"pull": lib.PULL, "rep": lib.REP, "router": lib.ROUTER}[pattern])
    sock.linger = 0
    deadline = time.monotonic() + 10
    while True:
        try:
            sock.bind(endpoint)
            break
        except Exception:  # the killed peer's port may linger a moment
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    bound = sock.last_endpoint
    bound = bound.decode() if isinstance(bound, bytes) else bound
    me = os.getpid()
    print(me, "bound", bound, flush=True)
    while True:
        frames = sock.recv_multipart()
        print(me, "got", frames[-1].decode(), flush=True)
        if frames[-1].startswith(b"swallow"):
            threading.Event().wait()
        if pattern != "pull":
            sock.send_multipart(frames)

for line in sys.stdin:
    sys.stdout.flush()
    if os.fork() == 0:
        try:
            serve(line.strip())
        finally:
            os._exit(1)
"""

# mqsdk's side -> the peer's.
PEER_PATTERN = {"PUSH": "pull", "REQ": "rep", "DEALER": "router"}


class Peers:
    """Starts peer processes of one library and pattern, kills them, reads what they print
    (one pipe for all: each line starts with the pid), with bounded waits."""

    def __init__(self, lib: str, pattern: str) -> None:
        self.lib = lib
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PEER_SOURCE, lib, pattern],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buffer = b""
        self.started: list[int] = []

    def start(self, endpoint: str) -> tuple[int, str]:
        """A new peer process bound to ``endpoint``: its pid and its bound endpoint."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(endpoint.encode() + b"\n")
        self.proc.stdin.flush()
        pid, word, bound = self.next_line().split(" ", 2)
        assert word == "bound", (pid, word, bound)
        self.started.append(int(pid))
        return int(pid), bound

    def next_line(self, timeout: float = WAIT) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {self.lib} peer printed a line within {timeout} s")
            readable, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if readable:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"the {self.lib} peers' parent exited: {self.stderr()}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def stderr(self) -> str:
        self.proc.wait(WAIT)
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")[-2000:]

    @staticmethod
    def kill(pid: int) -> None:
        """SIGKILL: no close, no linger, the OS drops its connections."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for pid in self.started:
            self.kill(pid)
        self.proc.kill()
        self.proc.wait(WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def open_fds() -> dict[str, str]:
    """This process's open fds and what each is (socket, pipe, eventpoll...), once
    garbage is collected: an earlier test's unreachable socket closing its fds in the
    middle of this one would otherwise move the count under the baseline for good."""
    gc.collect()
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd is gone already
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return found


def open_fd_count() -> int:
    return len(open_fds())


def wait_for_fds(count: int, before: dict[str, str]) -> None:
    def changes() -> str:
        now = open_fds()
        opened = {fd: what for fd, what in now.items() if before.get(fd) != what}
        closed = {fd: what for fd, what in before.items() if now.get(fd) != what}
        return f"opened {opened}, closed {closed}"

    wait_until(lambda: open_fd_count() == count, f"fds back to {count}: {changes()}")


def live_engines() -> int:
    """StreamEngine objects still alive anywhere in this process (after a collection)."""
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, StreamEngine))


def mqsdk_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("mqsdk") and r.levelno >= logging.ERROR
    ]


def exchange(sock: mqsdk.Socket, peers: Peers, pid: int, kind: str, round_: int) -> None:
    """Send this round's messages; each must reach peer ``pid`` (and come back if echoed)."""
    messages = [f"m-{round_}-{i}" for i in range(MESSAGES_PER_ROUND)]
    for text in messages:
        sock.send(text.encode())
        if kind == "REQ":  # strict send/recv alternation
            assert sock.recv() == text.encode(), text
        assert peers.next_line() == f"{pid} got {text}"
    if kind == "DEALER":
        assert [sock.recv().decode() for _ in messages] == messages


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


@pytest.mark.parametrize("peer_lib", ["pyzmq", "mqsdk"])
@pytest.mark.parametrize("kind", ["PUSH", "REQ", "DEALER"])
def test_peer_killed_and_restarted(
    ctx: mqsdk.Context, kind: str, peer_lib: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mqsdk")
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
    if kind == "REQ":
        # A request lost with its peer would leave a strict REQ waiting forever; relaxed
        # and correlated, it may ask again and a late reply cannot be mistaken.
        sock.req_relaxed = 1
        sock.req_correlate = 1
    peers = Peers(peer_lib, PEER_PATTERN[kind])
    try:
        pid, endpoint = peers.start("tcp://127.0.0.1:*")
        with observing(ctx) as observer:
            sock.connect(endpoint)
            observer.wait("connected", sock)
            exchange(sock, peers, pid, kind, 0)
            # The socket's first wait opens the poller it keeps for its life (round 0 may
            # not have waited): wait once, on nothing, before the baseline.
            assert sock.poll(1) == 0
            before, threads = open_fds(), threading.active_count()
            for round_ in range(1, KILLS + 1):
                if kind == "REQ":  # killed with a request in hand
                    sock.send(f"swallow-{round_}".encode())
                    assert peers.next_line() == f"{pid} got swallow-{round_}"
                peers.kill(pid)
                observer.wait("disconnected", sock, count=round_)
                pid, _ = peers.start(endpoint)
                observer.wait("connected", sock, count=round_ + 1)
                if kind == "REQ":
                    with pytest.raises(mqsdk.Again):  # that request's reply never comes
                        sock.recv(mqsdk.NOBLOCK)
                exchange(sock, peers, pid, kind, round_)
            # Every killed connection's fd and thread is gone; the live one remains.
            wait_for_fds(len(before), before)
            wait_until(
                lambda: threading.active_count() == threads,
                f"threads back to {threads}: {[t.name for t in threading.enumerate()]}",
            )
            assert len(sock._engines) == 1, sock._engines
    finally:
        peers.close()
    sock.close()
    assert not mqsdk_errors(caplog), mqsdk_errors(caplog)


def greeting() -> bytes:
    return b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\x00") + bytes(32)


def test_connect_close_churn_returns_to_baseline(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mqsdk")
    server = ctx.socket(mqsdk.ROUTER)
    server.linger = 0
    server.rcvtimeo = int(WAIT * 1000)
    server.bind("tcp://127.0.0.1:*")
    endpoint = server.last_endpoint.decode()
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    # The server's first blocking recv opens what its waits need for its whole life (its
    # own poller): one client first, so the baseline has it.
    with zmq.Context() as zctx, zctx.socket(zmq.DEALER) as first:
        first.linger = 0
        first.connect(endpoint)
        first.send(b"first")
        assert server.recv_multipart()[-1] == b"first"
    wait_until(lambda: len(server._engines) == 0, "the first client's engine closed")
    before, threads, engines = open_fds(), threading.active_count(), live_engines()
    for round_ in range(CHURN_ROUNDS):
        zctx = zmq.Context()
        client_ctx = mqsdk.Context()
        clients = [zctx.socket(zmq.DEALER) for _ in range(CLIENTS_PER_ROUND)]
        clients += [client_ctx.socket(mqsdk.DEALER) for _ in range(CLIENTS_PER_ROUND)]
        raws = []
        for index, client in enumerate(clients):
            client.linger = 0
            client.connect(endpoint)
            client.send(b"%d-%d" % (round_, index))
        for index in range(2 * CLIENTS_PER_ROUND):
            # Half say a greeting and leave mid-handshake, half leave without a word.
            raw = socket.create_connection((host, int(port)), timeout=WAIT)
            if index % 2:
                raw.sendall(greeting())
            raws.append(raw)
        received = {server.recv_multipart()[-1] for _ in clients}
        assert received == {b"%d-%d" % (round_, i) for i in range(len(clients))}
        for raw in raws:
            raw.close()
        for client in clients:
            client.close()
        zctx.term()
        client_ctx.term()
    wait_until(lambda: len(server._engines) == 0, f"server engines: {len(server._engines)}")
    _back_to_baseline(before, threads, engines, after="the churn")
    # Still serving.
    with zmq.Context() as zctx, zctx.socket(zmq.DEALER) as last:
        last.linger = 0
        last.connect(endpoint)
        last.send(b"after")
        assert server.recv_multipart()[-1] == b"after"
    server.close()
    assert not mqsdk_errors(caplog), mqsdk_errors(caplog)


# -- faults injected by contrib/transport-chaos -----------------------------------------

# The binding side's faults apply to every connection it accepts, the connecting side's
# to its own; each connection through an endpoint gets its own seeded cuts. A connection
# resets once 2 KiB went through it (sent and received, greeting and handshake included:
# about 250 bytes), so a round's messages fit and the filler sent after them does not.
SERVER_FAULTS = "partial=1&delay_ms=2&seed=11"
CLIENT_FAULTS = "partial=1&delay_ms=1&reset_after=2048&seed=12"
FILLER = b"F" * 4096
# mqsdk's side -> the binding side's.
CHAOS_PEER = {"PUSH": "PULL", "REQ": "REP", "DEALER": "ROUTER"}


def _need_chaos(ctx: mqsdk.Context) -> None:
    if ctx.registry.find_component("transport", "chaos+tcp") is None:
        pytest.skip("needs contrib/transport-chaos (pip install -e contrib/transport-chaos)")


def _chaos_socket(ctx: mqsdk.Context, kind: str) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
    sock.reconnect_ivl = 10
    return sock


def _recv_body(sock: mqsdk.Socket) -> list[bytes]:
    """The next message that is not a filler (one never arrives whole; if the kernel
    ever delivered one, it would be skipped here rather than break the count)."""
    while True:
        frames = [bytes(f) for f in sock.recv_multipart()]
        if frames[-1] != FILLER:
            return frames


def chaos_round(client: mqsdk.Socket, server: mqsdk.Socket, kind: str, round_: int) -> None:
    """This round's messages (of several sizes, so partial I/O cuts them anywhere) each
    confirmed: received by the server and, for REQ and DEALER, echoed back."""
    messages = [b"r%d-m%d:" % (round_, i) + bytes(range(40 + 25 * i)) for i in range(5)]
    for message in messages:
        client.send(message)
        if kind == "REQ":  # strict alternation, one request in flight
            assert _recv_body(server) == [message]
            server.send(message)
            assert client.recv() == message, f"round {round_}: wrong reply"
    if kind == "PUSH":
        assert [_recv_body(server)[0] for _ in messages] == messages, f"round {round_}"
    elif kind == "DEALER":
        for message in messages:
            routing_id, body = _recv_body(server)
            assert body == message, f"round {round_}: {body[:12]!r}"
            server.send_multipart([routing_id, body])
        assert [client.recv() for _ in messages] == messages, f"round {round_}: echoes"


def _back_to_baseline(
    before: dict[str, str], threads: int, engines: int, *, after: str = "the resets"
) -> None:
    """fds, threads and live engines back to what they were before ``after``."""
    wait_for_fds(len(before), before)
    wait_until(
        lambda: threading.active_count() == threads,
        f"threads back to {threads}: {[t.name for t in threading.enumerate()]}",
    )
    # A full collection per look: poll slowly.
    deadline = time.monotonic() + WAIT
    while (alive := live_engines()) != engines:
        if time.monotonic() > deadline:
            pytest.fail(f"{alive} engines alive {WAIT} s after {after}, not {engines}")
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["PUSH", "REQ", "DEALER"])
def test_soak_over_resets_partial_io_and_delays(
    ctx: mqsdk.Context, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """chaos+tcp:// with cut reads and writes and delayed writes on both sides, and a
    reset after every 2 KiB on the connecting side: round after round the connection is
    reset mid-message, the client reconnects, and every message of the next round is
    confirmed (REQ relaxed and correlated: the request lost with its connection is never
    answered). The fds, threads (the delay writers) and engines return to the baseline."""
    _need_chaos(ctx)
    caplog.set_level(logging.INFO, logger="mqsdk")
    server = _chaos_socket(ctx, CHAOS_PEER[kind])
    server.bind(f"chaos+tcp://127.0.0.1:*?{SERVER_FAULTS}")
    client = _chaos_socket(ctx, kind)
    if kind == "REQ":
        client.req_relaxed = 1
        client.req_correlate = 1
    with recording_events(ctx) as events:
        client.connect(f"{server.last_endpoint.decode()}?{CLIENT_FAULTS}")
        events.wait(client, Event.HANDSHAKE_SUCCEEDED)
        chaos_round(client, server, kind, 0)
        # Both sockets' first waits open the pollers they keep for life: before the baseline.
        assert client.poll(1) == 0 and server.poll(1) == 0
        before, threads, engines = open_fds(), threading.active_count(), live_engines()
        for round_ in range(1, RESETS + 1):
            client.send(FILLER)  # crosses reset_after: the connection resets mid-message
            events.wait(client, Event.DISCONNECTED, count=round_)
            events.wait(client, Event.HANDSHAKE_SUCCEEDED, count=round_ + 1)
            chaos_round(client, server, kind, round_)
        _back_to_baseline(before, threads, engines)
        assert client.stats["reconnects"] >= RESETS, client.stats
        _no_failed_handshakes(events, client, server)
    client.close()
    server.close()
    assert not mqsdk_errors(caplog), mqsdk_errors(caplog)


def _no_failed_handshakes(events: EventLog, *sockets: mqsdk.Socket) -> None:
    for sock in sockets:
        names = events.names(sock)
        assert not [n for n in names if "FAILED" in n], names


def test_a_connection_reset_by_the_binding_side_is_reconnected(ctx: mqsdk.Context) -> None:
    """The binding side's faults: it resets each accepted connection after 1 KiB. The
    connecting PUSH sees the reset, reconnects (counted in its stats, announced by
    monitor events on both sides), and what it sends afterwards arrives."""
    _need_chaos(ctx)
    pull = _chaos_socket(ctx, "PULL")
    pull.bind("chaos+tcp://127.0.0.1:*?reset_after=1024&partial=1&seed=5")
    push = _chaos_socket(ctx, "PUSH")
    with recording_events(ctx) as events:
        push.connect(pull.last_endpoint.decode())
        push.send(b"before")
        assert pull.recv() == b"before"
        push.send(b"x" * 4096)  # the PULL's connection resets while reading it
        events.wait(push, Event.DISCONNECTED)
        events.wait(pull, Event.DISCONNECTED)
        events.wait(push, Event.HANDSHAKE_SUCCEEDED, count=2)
        events.wait(pull, Event.ACCEPTED, count=2)
        push.send(b"after")
        assert _recv_body(pull) == [b"after"], "the message after the reconnect is lost"
        assert push.stats["reconnects"] >= 1, push.stats
        _no_failed_handshakes(events, push, pull)
    push.close()
    pull.close()
