"""Measure what hostile or short-lived peers cost an mqsdk PULL server (issue 14, items 3-4).

Run from the repository root::

    python -m tests.badinput.measure_memory huge --connections 20 --declared 2**40
    python -m tests.badinput.measure_memory huge --connections 20 --after-ready
    python -m tests.badinput.measure_memory churn --connections 2000
    python -m tests.badinput.measure_memory idle --connections 2000

``huge``: N raw TCP peers each send a greeting (and, with ``--after-ready``, a valid
NULL READY), then a frame header declaring ``--declared`` bytes and a few body bytes,
and stay connected. Prints the server process's RSS growth, the sum of its decoders'
``allocated`` bytes, and how many of the peers were dropped.

``churn``: N raw peers handshake (NULL) and close, one after the other. Prints how many
engines are still alive 1 s after the last close (after ``gc.collect()``).

``idle``: N raw peers connect and send nothing (each holds an engine until
``handshake_ivl``). Prints the RSS growth.

Server and peers share this process (the peers are plain blocking sockets, a few KiB
each), so RSS growth is the server's, give or take the peers' socket objects.
"""

from __future__ import annotations

import argparse
import gc
import socket
import struct
import time

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from tests.badinput import rawzmtp as raw


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # pragma: no cover - not Linux


def engines() -> list[StreamEngine]:
    return [o for o in gc.get_objects() if isinstance(o, StreamEngine)]


def huge(connections: int, declared: int, after_ready: bool, settle: float) -> None:
    ctx = mqsdk.Context()
    pull = ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    host, port = pull.last_endpoint.decode().removeprefix("tcp://").rsplit(":", 1)
    gc.collect()
    before = rss_kib()
    header = b"\x02" + struct.pack(">Q", declared) + b"abc"
    peers = []
    for _ in range(connections):
        peer = socket.create_connection((host, int(port)), timeout=5)
        if after_ready:
            raw.handshake_as(peer, b"PUSH")
            peer.sendall(header)
        else:
            raw.send_quietly(peer, raw.greeting() + header)
        peers.append(peer)
    # Let the I/O thread read what the peers sent (and drop the ones it refuses).
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        time.sleep(0.05)
    live = [e for e in engines() if not e.dead]
    allocated = sum(e.decoder.allocated for e in live)
    after = rss_kib()
    dropped = 0
    for peer in peers:
        if not raw.connection_open_after(peer, 0.01):
            dropped += 1
    print(
        f"huge: {connections} connections declaring {declared} bytes "
        f"({'after' if after_ready else 'before'} READY): RSS +{(after - before) / 1024:.1f} MiB, "
        f"decoders allocated {allocated / 2**20:.2f} MiB in {len(live)} live engines, "
        f"{dropped} dropped"
    )
    for peer in peers:
        peer.close()
    pull.close()
    ctx.term()


def churn(connections: int) -> None:
    ctx = mqsdk.Context()
    pull = ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    host, port = pull.last_endpoint.decode().removeprefix("tcp://").rsplit(":", 1)
    gc.collect()
    baseline = len(engines())
    for _ in range(connections):
        with socket.create_connection((host, int(port)), timeout=5) as peer:
            raw.handshake_as(peer, b"PUSH")
    time.sleep(1.0)
    gc.collect()
    alive = len(engines()) - baseline
    print(f"churn: {connections} connections handshaked and closed: {alive} engines alive 1 s on")
    pull.close()
    ctx.term()


def idle(connections: int, settle: float) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * connections + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * connections + 100), hard))
    ctx = mqsdk.Context()
    pull = ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    host, port = pull.last_endpoint.decode().removeprefix("tcp://").rsplit(":", 1)
    gc.collect()
    before = rss_kib()
    peers = [socket.create_connection((host, int(port)), timeout=5) for _ in range(connections)]
    time.sleep(settle)
    after = rss_kib()
    live = len([e for e in engines() if not e.dead])
    print(
        f"idle: {connections} silent connections ({live} engines): "
        f"RSS +{(after - before) / 1024:.1f} MiB"
    )
    for peer in peers:
        peer.close()
    pull.close()
    ctx.term()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["huge", "churn", "idle"])
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--declared", default="2**40", help="declared frame size (an expression)")
    parser.add_argument("--after-ready", action="store_true", help="complete a NULL handshake")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before measuring")
    args = parser.parse_args()
    if args.what == "huge":
        base, _, exponent = args.declared.partition("**")
        declared = int(base) ** int(exponent) if exponent else int(base)
        huge(args.connections, declared, args.after_ready, args.settle)
    elif args.what == "churn":
        churn(args.connections)
    else:
        idle(args.connections, args.settle)


if __name__ == "__main__":
    main()
