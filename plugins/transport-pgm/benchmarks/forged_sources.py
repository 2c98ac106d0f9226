"""What forged PGM sources cost one receiver: memory per source (tracemalloc), NAK
entries held, and the work of one ``next_deadline()`` call.

    python plugins/transport-pgm/benchmarks/forged_sources.py [--sources N] [--rxw N]

Each forged source is two ODATA packets from a new TSI, the second a receive window
ahead of the first: the cheapest way to make a receiver create NAK state.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
import tracemalloc

from mqsdk_transport_pgm.packets import ODATA, Packet
from mqsdk_transport_pgm.receiver import Receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--rxw", type=int, default=1000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one undecodable-data warning per forged source
    rx = Receiver(
        dport=5555,
        group="239.192.1.1",
        rxw_sqns=args.rxw,
        send=lambda _: None,
        rng=random.Random(1),
        stats={},
    )
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cpu = time.process_time()
    for n in range(args.sources):
        gsi = n.to_bytes(6, "big")
        for sqn in (0, args.rxw - 1):
            rx.on_packet(
                Packet(ODATA, 1000, 5555, gsi, sqn=sqn, trail=0, data=b"x"), "10.0.0.9", 0.0
            )
    cpu = time.process_time() - cpu
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    naks = sum(len(p.naks) for p in rx.peers.values())
    start = time.perf_counter()
    calls = 20
    for _ in range(calls):
        rx.next_deadline()
    per_call = (time.perf_counter() - start) / calls
    print(f"forged sources sent: {args.sources}, rxw: {args.rxw}")
    print(f"sources held: {len(rx.peers)}, NAK entries: {naks}")
    print(
        f"memory: {used / 1024:.0f} KiB total, "
        f"{used / args.sources / 1024:.1f} KiB per forged source"
    )
    print(
        f"CPU to take the packets: {cpu:.2f} s; next_deadline(): {per_call * 1e3:.3f} ms per call"
    )
    print(f"counters: { {k: v for k, v in rx.stats.items() if v} }")


if __name__ == "__main__":
    main()
