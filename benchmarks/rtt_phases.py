"""Where a REQ/REP round trip's time goes on the mqsdk side.

An mqsdk REP serves a pyzmq REQ in another process; the REP's poller, the connection's
``send``/``recv_into`` and the user's ``recv``/``send`` calls are stamped, and the time
between consecutive stamps is summarised: how long the REP waits in its poller, how long
the syscalls take, and how much Python runs between them.

    python benchmarks/rtt_phases.py [--transport tcp|ipc] [--count 20000]

Each stamp costs well under a microsecond; the phases, not their sum, are the point.
The stamps wrap the connection's socket object, which the compiled kernel does not
allow: on a compiled install the script runs itself with ``MQSDK_PURE_PYTHON=1``.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import mqsdk_poller_epoll
from both_kernels import kernel_line

import mqsdk
from mqsdk.cli.bench import worker_environment

stamp = time.perf_counter_ns
marks: list[tuple[str, int]] = []

_plain_poll = mqsdk_poller_epoll.EpollPoller.poll


def _stamped_poll(self: Any, timeout: float | None) -> list[tuple[int, int]]:
    if threading.current_thread() is not threading.main_thread():
        return _plain_poll(self, timeout)  # the I/O thread
    marks.append(("poll in", stamp()))
    ready = _plain_poll(self, timeout)
    marks.append(("poll out", stamp()))
    return ready


class _StampedSocket:
    """The engine's OS socket, with its data syscalls stamped."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def send(self, data: Any) -> int:
        marks.append(("send in", stamp()))
        sent: int = self._sock.send(data)
        marks.append(("send out", stamp()))
        return sent

    def recv_into(self, buffer: Any, *args: Any) -> int:
        marks.append(("recv_into in", stamp()))
        try:
            received: int = self._sock.recv_into(buffer, *args)
            return received
        finally:
            marks.append(("recv_into out", stamp()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


_CLIENT = """
import sys, time, zmq
ctx = zmq.Context(); req = ctx.socket(zmq.REQ); req.connect(sys.argv[1]); n = int(sys.argv[2])
samples = []
for _ in range(n + 1000):
    t0 = time.perf_counter_ns(); req.send(b"x" * 16); req.recv()
    samples.append(time.perf_counter_ns() - t0)
samples = sorted(samples[1000:])
print(f"pyzmq REQ's round trip p50: {samples[len(samples) // 2] / 1000:.1f} us")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", choices=["tcp", "ipc"], default="tcp")
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    if mqsdk.kernel_info().compiled:  # engine.sock is typed: no wrapper in compiled code
        print("compiled kernel: stamping needs the pure one, running on it", flush=True)
        command = [sys.executable, __file__, *sys.argv[1:]]
        pure = worker_environment("mqsdk-pure")
        sys.exit(subprocess.run(command, env=pure, check=False).returncode)
    print(kernel_line())
    mqsdk_poller_epoll.EpollPoller.poll = _stamped_poll  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp, mqsdk.Context() as ctx:
        rep = ctx.socket(mqsdk.REP)
        rep.bind("tcp://127.0.0.1:*" if args.transport == "tcp" else f"ipc://{tmp}/rtt")
        endpoint = rep.last_endpoint.decode()
        client = subprocess.Popen([sys.executable, "-c", _CLIENT, endpoint, str(args.count)])
        for _ in range(1000):  # warm up, and let the connection come up
            rep.send(rep.recv())
        for engine in list(rep._engines.values()):
            engine.sock = _StampedSocket(engine.sock)
        marks.clear()
        for _ in range(args.count):
            message = rep.recv()
            marks.append(("user has request", stamp()))
            rep.send(message)
            marks.append(("user sent reply", stamp()))
        client.wait()
        rep.close(linger=0)
    phases: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for (before, t0), (after, t1) in itertools.pairwise(marks):
        phases[(before, after)].append(t1 - t0)
    print(f"mqsdk REP, {args.transport}, {args.count} requests; per phase (from -> to):")
    for (before, after), values in sorted(phases.items(), key=lambda kv: -sum(kv[1])):
        if len(values) < args.count // 10:
            continue  # a rare path (a timer, the last request)
        values.sort()
        print(
            f"  {before:>16} -> {after:<16} x{len(values) / args.count:4.2f}"
            f"  p50 {values[len(values) // 2] / 1000:7.1f} us"
            f"  mean {sum(values) / len(values) / 1000:7.1f} us"
        )


if __name__ == "__main__":
    main()
