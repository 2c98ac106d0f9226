"""Run inside a fresh network namespace by test_udp_multicast.py; prints what each DISH
received as JSON.

``lo``: one RADIO, two DISHes on 239.192.7.1 over the namespace's loopback.
``veth``: a veth pair v0-v1 (a wire inside the namespace): IPv6 multicast, and
``multicast_loop=0`` (the copy leaves on v0 and arrives on v1, none loops back to v0).
"""

from __future__ import annotations

import json
import socket
import sys

import mqsdk

GROUP_ADDRESS = "239.192.7.1:5555"


def main() -> None:
    ctx = mqsdk.Context()
    try:
        first = ctx.socket(mqsdk.DISH)
        second = ctx.socket(mqsdk.DISH)
        for dish in (first, second):
            dish.linger = 0
            dish.rcvtimeo = 10000
        first.bind(f"udp://lo;{GROUP_ADDRESS}")  # interface by name
        second.bind(f"udp://*;{GROUP_ADDRESS}")  # any interface
        first.join("a")
        second.join("a")
        second.join("b")
        radio = ctx.socket(mqsdk.RADIO)
        radio.linger = 0
        radio.multicast_hops = 2
        radio.connect(f"udp://127.0.0.1;{GROUP_ADDRESS}")  # interface by address
        (pipe,) = radio._pipes
        udp = pipe.sock  # type: ignore[attr-defined]
        for group, body in [("a", b"a1"), ("b", b"b1"), ("c", b"c1"), ("a", b"end"), ("b", b"end")]:
            radio.send(body, group=group)
        report = {
            "endpoints": [first.last_endpoint.decode(), second.last_endpoint.decode()],
            "ttl": udp.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL),
            "loop": udp.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP),
        }
        for name, dish, ends in (("first", first, 1), ("second", second, 2)):
            got = []
            while sum(body == "end" for _, body in got) < ends:
                frame = dish.recv(copy=False)
                got.append((frame.group, frame.bytes.decode()))
            report[name] = got
        print(json.dumps(report))
    finally:
        ctx.term()


def veth() -> None:
    ctx = mqsdk.Context()
    try:
        six, four = ctx.socket(mqsdk.DISH), ctx.socket(mqsdk.DISH)
        for dish, endpoint in (
            (six, "udp://v0;[ff12::7]:5555"),
            (four, "udp://v0;239.192.7.2:5556"),
        ):
            dish.linger = 0
            dish.rcvtimeo = 10000
            dish.bind(endpoint)
            dish.join("g")
        report: dict[str, object] = {}
        radio = ctx.socket(mqsdk.RADIO)
        radio.connect("udp://v0;[ff12::7]:5555")
        radio.send(b"over IPv6", group="g")
        report["v6"] = six.recv().decode()  # the copy looped back on v0
        # Only v0 joined the IPv4 group, so a DISH there gets looped copies only (v1,
        # where the copies on the wire arrive, did not join and drops them).
        quiet = ctx.socket(mqsdk.RADIO)
        quiet.multicast_loop = 0
        quiet.connect("udp://v0;239.192.7.2:5556")
        loud = ctx.socket(mqsdk.RADIO)
        loud.connect("udp://v0;239.192.7.2:5556")
        quiet.send(b"not looped", group="g")
        loud.send(b"looped", group="g")
        # A looped copy is queued when sendto returns, so "not looped" would come first.
        report["v4"] = four.recv().decode()
        report["quiet_sent"] = quiet.stats["msgs_out"]
        print(json.dumps(report))
    finally:
        ctx.term()


if __name__ == "__main__":
    veth() if sys.argv[1:] == ["veth"] else main()
