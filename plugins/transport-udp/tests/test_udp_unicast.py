"""udp:// between real UDP sockets on 127.0.0.1: mqsdk RADIO and DISH, and raw datagram
peers that check libzmq's layout (``group_len(1) group body``) byte for byte.

No JOIN travels over udp, so a DISH receives as soon as it is bound and joined; the
only waits are bounded receives (loopback does not lose or reorder these few datagrams).
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import mqsdk
from mqsdk.errors import ENOCOMPATPROTO

WAIT = 10.0


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.term()


def make(ctx: mqsdk.Context, kind: int) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = int(WAIT * 1000)
    return sock


def dish_at(ctx: mqsdk.Context, *groups: str) -> tuple[mqsdk.Socket, str]:
    dish = make(ctx, mqsdk.DISH)
    dish.bind("udp://127.0.0.1:*")
    for group in groups:
        dish.join(group)
    return dish, dish.last_endpoint.decode()


def received(dish: mqsdk.Socket, until: bytes) -> list[tuple[str | None, bytes]]:
    got = []
    while True:
        frame = dish.recv(copy=False)
        got.append((frame.group, frame.bytes))
        if frame.bytes == until:
            return got


def test_radio_to_dish_filters_on_joined_groups(ctx: mqsdk.Context) -> None:
    dish, address = dish_at(ctx, "a", "bb")
    assert address.startswith("udp://127.0.0.1:") and not address.endswith(":0")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(address)
    assert radio.last_endpoint.decode() == address
    for group, body in [("a", b"1"), ("b", b"2"), ("bbb", b"3"), ("bb", b"4"), ("", b"5")]:
        radio.send(body, group=group)
    radio.send(b"end", group="a")
    assert received(dish, b"end") == [("a", b"1"), ("bb", b"4"), ("a", b"end")]
    dish.leave("a")
    dish.join("c")
    radio.send(b"left", group="a")
    radio.send(b"joined", group="c")
    assert received(dish, b"joined") == [("c", b"joined")]
    assert radio.stats["msgs_out"] == 8
    assert dish.stats["msgs_in"] == 8  # received; the DISH filters after that


def test_datagram_layout_both_ways(ctx: mqsdk.Context) -> None:
    # A RADIO's datagram, as a plain UDP socket sees it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(WAIT)
        radio = make(ctx, mqsdk.RADIO)
        radio.connect(f"udp://127.0.0.1:{peer.getsockname()[1]}")
        radio.send(b"body bytes", group="grp")
        radio.send(b"no group")
        assert peer.recv(65535) == b"\x03grpbody bytes"
        assert peer.recv(65535) == b"\x00no group"
    # Datagrams written by hand (libzmq's layout), and malformed ones, into a DISH.
    dish, address = dish_at(ctx, "grp")
    port = int(address.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        for datagram in (b"", b"\x09short", b"\x03grpfrom a peer", b"\x03grpnext"):
            peer.sendto(datagram, ("127.0.0.1", port))
        assert [dish.recv(), dish.recv()] == [b"from a peer", b"next"]
    assert dish.stats["dropped_malformed"] == 2


def test_too_big_is_an_error_at_send(ctx: mqsdk.Context) -> None:
    dish, address = dish_at(ctx, "g")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(address)
    largest = b"x" * (8192 - 1 - 1)  # group length byte + 1-byte group + body = 8192
    radio.send(largest, group="g")
    assert dish.recv() == largest
    with pytest.raises(mqsdk.MQError, match="8192") as exc:
        radio.send(largest + b"x", group="g")
    assert exc.value.errno == errno.EMSGSIZE
    radio.send(b"still sending", group="g")
    assert dish.recv() == b"still sending"


@pytest.mark.parametrize(
    ("kind", "action", "endpoint"),
    [
        ("PUSH", "connect", "udp://127.0.0.1:5555"),
        ("PULL", "bind", "udp://127.0.0.1:*"),
        ("RADIO", "bind", "udp://127.0.0.1:*"),
        ("DISH", "connect", "udp://127.0.0.1:5555"),
        ("PUB", "connect", "udp://239.1.2.3:5555"),
    ],
)
def test_only_dish_binds_and_radio_connects(
    ctx: mqsdk.Context, kind: str, action: str, endpoint: str
) -> None:
    sock = make(ctx, getattr(mqsdk, kind))
    with pytest.raises(mqsdk.MQError, match="udp carries RADIO/DISH only") as exc:
        getattr(sock, action)(endpoint)
    assert exc.value.errno == ENOCOMPATPROTO


@pytest.mark.parametrize(
    ("action", "endpoint", "problem"),
    [
        ("connect", "udp://127.0.0.1", "expected host:port"),
        ("connect", "udp://127.0.0.1:0", "not a wildcard"),
        ("connect", "udp://127.0.0.1:70000", "not a number in 1..65535"),
        ("connect", "udp://*:5555", "needs a destination"),
        ("connect", "udp://no-such-host.invalid:5555", "cannot resolve"),
        ("connect", "udp://lo;127.0.0.1:5555", "only before a multicast address"),
        ("connect", "udp://239.9.9.9;239.1.2.3:5555", "is a multicast address"),
        ("bind", "udp://no-such-iface0;239.1.2.3:5555", "no network interface"),
        ("bind", "udp://no-such-iface0:5555", "neither an IPv4 address nor an interface"),
        ("bind", "udp://[::1:5555", "goes in brackets"),
        ("connect", "udp://::1:5555", "goes in brackets"),
        ("bind", "udp://;239.1.2.3:5555", "interface before ';' is empty"),
    ],
)
def test_bad_endpoints_say_what_is_wrong(
    ctx: mqsdk.Context, action: str, endpoint: str, problem: str
) -> None:
    sock = make(ctx, mqsdk.RADIO if action == "connect" else mqsdk.DISH)
    with pytest.raises(mqsdk.EndpointError, match=problem) as exc:
        getattr(sock, action)(endpoint)
    assert exc.value.errno == errno.EINVAL
    assert "udp://" in str(exc.value)


def test_address_in_use_and_unbind(ctx: mqsdk.Context) -> None:
    dish, address = dish_at(ctx)
    other = make(ctx, mqsdk.DISH)
    with pytest.raises(mqsdk.MQError, match="cannot bind") as exc:
        other.bind(address)
    assert exc.value.errno == errno.EADDRINUSE
    dish.unbind(address)
    other.bind(address)  # the port was released
    other.join("g")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(address)
    radio.send(b"to the new binder", group="g")
    assert other.recv() == b"to the new binder"
    radio.disconnect(address)
    with pytest.raises(mqsdk.MQError):
        radio.disconnect(address)


def test_wildcard_bind_reports_the_port(ctx: mqsdk.Context) -> None:
    dish = make(ctx, mqsdk.DISH)
    dish.bind("udp://*:*")
    address = dish.last_endpoint.decode()
    host, port = address.removeprefix("udp://").rsplit(":", 1)
    assert host == "0.0.0.0" and int(port) > 0
    dish.join("g")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(f"udp://127.0.0.1:{port}")
    radio.send(b"via any address", group="g")
    assert dish.recv() == b"via any address"


def test_ipv6_loopback(ctx: mqsdk.Context) -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    dish = make(ctx, mqsdk.DISH)
    try:
        dish.bind("udp://[::1]:*")
    except mqsdk.MQError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    address = dish.last_endpoint.decode()
    assert address.startswith("udp://[::1]:")
    dish.join("six")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(address)
    radio.send(b"over ::1", group="six")
    assert dish.recv() == b"over ::1"


def test_dish_datagrams_beyond_rcvhwm_are_dropped_and_counted(ctx: mqsdk.Context) -> None:
    dish = make(ctx, mqsdk.DISH)
    dish.rcvhwm = 3
    dish.bind("udp://127.0.0.1:*")
    dish.join("g")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(dish.last_endpoint.decode())
    for number in range(10):
        radio.send(b"%d" % number, group="g")
    deadline = time.monotonic() + WAIT
    while dish.stats["msgs_in"] + dish.stats["dropped_hwm"] < 10:
        assert time.monotonic() < deadline, f"datagrams not all read: {dish.stats}"
        time.sleep(0.01)  # polling a counter: the I/O thread reads with no event to wait on
    assert dish.stats["dropped_hwm"] == 7
    assert [dish.recv() for _ in range(3)] == [b"0", b"1", b"2"]


def test_receiving_uses_the_io_thread_not_a_thread_per_socket(ctx: mqsdk.Context) -> None:
    make(ctx, mqsdk.DISH).bind("udp://127.0.0.1:*")  # the context's I/O thread is up
    before = threading.active_count()
    dishes = [dish_at(ctx, "g")[0] for _ in range(5)]
    assert threading.active_count() == before
    radio = make(ctx, mqsdk.RADIO)
    for dish in dishes:
        radio.connect(dish.last_endpoint.decode())
    radio.send(b"to all five", group="g")
    assert [dish.recv() for dish in dishes] == [b"to all five"] * 5


def test_an_oversize_message_reaches_no_peer(ctx: mqsdk.Context) -> None:
    # One RADIO, a DISH over udp and one over tcp (no datagram limit there): the
    # refusal comes before the message is queued anywhere.
    over_udp, udp_address = dish_at(ctx, "g")
    over_tcp = make(ctx, mqsdk.DISH)
    over_tcp.bind("tcp://127.0.0.1:*")
    over_tcp.join("g")
    radio = make(ctx, mqsdk.RADIO)
    radio.connect(udp_address)
    radio.connect(over_tcp.last_endpoint.decode())
    deadline = time.monotonic() + WAIT
    while not over_tcp.poll(20):  # until the tcp DISH's JOIN reached the RADIO
        assert time.monotonic() < deadline, "the JOIN never arrived"
        radio.send(b"marker", group="g")
    with pytest.raises(mqsdk.MQError, match="8192"):
        radio.send(b"x" * 9000, group="g")
    radio.send(b"end", group="g")
    assert b"x" * 9000 not in [body for _, body in received(over_tcp, b"end")]
    assert b"x" * 9000 not in [body for _, body in received(over_udp, b"end")]


def test_asyncio_radio_sends_to_a_group(ctx: mqsdk.Context) -> None:
    import asyncio

    import mqsdk.asyncio

    async def main() -> bytes:
        actx = mqsdk.asyncio.Context()
        try:
            dish = actx.socket(mqsdk.DISH)
            dish.bind("udp://127.0.0.1:*")
            dish.join("g")
            radio = actx.socket(mqsdk.RADIO)
            radio.connect(dish.last_endpoint.decode())
            await radio.send(b"not joined", group="h")
            await radio.send(b"from asyncio", group="g")
            return bytes(await asyncio.wait_for(dish.recv(), WAIT))
        finally:
            actx.destroy(linger=0)

    assert asyncio.run(main()) == b"from asyncio"


def test_multicast_options_are_libzmqs(ctx: mqsdk.Context) -> None:
    radio = make(ctx, mqsdk.RADIO)
    assert (mqsdk.MULTICAST_HOPS, mqsdk.MULTICAST_LOOP) == (25, 96)
    assert (radio.multicast_hops, radio.get(96)) == (1, 1)  # libzmq's defaults
    radio.set(mqsdk.MULTICAST_HOPS, 8)
    radio.multicast_loop = 0
    assert (radio.get("multicast_hops"), radio.multicast_loop) == (8, 0)
    with pytest.raises(mqsdk.MQError, match="multicast_hops") as exc:
        radio.multicast_hops = 0  # libzmq: hops > 0
    assert exc.value.errno == errno.EINVAL


def test_cli_lists_the_plugins() -> None:
    import json
    import subprocess
    import sys

    def run(*args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "mqsdk", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)

    rows = {(row["plugin"], row["name"]): row for row in run("plugins")}
    for key in [("udp", "udp"), ("radiodish", "RADIO"), ("radiodish", "DISH")]:
        assert rows[key]["available"] is True and rows[key]["enabled"] is True, rows.get(key)
    assert rows[("udp", "udp")]["distribution"] == "mqsdk-transport-udp"
    assert rows[("radiodish", "DISH")]["distribution"] == "mqsdk-pattern-radiodish"
    usable = run("doctor")["components"]
    assert "udp" in usable["transport"]["usable"]
    assert {"RADIO", "DISH"} <= set(usable["pattern"]["usable"])
