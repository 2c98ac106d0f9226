"""One side of one benchmark measurement, run as its own process by :mod:`mqsdk.cli.bench`.

Run as a script (``python worker.py '<json>'``), not as ``-m mqsdk.cli.bench.worker``, so a
pyzmq or raw-socket side never imports mqsdk. It talks to the parent through JSON lines:
it prints ``{"ready": endpoint}`` once bound (or ``{"synced": true}`` once a subscriber has
its first message) and ``{"result": {...}}`` at the end; it reads ``go`` or end-of-file on
stdin where the parent must say when to start or stop.

Every library is driven by the same code where it can be: mqsdk and pyzmq share the
pyzmq-shaped API, and both mqsdk kernels run the same code ("mqsdk-pure" is "mqsdk"
started with ``MQSDK_PURE_PYTHON=1``; an mqsdk worker first prints ``{"kernel": ...}``,
with the poller backend its contexts run).
The raw baseline is what a careful programmer writes with the socket module: 4-byte
length prefix, writes batched up to 64 KiB, scatter/gather for big frames, reads into
one reused buffer.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct("!I")
_BATCH = 65536
_READ = 262144
_DIRECT = 65536  # frames this big are received into a buffer of their own

# Message kinds for PUB/SUB: the first byte says what it is.
_WARMUP, _DATA, _END = b"\x00", b"\x01", b"\x02"


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def wait_parent() -> str:
    """Block until the parent writes a line or closes our stdin."""
    return sys.stdin.readline().strip()


def go_event() -> threading.Event:
    """An event set when the parent writes a line (or goes away)."""
    go = threading.Event()

    def watch() -> None:
        wait_parent()
        go.set()

    threading.Thread(target=watch, daemon=True).start()
    return go


def lib_module(lib: str, asyncio_api: bool = False) -> Any:
    if lib == "pyzmq":
        return importlib.import_module("zmq.asyncio" if asyncio_api else "zmq")
    return importlib.import_module("mqsdk.asyncio" if asyncio_api else "mqsdk")


def consts(lib: str) -> Any:
    return importlib.import_module("zmq" if lib == "pyzmq" else "mqsdk")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def latency_stats(samples_ns: list[int]) -> dict[str, float]:
    samples_ns.sort()
    n = len(samples_ns)
    return {
        "mean_us": sum(samples_ns) / n / 1000,
        "p50_us": samples_ns[n // 2] / 1000,
        "p99_us": samples_ns[min(n - 1, (n * 99) // 100)] / 1000,
        "count": n,
    }


# -- raw sockets --------------------------------------------------------------------------


def raw_address(endpoint: str) -> tuple[int, Any]:
    scheme, _, rest = endpoint.partition("://")
    if scheme == "ipc":
        return socket.AF_UNIX, rest
    host, _, port = rest.rpartition(":")
    return socket.AF_INET, (host, int(port) if port != "*" else 0)


def raw_listen(endpoint: str) -> tuple[socket.socket, str]:
    family, address = raw_address(endpoint)
    if family == socket.AF_UNIX and os.path.exists(address):
        os.unlink(address)
    server = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(address)
    server.listen(16)
    if family == socket.AF_INET:
        host, port = server.getsockname()
        return server, f"tcp://{host}:{port}"
    return server, endpoint


def raw_tune(sock: socket.socket) -> None:
    if sock.family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def raw_accept(server: socket.socket) -> socket.socket:
    conn, _ = server.accept()
    raw_tune(conn)
    return conn


def raw_connect(endpoint: str) -> socket.socket:
    family, address = raw_address(endpoint)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.connect(address)
    raw_tune(sock)
    return sock


def raw_send_one(sock: socket.socket, payload: bytes) -> None:
    """One framed message: one write for small ones, scatter/gather for big ones."""
    if len(payload) < 16384:
        sock.sendall(_HEADER.pack(len(payload)) + payload)
        return
    header = _HEADER.pack(len(payload))
    sent = sock.sendmsg([header, payload])
    if sent < len(header) + len(payload):
        rest = (header + payload)[sent:] if sent < len(header) else payload[sent - len(header) :]
        sock.sendall(rest)


class RawSender:
    """Appends framed messages to a batch and writes it when it reaches 64 KiB."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parts: list[bytes] = []
        self.size = 0

    def send(self, payload: bytes) -> None:
        if len(payload) >= 16384:
            self.flush()
            raw_send_one(self.sock, payload)
            return
        self.parts.append(_HEADER.pack(len(payload)))
        self.parts.append(payload)
        self.size += len(payload) + 4
        if self.size >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.sock.sendall(b"".join(self.parts))
            self.parts.clear()
            self.size = 0


class RawReceiver:
    """Reads into one reused buffer and cuts whole frames out of it as bytes."""

    def __init__(self, sock: socket.socket, size: int) -> None:
        self.sock = sock
        self.buf = bytearray(max(_READ, 2 * (size + 4)))
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.pending: list[bytes] = []

    def read(self, out: list[Any]) -> None:
        """Read once (blocking) and append every complete message to ``out``."""
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            live = self.end - self.start
            self.view[:live] = self.view[self.start : self.end]
            self.start, self.end = 0, live
        n = self.sock.recv_into(self.view[self.end :])
        if n == 0:
            raise EOFError("peer closed")
        self.end += n
        buf, start, end = self.buf, self.start, self.end
        unpack = _HEADER.unpack_from
        append = out.append
        view = self.view
        while end - start >= 4:
            (length,) = unpack(buf, start)
            if end - start - 4 < length:
                if length >= _DIRECT:
                    # A big frame: receive the rest straight into its own buffer.
                    append(self._read_direct(length, view[start + 4 : end]))
                    start = end
                break
            append(bytes(view[start + 4 : start + 4 + length]))
            start += 4 + length
        self.start = start

    def _read_direct(self, length: int, have: memoryview) -> bytearray:
        body = bytearray(length)
        body[: len(have)] = have
        target = memoryview(body)
        pos = len(have)
        while pos < length:
            n = self.sock.recv_into(target[pos:])
            if n == 0:
                raise EOFError("peer closed")
            pos += n
        return body

    def recv(self) -> bytes:
        """One message; what else the same read brought waits for the next call."""
        pending = self.pending
        while not pending:
            self.read(pending)
            pending.reverse()
        return pending.pop()


# -- throughput ---------------------------------------------------------------------------


def thr_recv(lib: str, endpoint: str, size: int, count: int) -> None:
    if lib == "raw":
        server, bound = raw_listen(endpoint)
        emit(ready=bound)
        conn = raw_accept(server)
        receiver = RawReceiver(conn, size)
        out: list[bytes] = []
        receiver.read(out)
        start = time.perf_counter()
        cpu = time.process_time()
        first = got = len(out)
        while got < count:
            out.clear()
            receiver.read(out)
            got += len(out)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        timed = count - first
        conn.close()
        server.close()
    else:
        ctx, sock = bound_socket(lib, "PULL", endpoint)
        timed = 0
        recv = sock.recv
        recv()
        start = time.perf_counter()
        cpu = time.process_time()
        for _ in range(count - 1):
            recv()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        sock.close(linger=0)
        ctx.term()
    result = thr_result(count, size, elapsed, timed)
    result["cpu_ns"] = cpu * 1e9 / (timed or count - 1)
    emit(result=result)


def thr_result(count: int, size: int, elapsed: float, timed: int = 0) -> dict[str, float]:
    """``timed`` messages (default all but the first) arrived in ``elapsed`` seconds."""
    rate = (timed or count - 1) / elapsed if elapsed > 0 else 0.0
    return {"rate": rate, "mb_s": rate * size / 1e6, "elapsed": elapsed, "count": count}


def thr_send(lib: str, endpoint: str, size: int, count: int) -> None:
    payload = os.urandom(size)
    if lib == "raw":
        sock = raw_connect(endpoint)
        sender = RawSender(sock)
        cpu = time.process_time()
        for _ in range(count):
            sender.send(payload)
        sender.flush()
        cpu = time.process_time() - cpu
        wait_parent()
        sock.close()
    else:
        m = lib_module(lib)
        ctx = m.Context()
        s = ctx.socket(m.PUSH)
        s.connect(endpoint)
        send = s.send
        cpu = time.process_time()
        for _ in range(count):
            send(payload)
        cpu = time.process_time() - cpu
        wait_parent()
        s.close(linger=0)
        ctx.term()
    # CPU time of the whole process (every thread) per message: steadier than rates on
    # a loaded machine, and what batching saves.
    emit(result={"cpu_ns": cpu * 1e9 / count})


def bound_socket(lib: str, kind: str, endpoint: str, **options: int) -> tuple[Any, Any]:
    """A context and a socket of ``kind`` bound to ``endpoint``; tells the parent where."""
    m = lib_module(lib)
    ctx = m.Context()
    sock = ctx.socket(getattr(m, kind))
    for name, value in options.items():
        sock.set(getattr(m, name), value)
    sock.bind(endpoint)
    emit(ready=sock.last_endpoint.decode())
    return ctx, sock


def inproc_sockets(lib: str, bound: str, connected: str) -> tuple[Any, Any, Any]:
    """A context and two of its sockets joined over inproc: (ctx, bound, connected)."""
    m = lib_module(lib)
    ctx = m.Context()
    a = ctx.socket(getattr(m, bound))
    a.bind(f"inproc://bench-{bound}")
    b = ctx.socket(getattr(m, connected))
    b.connect(f"inproc://bench-{bound}")
    return ctx, a, b


def inproc_thr(lib: str, size: int, count: int) -> None:
    payload = os.urandom(size)
    if lib == "raw":
        a, b = socket.socketpair()

        def raw_sender() -> None:
            sender = RawSender(a)
            for _ in range(count):
                sender.send(payload)
            sender.flush()

        t = threading.Thread(target=raw_sender)
        receiver = RawReceiver(b, size)
        out: list[bytes] = []
        start = time.perf_counter()
        t.start()
        got = 0
        while got < count:
            out.clear()
            receiver.read(out)
            got += len(out)
        elapsed = time.perf_counter() - start
        timed = count
        t.join()
        a.close()
        b.close()
    else:
        timed = count
        ctx, pull, push = inproc_sockets(lib, "PULL", "PUSH")

        def zmq_sender() -> None:
            send = push.send
            for _ in range(count):
                send(payload)

        t = threading.Thread(target=zmq_sender)
        recv = pull.recv
        start = time.perf_counter()
        t.start()
        for _ in range(count):
            recv()
        elapsed = time.perf_counter() - start
        t.join()
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()
    emit(result=thr_result(count, size, elapsed, timed))


# -- latency ------------------------------------------------------------------------------


def lat_server(lib: str, endpoint: str, size: int, count: int) -> None:
    if lib == "raw":
        server, bound = raw_listen(endpoint)
        emit(ready=bound)
        conn = raw_accept(server)
        receiver = RawReceiver(conn, size)
        try:
            while True:
                raw_send_one(conn, receiver.recv())
        except (EOFError, ConnectionError):
            pass
        conn.close()
        server.close()
    else:
        ctx, rep = bound_socket(lib, "REP", endpoint)
        for _ in range(count + warmup_for(count)):
            rep.send(rep.recv())
        wait_parent()
        rep.close(linger=0)
        ctx.term()
    emit(result={})


def warmup_for(count: int) -> int:
    return max(10, min(1000, count // 10))


def lat_client(lib: str, endpoint: str, size: int, count: int) -> None:
    payload = os.urandom(size)
    samples: list[int] = []
    clock = time.perf_counter_ns
    warm = warmup_for(count)
    if lib == "raw":
        sock = raw_connect(endpoint)
        receiver = RawReceiver(sock, size)
        for i in range(warm + count):
            t0 = clock()
            raw_send_one(sock, payload)
            receiver.recv()
            if i >= warm:
                samples.append(clock() - t0)
        sock.close()
    else:
        m = lib_module(lib)
        ctx = m.Context()
        req = ctx.socket(m.REQ)
        req.connect(endpoint)
        for i in range(warm + count):
            t0 = clock()
            req.send(payload)
            req.recv()
            if i >= warm:
                samples.append(clock() - t0)
        req.close(linger=0)
        ctx.term()
    emit(result=latency_stats(samples))


def inproc_lat(lib: str, size: int, count: int) -> None:
    payload = os.urandom(size)
    samples: list[int] = []
    clock = time.perf_counter_ns
    warm = warmup_for(count)
    total = warm + count
    if lib == "raw":
        a, b = socket.socketpair()

        def raw_echo() -> None:
            receiver = RawReceiver(b, size)
            for _ in range(total):
                raw_send_one(b, receiver.recv())

        t = threading.Thread(target=raw_echo)
        t.start()
        receiver = RawReceiver(a, size)
        for i in range(total):
            t0 = clock()
            raw_send_one(a, payload)
            receiver.recv()
            if i >= warm:
                samples.append(clock() - t0)
        t.join()
        a.close()
        b.close()
    else:
        ctx, rep, req = inproc_sockets(lib, "REP", "REQ")

        def zmq_echo() -> None:
            for _ in range(total):
                rep.send(rep.recv())

        t = threading.Thread(target=zmq_echo)
        t.start()
        for i in range(total):
            t0 = clock()
            req.send(payload)
            req.recv()
            if i >= warm:
                samples.append(clock() - t0)
        t.join()
        req.close(linger=0)
        rep.close(linger=0)
        ctx.term()
    emit(result=latency_stats(samples))


# -- PUB fan-out --------------------------------------------------------------------------


def pub_send(lib: str, endpoint: str, size: int, count: int) -> None:
    """Publish warm-up messages until the parent says ``go`` (every subscriber got one),
    then ``count`` data messages and a few end markers."""
    go = go_event()
    data = _DATA + os.urandom(max(0, size - 1))
    if lib == "raw":
        server, bound = raw_listen(endpoint)
        emit(ready=bound)
        conns: list[socket.socket] = []
        server.settimeout(0.001)

        def publish(payload: bytes) -> None:
            for conn in conns:
                raw_send_one(conn, payload)

        while not go.is_set():
            try:
                conns.append(raw_accept(server))
                conns[-1].setblocking(True)
            except TimeoutError:
                pass
            publish(_WARMUP)
        senders = [RawSender(c) for c in conns]
        for _ in range(count):
            for sender in senders:
                sender.send(data)
        for sender in senders:
            sender.send(_END)
            sender.flush()
        wait_parent()
        for conn in conns:
            conn.close()
        server.close()
    else:
        ctx, pub = bound_socket(lib, "PUB", endpoint, SNDHWM=0)
        while not go.wait(0.001):
            pub.send(_WARMUP)
        send = pub.send
        for _ in range(count):
            send(data)
        for _ in range(3):
            send(_END)
        wait_parent()
        pub.close(linger=0)
        ctx.term()
    emit(result={})


def sub_recv(lib: str, endpoint: str, size: int, count: int) -> None:
    if lib == "raw":
        sock = raw_connect(endpoint)
        receiver = RawReceiver(sock, size)
        recv: Callable[[], bytes] = receiver.recv
    else:
        m = lib_module(lib)
        ctx = m.Context()
        sub = ctx.socket(m.SUB)
        sub.set(m.RCVHWM, 0)
        sub.subscribe(b"")
        sub.connect(endpoint)
        recv = sub.recv
    message = recv()
    emit(synced=True)
    while message[:1] == _WARMUP:
        message = recv()
    start = time.monotonic()
    got = 0
    while message[:1] == _DATA:
        got += 1
        message = recv()
    end = time.monotonic()
    emit(result={"first": start, "last": end, "received": got})
    wait_parent()
    if lib == "raw":
        sock.close()
    else:
        sub.close(linger=0)
        ctx.term()


# -- asyncio API --------------------------------------------------------------------------


async def _raw_async_reader(reader: asyncio.StreamReader, count: int) -> float:
    """Receive ``count`` framed messages; seconds from the first to the last."""
    buf = b""
    got = 0
    start = 0.0
    unpack = _HEADER.unpack_from
    while got < count:
        chunk = await reader.read(_READ)
        if not chunk:
            raise EOFError("peer closed")
        buf = buf + chunk if buf else chunk
        pos = 0
        while len(buf) - pos >= 4:
            (length,) = unpack(buf, pos)
            if len(buf) - pos - 4 < length:
                break
            _ = buf[pos + 4 : pos + 4 + length]
            pos += 4 + length
            if got == 0:
                start = time.perf_counter()
            got += 1
        buf = buf[pos:]
    return time.perf_counter() - start


async def _raw_async_read_one(reader: asyncio.StreamReader) -> bytes:
    (length,) = _HEADER.unpack(await reader.readexactly(4))
    return await reader.readexactly(length)


async def _async_thr_recv(lib: str, endpoint: str, size: int, count: int) -> dict[str, float]:
    if lib == "raw":
        _family, address = raw_address(endpoint)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            done.set_result(await _raw_async_reader(reader, count))
            writer.close()

        server = await asyncio.start_server(handle, *address)
        emit(ready=f"tcp://{address[0]}:{server.sockets[0].getsockname()[1]}")
        elapsed = await done
        server.close()
        return thr_result(count, size, elapsed)
    m, c = lib_module(lib, asyncio_api=True), consts(lib)
    ctx = m.Context()
    sock = ctx.socket(c.PULL)
    sock.bind(endpoint)
    emit(ready=sock.last_endpoint.decode())
    await sock.recv()
    start = time.perf_counter()
    for _ in range(count - 1):
        await sock.recv()
    elapsed = time.perf_counter() - start
    sock.close(linger=0)
    ctx.term()
    return thr_result(count, size, elapsed)


async def _async_thr_send(lib: str, endpoint: str, size: int, count: int) -> None:
    payload = os.urandom(size)
    loop = asyncio.get_running_loop()
    parent = loop.run_in_executor(None, wait_parent)
    if lib == "raw":
        _, (host, port) = raw_address(endpoint)
        _reader, writer = await asyncio.open_connection(host, port)
        header = _HEADER.pack(size)
        for i in range(count):
            writer.write(header + payload)
            if i % 256 == 255:
                await writer.drain()
        await writer.drain()
        await parent
        writer.close()
        return
    m, c = lib_module(lib, asyncio_api=True), consts(lib)
    ctx = m.Context()
    sock = ctx.socket(c.PUSH)
    sock.connect(endpoint)
    for _ in range(count):
        await sock.send(payload)
    await parent
    sock.close(linger=0)
    ctx.term()


async def _async_lat_server(lib: str, endpoint: str, size: int, count: int) -> None:
    loop = asyncio.get_running_loop()
    if lib == "raw":
        _family, address = raw_address(endpoint)
        finished: asyncio.Future[None] = loop.create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    message = await _raw_async_read_one(reader)
                    writer.write(_HEADER.pack(len(message)) + message)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()
            finished.set_result(None)

        server = await asyncio.start_server(handle, *address)
        emit(ready=f"tcp://{address[0]}:{server.sockets[0].getsockname()[1]}")
        await finished
        server.close()
        return
    m, c = lib_module(lib, asyncio_api=True), consts(lib)
    ctx = m.Context()
    rep = ctx.socket(c.REP)
    rep.bind(endpoint)
    emit(ready=rep.last_endpoint.decode())
    for _ in range(count):
        await rep.send(await rep.recv())
    await loop.run_in_executor(None, wait_parent)
    rep.close(linger=0)
    ctx.term()


async def _async_lat_client(lib: str, endpoint: str, size: int, count: int) -> dict[str, float]:
    payload = os.urandom(size)
    samples: list[int] = []
    clock = time.perf_counter_ns
    warm = warmup_for(count)
    if lib == "raw":
        _, (host, port) = raw_address(endpoint)
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        framed = _HEADER.pack(size) + payload
        for i in range(warm + count):
            t0 = clock()
            writer.write(framed)
            await _raw_async_read_one(reader)
            if i >= warm:
                samples.append(clock() - t0)
        writer.close()
        return latency_stats(samples)
    m, c = lib_module(lib, asyncio_api=True), consts(lib)
    ctx = m.Context()
    req = ctx.socket(c.REQ)
    req.connect(endpoint)
    for i in range(warm + count):
        t0 = clock()
        await req.send(payload)
        await req.recv()
        if i >= warm:
            samples.append(clock() - t0)
    req.close(linger=0)
    ctx.term()
    return latency_stats(samples)


def async_thr_recv(lib: str, endpoint: str, size: int, count: int) -> None:
    emit(result=asyncio.run(_async_thr_recv(lib, endpoint, size, count)))


def async_thr_send(lib: str, endpoint: str, size: int, count: int) -> None:
    asyncio.run(_async_thr_send(lib, endpoint, size, count))
    emit(result={})


def async_lat_server(lib: str, endpoint: str, size: int, count: int) -> None:
    asyncio.run(_async_lat_server(lib, endpoint, size, count + warmup_for(count)))
    emit(result={})


def async_lat_client(lib: str, endpoint: str, size: int, count: int) -> None:
    emit(result=asyncio.run(_async_lat_client(lib, endpoint, size, count)))


# -- memory: PUB to a stalled SUB ---------------------------------------------------------


def stalled_pub(lib: str, endpoint: str, size: int, count: int, hwm: int) -> None:
    """Publish ``count`` messages to a subscriber that reads nothing; report RSS growth."""
    go = go_event()
    ctx, pub = bound_socket(lib, "PUB", endpoint, SNDHWM=hwm)
    while not go.wait(0.001):
        pub.send(_WARMUP)
    payload = os.urandom(size)
    gc.collect()
    before = rss_bytes()
    for _ in range(count):
        pub.send(payload)
    time.sleep(0.5)  # let the I/O thread move what it can into the kernel
    gc.collect()
    after = rss_bytes()
    emit(result={"growth": after - before, "rss": after})
    wait_parent()
    pub.close(linger=0)
    ctx.term()


def stalled_sub(lib: str, endpoint: str, size: int, count: int, hwm: int) -> None:
    m = lib_module(lib)
    ctx = m.Context()
    sub = ctx.socket(m.SUB)
    sub.set(m.RCVHWM, hwm)
    sub.subscribe(b"")
    sub.connect(endpoint)
    sub.recv()
    gc.collect()
    before = rss_bytes()
    emit(synced=True)
    wait_parent()  # the publisher has finished: now see what we hold, without reading
    gc.collect()
    after = rss_bytes()
    emit(result={"growth": after - before, "rss": after})
    wait_parent()
    sub.close(linger=0)
    ctx.term()


ROLES: dict[str, Callable[..., None]] = {
    "thr_recv": thr_recv,
    "thr_send": thr_send,
    "inproc_thr": inproc_thr,
    "lat_server": lat_server,
    "lat_client": lat_client,
    "inproc_lat": inproc_lat,
    "pub_send": pub_send,
    "sub_recv": sub_recv,
    "async_thr_recv": async_thr_recv,
    "async_thr_send": async_thr_send,
    "async_lat_server": async_lat_server,
    "async_lat_client": async_lat_client,
    "stalled_pub": stalled_pub,
    "stalled_sub": stalled_sub,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    role = spec.pop("role")
    if spec.get("lib") in ("mqsdk", "mqsdk-pure"):
        # One code path for both kernels: the parent chose this one through the
        # environment (MQSDK_PURE_PYTHON); the first line says which one loaded.
        spec["lib"] = "mqsdk"
        import mqsdk

        info = mqsdk.kernel_info()
        emit(kernel={"compiled": info.compiled, "detail": info.detail, "poller": poller_used()})
    ROLES[role](**spec)


def poller_used() -> dict[str, str]:
    """The poller backend this process's contexts run (the configuration, MQSDK_POLLER
    included, chooses it once per process): the parent checks it is the one it asked for.
    A poller that cannot run here ends the worker with the plugin's reason on stderr."""
    import mqsdk

    try:
        ctx = mqsdk.Context()
    except mqsdk.MQError as exc:
        sys.stderr.write(f"mqsdk worker: {exc}\n")
        sys.exit(2)
    cls = ctx.poller_class
    ctx.term()
    return {"name": cls.name, "class": f"{cls.__module__}.{cls.__qualname__}"}


if __name__ == "__main__":
    main()
