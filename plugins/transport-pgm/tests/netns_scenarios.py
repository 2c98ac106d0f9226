"""pgm/epgm scenarios, run inside a network namespace that test_netns.py creates.

``python netns_scenarios.py NAME JSON-PARAMS`` (under ``unshare -n``): brings loopback up
with multicast and a route for 224.0.0.0/4, runs the scenario with real sockets, prints
one JSON object on its last stdout line, and exits 0 (a failed check exits 1 with the
reason in the JSON). Never run it outside a namespace of its own: it changes routes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from mqsdk_transport_pgm import transport as pgm
from mqsdk_transport_pgm.packets import Packet

import mqsdk

GROUP = "239.192.1.1"
PORT = 5555
RECV_TIMEOUT_MS = 30000


class Failed(Exception):
    pass


class Skip(Exception):
    pass


def check(condition: bool, why: str) -> None:
    if not condition:
        raise Failed(why)


def setup_loopback() -> None:
    for command in (
        "ip link set lo up",
        "ip link set lo multicast on",
        "ip route add 224.0.0.0/4 dev lo",
    ):
        subprocess.run(command.split(), check=True, capture_output=True)


def message(n: int, big_every: int = 50) -> list[bytes]:
    """Message n: a topic, its number, and a body whose content and length follow from
    n (every ``big_every``-th spans several packets), so a torn one is detected."""
    size = 3000 + n % 7 * 1000 if big_every and n % big_every == 0 else n % 200
    return [b"t", n.to_bytes(8, "big"), bytes((n + i) & 0xFF for i in range(size))]


def verify(msg: list[bytes], big_every: int = 50) -> int:
    check(len(msg) == 3, f"message with {len(msg)} frames")
    n = int.from_bytes(msg[1], "big")
    check(msg == message(n, big_every), f"message {n} is corrupt or torn")
    return n


def endpoint(scheme: str, iface: str = "lo") -> str:
    return f"{scheme}://{iface};{GROUP}:{PORT}"


def make_sub(
    ctx: mqsdk.Context, scheme: str, rate: int, topic: bytes = b"", rcvhwm: int = 0
) -> mqsdk.Socket:
    sub = ctx.socket(mqsdk.SUB)
    sub.rcvtimeo = RECV_TIMEOUT_MS
    sub.rcvhwm = rcvhwm
    sub.rate = rate
    sub.subscribe(topic)
    sub.connect(endpoint(scheme))
    return sub


def make_pub(ctx: mqsdk.Context, scheme: str, rate: int) -> mqsdk.Socket:
    pub = ctx.socket(mqsdk.PUB)
    pub.sndhwm = 0
    pub.rate = rate
    pub.connect(endpoint(scheme))
    return pub


def receive(sub: mqsdk.Socket, count: int, big_every: int = 50) -> list[int]:
    got = []
    for _ in range(count):
        try:
            got.append(verify(sub.recv_multipart(), big_every))
        except mqsdk.Again:
            raise Failed(f"timed out after {len(got)} of {count} messages") from None
    return got


def pgm_stats(sock: mqsdk.Socket) -> dict[str, int]:
    return {k: v for k, v in sock.stats.items() if k.startswith("pgm_")}


def lossy(rate: float, seed: int) -> Callable[[Packet], bool]:
    rng = random.Random(seed)
    return lambda packet: rng.random() < rate


# -- scenarios ------------------------------------------------------------------------


def fanout(
    scheme: str,
    subscribers: int = 3,
    messages: int = 3000,
    loss: float = 0.0,
    first_sqn: int | None = None,
    rate: int = 200000,
) -> dict[str, Any]:
    """One publisher, several subscribers: everything arrives exactly once, in order."""
    if loss:
        pgm.hooks.drop_data = lossy(loss, 1)
    pgm.hooks.first_sqn = first_sqn
    ctx = mqsdk.Context()
    try:
        subs = [make_sub(ctx, scheme, rate) for _ in range(subscribers)]
        pub = make_pub(ctx, scheme, rate)
        for n in range(messages):
            pub.send_multipart(message(n))
        results = [receive(sub, messages) for sub in subs]
        for index, got in enumerate(results):
            check(got == list(range(messages)), f"subscriber {index}: out of order or duplicated")
        extra = [s.poll(200) for s in subs]  # nothing may follow: exactly once
        check(not any(extra), "a subscriber received more messages than were sent")
        return {
            "received": [len(r) for r in results],
            "pub": pgm_stats(pub),
            "subs": [pgm_stats(s) for s in subs],
        }
    finally:
        ctx.destroy(linger=0)


def filtering(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """Subscriptions are not sent over pgm: each SUB filters what arrives."""
    ctx = mqsdk.Context()
    try:
        a = make_sub(ctx, scheme, rate, b"a")
        b = make_sub(ctx, scheme, rate, b"b")
        pub = make_pub(ctx, scheme, rate)
        for n in range(200):
            pub.send_multipart([b"ab"[n % 2 : n % 2 + 1], str(n).encode()])
        got_a = [int(a.recv_multipart()[1]) for _ in range(100)]
        got_b = [int(b.recv_multipart()[1]) for _ in range(100)]
        check(got_a == list(range(0, 200, 2)), "SUB 'a' got the wrong messages")
        check(got_b == list(range(1, 200, 2)), "SUB 'b' got the wrong messages")
        check(not a.poll(200) and not b.poll(200), "a SUB received a message it did not want")
        return {"a": len(got_a), "b": len(got_b)}
    finally:
        ctx.destroy(linger=0)


def late_join(scheme: str, rate: int = 16000) -> dict[str, Any]:
    """A subscriber joining while a big message is on the wire gets whole messages only."""
    ctx = mqsdk.Context()
    try:
        early = make_sub(ctx, scheme, rate)
        pub = make_pub(ctx, scheme, rate)
        big = [b"t", (0).to_bytes(8, "big"), bytes(range(256)) * 8192]  # 2 MiB: ~1 s
        pub.send_multipart(big)
        # Join once part of the big message is on the wire (no event says so: poll the
        # publisher's packet counter, bounded).
        deadline = time.monotonic() + 10
        while pub.stats.get("pgm_odata_sent", 0) < 50 and time.monotonic() < deadline:
            time.sleep(0.005)
        late = make_sub(ctx, scheme, rate)
        for n in range(1, 301):
            pub.send_multipart(message(n))
        first = early.recv_multipart()
        check(first == big, "the early subscriber did not get the big message whole")
        check(receive(early, 300) == list(range(1, 301)), "early subscriber lost messages")
        got: list[int] = []
        while True:
            try:
                msg = late.recv_multipart()
            except mqsdk.Again:
                break
            if int.from_bytes(msg[1], "big") == 0:
                check(msg == big, "the late subscriber got a torn big message")
                got.append(0)
                continue
            got.append(verify(msg))
            if got[-1] == 300:
                break
        check(bool(got) and got[-1] == 300, f"late subscriber stopped early: {got[-3:]}")
        check(got == list(range(got[0], 301)), "late subscriber: a gap or reordering")
        return {"late_first": got[0], "late_count": len(got), "late": pgm_stats(late)}
    finally:
        ctx.destroy(linger=0)


def restart(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """A publisher restart (new GSI, new session) is picked up by the subscribers."""
    ctx = mqsdk.Context()
    try:
        subs = [make_sub(ctx, scheme, rate) for _ in range(3)]
        pub = make_pub(ctx, scheme, rate)
        for n in range(500):
            pub.send_multipart(message(n))
        for sub in subs:
            check(receive(sub, 500) == list(range(500)), "first publisher: loss")
        pub.close()
        pub = make_pub(ctx, scheme, rate)
        for n in range(500, 1000):
            pub.send_multipart(message(n))
        for sub in subs:
            check(receive(sub, 500) == list(range(500, 1000)), "second publisher: loss")
        sessions = [
            len(s._message_endpoints[endpoint(scheme)]._sessions[0].receiver.peers) for s in subs
        ]
        check(all(n == 2 for n in sessions), f"expected two sources per SUB, got {sessions}")
        return {"sources": sessions}
    finally:
        ctx.destroy(linger=0)


def malformed(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """Garbage and truncated packets on the group are dropped; the stream goes on."""
    import socket

    from mqsdk_transport_pgm.packets import ODATA, encode

    ctx = mqsdk.Context()
    try:
        sub = make_sub(ctx, scheme, rate)
        pub = make_pub(ctx, scheme, rate)
        for n in range(100):
            pub.send_multipart(message(n))
        check(receive(sub, 100) == list(range(100)), "before garbage: loss")
        good = encode(Packet(ODATA, 999, PORT, b"abcdef", 0, 0, data=b"\x00\x00\x02\x00x"))
        bad = [
            b"",
            b"\x00" * 5,
            good[:20],
            good[:-1],
            good[:10] + b"\xff" + good[11:],
            bytes(random.Random(3).randrange(256) for _ in range(300)),
        ]
        if scheme == "pgm":
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 113)
            target: tuple[str, int] = (GROUP, 0)
        else:
            raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            target = (GROUP, PORT)
        raw.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        for packet in bad * 5:
            raw.sendto(packet, target)
        raw.close()
        for n in range(100, 200):
            pub.send_multipart(message(n))
        check(receive(sub, 100) == list(range(100, 200)), "after garbage: loss")
        stats = pgm_stats(sub)
        check(stats.get("pgm_malformed", 0) > 0, f"no malformed packet counted: {stats}")
        return {"sub": stats}
    finally:
        ctx.destroy(linger=0)


def unrecoverable(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """Data gone from the window: logged and counted, the subscriber resyncs at the next
    message start and never delivers a torn message; later data flows again."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("mqsdk_transport_pgm.receiver").addHandler(handler)
    # Packet 20 never arrives (neither ODATA nor any RDATA); the window holds 16 packets
    # (rate 200000 kbit/s x 1 ms / 1500 B), so the source forgets it soon.
    pgm.hooks.drop_data = lambda packet: packet.sqn == 20
    ctx = mqsdk.Context()
    try:
        sub = make_sub(ctx, scheme, rate)
        pub = ctx.socket(mqsdk.PUB)
        pub.sndhwm = 0
        pub.rate = rate
        pub.recovery_ivl = 1
        pub.connect(endpoint(scheme))
        for n in range(1000):
            pub.send_multipart(message(n))
        got: list[int] = []
        while not got or got[-1] != 999:
            try:
                got.append(verify(sub.recv_multipart()))  # whole, uncorrupted messages only
            except mqsdk.Again:
                raise Failed(f"stalled after loss; got {len(got)} messages") from None
        check(got == sorted(set(got)), "out of order or duplicated")
        check(len(got) < 1000, "nothing was lost: the scenario did not drop anything")
        stats = pgm_stats(sub)
        check(stats["pgm_lost"] >= 1, f"the loss was not counted: {stats}")
        check(
            any("unrecoverable data loss" in r.getMessage() for r in records),
            "the loss was not logged",
        )
        return {"missing": 1000 - len(got), "sub": stats}
    finally:
        ctx.destroy(linger=0)


def xpub_xsub(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """XPUB sees one subscribe-all per endpoint; XSUB receives everything (no filter,
    as libzmq's) and its upstream messages go nowhere."""
    ctx = mqsdk.Context()
    try:
        xsub = ctx.socket(mqsdk.XSUB)
        xsub.rcvtimeo = RECV_TIMEOUT_MS
        xsub.connect(endpoint(scheme))
        xsub.send(b"\x01a")  # nothing goes upstream over pgm: accepted, dropped
        xpub = ctx.socket(mqsdk.XPUB)
        xpub.rcvtimeo = RECV_TIMEOUT_MS
        xpub.connect(endpoint(scheme))
        check(xpub.recv() == b"\x01", "XPUB did not see the subscription to everything")
        for n in range(50):
            xpub.send_multipart(message(n))
        check(receive(xsub, 50) == list(range(50)), "XSUB lost messages")
        return {"xsub": 50}
    finally:
        ctx.destroy(linger=0)


def slow_reader(scheme: str, rate: int = 200000) -> dict[str, Any]:
    """At RCVHWM the session stops reading and resumes when the user drains the pipe."""
    ctx = mqsdk.Context()
    try:
        sub = make_sub(ctx, scheme, rate, rcvhwm=10)
        pub = make_pub(ctx, scheme, rate)
        for n in range(2000):
            pub.send_multipart(message(n))
        got = receive(sub, 2000)
        check(got == list(range(2000)), "loss or reordering with a small RCVHWM")
        check(sub.stats.get("pgm_read_pauses", 0) > 0, "RCVHWM never paused reading")
        return {"sub": pgm_stats(sub)}
    finally:
        ctx.destroy(linger=0)


def throughput(
    scheme: str, messages: int = 50000, size: int = 100, rate: int = 1000000
) -> dict[str, Any]:
    """Messages per second, one publisher to one subscriber (for the record, not a test)."""
    ctx = mqsdk.Context()
    try:
        sub = make_sub(ctx, scheme, rate)
        pub = make_pub(ctx, scheme, rate)
        body = b"x" * size
        started = time.perf_counter()
        for _ in range(messages):
            pub.send(body)
        for _ in range(messages):
            sub.recv()
        elapsed = time.perf_counter() - started
        return {
            "msgs_per_s": round(messages / elapsed),
            "mbit_per_s": round(messages * size * 8 / elapsed / 1e6, 1),
            "sub": pgm_stats(sub),
        }
    finally:
        ctx.destroy(linger=0)


# -- against libzmq + OpenPGM (ctypes) ---------------------------------------------------

# OpenPGM resolves an interface by address, not by the name "lo" (EINVAL).
LIBZMQ_IFACE = "127.0.0.1"


def _libzmq() -> Any:
    from libzmq_pgm import load

    lib, why = load()
    if lib is None:
        raise Skip(why)
    return lib


def _until_heard(send: Callable[[], None], heard: Callable[[], bool], what: str) -> None:
    """Send probes until the other side hears one: it has joined the group (no event
    says so across libraries), bounded."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        send()
        if heard():
            return
    raise Failed(f"{what} never heard a probe")


def interop_to_libzmq(
    scheme: str, messages: int = 2000, loss: float = 0.0, rate: int = 20000
) -> dict[str, Any]:
    """mqsdk PUB -> libzmq SUB: every message, in order, frames intact; with ``loss``,
    ODATA is dropped as it leaves, so OpenPGM must NAK and we must repair."""
    from libzmq_pgm import ZMQ_RATE, ZMQ_RCVTIMEO, ZMQ_SUB, Socket

    lib = _libzmq()
    if loss:
        rng = random.Random(4)
        pgm.hooks.drop_sent = lambda raw: raw[4] & 0x0F == 4 and rng.random() < loss
    zctx = lib.zmq_ctx_new()
    ctx = mqsdk.Context()
    zsub = Socket(lib, zctx, ZMQ_SUB)
    try:
        zsub.set_int(ZMQ_RATE, rate)
        zsub.set_int(ZMQ_RCVTIMEO, 100)
        # No RCVHWM: libzmq 4.3's pgm_receiver asserts (restart_input, push_msg EAGAIN)
        # when a SUB's pipe is still full as it resumes.
        zsub.set_int(24, 0)
        zsub.subscribe(b"")
        zsub.connect(endpoint(scheme, LIBZMQ_IFACE))
        pub = ctx.socket(mqsdk.PUB)
        pub.sndhwm = 0
        pub.rate = rate
        pub.connect(endpoint(scheme, LIBZMQ_IFACE))
        _until_heard(
            lambda: pub.send_multipart([b"probe"]),
            lambda: zsub.recv_multipart() is not None,
            "libzmq SUB",
        )
        for n in range(messages):
            pub.send_multipart(message(n))
        zsub.set_int(ZMQ_RCVTIMEO, RECV_TIMEOUT_MS)
        got: list[int] = []
        while len(got) < messages:
            msg = zsub.recv_multipart()
            if msg is None:
                raise Failed(f"libzmq SUB timed out after {len(got)} messages")
            if msg != [b"probe"]:
                got.append(verify(msg))
        check(got == list(range(messages)), "libzmq SUB: loss or reordering")
        return {"received": len(got), "pub": pgm_stats(pub)}
    finally:
        zsub.close()
        ctx.destroy(linger=0)
        lib.zmq_ctx_term(zctx)


def interop_from_libzmq(
    scheme: str, messages: int = 2000, loss: float = 0.0, rate: int = 20000
) -> dict[str, Any]:
    """libzmq PUB -> mqsdk SUB; with ``loss``, our NAKs must be answered by OpenPGM."""
    from libzmq_pgm import ZMQ_PUB, ZMQ_RATE, Socket

    lib = _libzmq()
    if loss:
        pgm.hooks.drop_data = lossy(loss, 2)
    zctx = lib.zmq_ctx_new()
    ctx = mqsdk.Context()
    zpub = Socket(lib, zctx, ZMQ_PUB)
    try:
        sub = ctx.socket(mqsdk.SUB)
        sub.rate = rate
        sub.rcvhwm = 0
        sub.subscribe(b"")
        sub.connect(endpoint(scheme, LIBZMQ_IFACE))
        zpub.set_int(ZMQ_RATE, rate)
        zpub.set_int(23, 0)  # ZMQ_SNDHWM: a rate-limited libzmq PUB must not drop at 1000
        zpub.connect(endpoint(scheme, LIBZMQ_IFACE))
        sub.rcvtimeo = 100

        def heard() -> bool:
            try:
                sub.recv_multipart()
            except mqsdk.Again:
                return False
            return True

        _until_heard(lambda: zpub.send_multipart([b"probe"]), heard, "mqsdk SUB")
        for n in range(messages):
            zpub.send_multipart(message(n))
        sub.rcvtimeo = RECV_TIMEOUT_MS
        got: list[int] = []
        while len(got) < messages:
            try:
                msg = sub.recv_multipart()
            except mqsdk.Again:
                missing = sorted(set(range(messages)) - set(got))
                raise Failed(
                    f"mqsdk SUB timed out after {len(got)}, missing {missing[:20]}: "
                    f"{pgm_stats(sub)}"
                ) from None
            if msg != [b"probe"]:
                got.append(verify(msg))
        check(got == list(range(messages)), "mqsdk SUB: loss or reordering")
        return {"received": len(got), "sub": pgm_stats(sub)}
    finally:
        zpub.close()
        ctx.destroy(linger=0)
        lib.zmq_ctx_term(zctx)


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f
    for f in (
        fanout,
        filtering,
        late_join,
        restart,
        malformed,
        unrecoverable,
        xpub_xsub,
        slow_reader,
        throughput,
        interop_to_libzmq,
        interop_from_libzmq,
    )
}


def main() -> int:
    name, params = sys.argv[1], json.loads(sys.argv[2])
    try:
        setup_loopback()
        scheme = params.get("scheme", "epgm")
        if scheme == "pgm" and not pgm.PgmTransport.available():
            print(json.dumps({"skip": pgm.PgmTransport.available().reason}))
            return 0
        started = time.monotonic()
        result = SCENARIOS[name](**params)
        result["seconds"] = round(time.monotonic() - started, 2)
        print(json.dumps(result))
        return 0
    except Skip as exc:
        print(json.dumps({"skip": str(exc)}))
        return 0
    except Failed as exc:
        print(json.dumps({"failed": str(exc)}))
        return 1
    except Exception:
        print(json.dumps({"failed": traceback.format_exc()}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
