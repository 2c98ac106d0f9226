"""Run inside a fresh network namespace by test_udp_multicast.py: one RADIO, two DISHes
on 239.192.7.1 over the namespace's loopback; prints what each DISH received as JSON."""

from __future__ import annotations

import json
import socket

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


if __name__ == "__main__":
    main()
