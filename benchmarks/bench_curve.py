"""CURVE throughput next to NULL: mqsdk PUSH -> PULL over tcp on loopback.

    python benchmarks/bench_curve.py [--count 20000] [--sizes 64,1024,65536]

Each line prints messages/s and MB/s for NULL and CURVE and CURVE's share of NULL's
rate. The sender and receiver are two threads of one process (one I/O thread), so on
CPython the numbers mostly measure per-message Python work plus, for CURVE, one
``crypto_box_afternm`` per frame each way (the shared key is precomputed once per
connection). Numbers are for comparison on one machine, not absolute. A compiled install
prints the table for each kernel (benchmarks/both_kernels.py).
"""

from __future__ import annotations

import argparse
import threading
import time

from both_kernels import kernel_line, then_pure

import mqsdk


def run(count: int, size: int, curve: bool) -> float:
    """Seconds to move ``count`` messages of ``size`` bytes."""
    ctx = mqsdk.Context()
    try:
        pull = ctx.socket(mqsdk.PULL)
        push = ctx.socket(mqsdk.PUSH)
        if curve:
            public, secret = mqsdk.curve_keypair()
            pull.curve_secretkey = secret
            pull.curve_server = 1
            push.curve_serverkey = public
            push.curve_publickey, push.curve_secretkey = mqsdk.curve_keypair()
        pull.rcvhwm = push.sndhwm = 10000
        pull.bind("tcp://127.0.0.1:*")
        push.connect(pull.last_endpoint.decode())
        push.send(b"warm-up")
        pull.recv()  # the handshake is done before the clock starts
        payload = b"x" * size

        def send() -> None:
            for _ in range(count):
                push.send(payload)

        sender = threading.Thread(target=send)
        start = time.perf_counter()
        sender.start()
        for _ in range(count):
            pull.recv()
        elapsed = time.perf_counter() - start
        sender.join()
        return elapsed
    finally:
        ctx.destroy(linger=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--sizes", default="64,1024,65536")
    args = parser.parse_args()
    columns = ("NULL msg/s", "NULL MB/s", "CURVE msg/s", "CURVE MB/s", "CURVE/NULL")
    print(kernel_line())
    print(f"{'size':>7} " + " ".join(f"{name:>11}" for name in columns))
    for size in (int(s) for s in args.sizes.split(",")):
        count = max(200, args.count if size <= 4096 else args.count // 10)
        null = run(count, size, curve=False)
        curve = run(count, size, curve=True)
        print(
            f"{size:>7} {count / null:>11,.0f} {count * size / null / 1e6:>11.1f} "
            f"{count / curve:>11,.0f} {count * size / curve / 1e6:>11.1f} {null / curve:>11.2f}"
        )
    then_pure(__file__)


if __name__ == "__main__":
    main()
