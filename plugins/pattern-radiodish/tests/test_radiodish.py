"""RADIO and DISH between mqsdk sockets over tcp, ipc and inproc.

A DISH's JOIN reaches the RADIO asynchronously, so each test first sends markers to
the group until one arrives (:func:`joined`), then one last marker it reads up to:
messages on one connection keep their order, so nothing is ever waited for by sleeping.
"""

from __future__ import annotations

import errno
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
from radiodish_raw import WAIT

import mqsdk

MakeSocket = Callable[[int], mqsdk.Socket]  # the conftest fixture "make"

TRANSPORTS = ["tcp", "ipc", "inproc"]
_names = itertools.count()


@pytest.fixture
def shortdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="rd")  # ipc paths must stay under 108 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


def endpoint(transport: str, shortdir: str) -> str:
    name = f"rd{next(_names)}"
    return {
        "tcp": "tcp://127.0.0.1:*",
        "ipc": f"ipc://{shortdir}/{name}",
        "inproc": f"inproc://{name}",
    }[transport]


def pair(
    make: MakeSocket, transport: str, shortdir: str, *, dish_binds: bool = True
) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    binder, connecter = (dish, radio) if dish_binds else (radio, dish)
    binder.bind(endpoint(transport, shortdir))
    connecter.connect(binder.last_endpoint.decode())
    return radio, dish


def joined(radio: mqsdk.Socket, dish: mqsdk.Socket, group: bytes | str) -> None:
    """Return once the RADIO routes ``group`` to the DISH and every marker is read."""
    deadline = time.monotonic() + WAIT
    while not dish.poll(20):
        assert time.monotonic() < deadline, f"the DISH's JOIN {group!r} never reached the RADIO"
        radio.send(b"marker", group=group)
    radio.send(b"last marker", group=group)
    while dish.recv() != b"last marker":
        pass


def received(dish: mqsdk.Socket, until: bytes) -> list[tuple[str | None, bytes]]:
    """(group, body) of every message up to and including the body ``until``."""
    got = []
    while True:
        frame = dish.recv(copy=False)
        got.append((frame.group, frame.bytes))
        if frame.bytes == until:
            return got


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("dish_binds", [True, False], ids=["dish-binds", "radio-binds"])
def test_groups_match_exactly(
    make: MakeSocket, transport: str, shortdir: str, dish_binds: bool
) -> None:
    radio, dish = pair(make, transport, shortdir, dish_binds=dish_binds)
    dish.join("a")
    dish.join(b"bb")
    joined(radio, dish, "a")
    joined(radio, dish, b"bb")
    for group, body in [("a", b"1"), ("b", b"2"), ("bbb", b"3"), (b"bb", b"4"), ("", b"5")]:
        radio.send(body, group=group)
    radio.send(b"end", group="a")
    assert received(dish, b"end") == [("a", b"1"), ("bb", b"4"), ("a", b"end")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_recv_gives_the_body_and_leave_stops_a_group(
    make: MakeSocket, transport: str, shortdir: str
) -> None:
    radio, dish = pair(make, transport, shortdir)
    dish.join("news")
    dish.join("weather")
    joined(radio, dish, "news")
    joined(radio, dish, "weather")
    radio.send(b"headline", group="news")
    assert dish.recv() == b"headline"
    assert not dish.rcvmore
    dish.leave("news")
    radio.send(b"old news", group="news")
    radio.send(b"sunny", group="weather")
    assert received(dish, b"sunny") == [("weather", b"sunny")]


def test_send_without_a_group_goes_to_the_empty_group(make: MakeSocket, shortdir: str) -> None:
    radio, dish = pair(make, "inproc", shortdir)
    dish.join("")
    joined(radio, dish, "")
    radio.send(b"plain")
    frame = dish.recv(copy=False)
    assert (frame.group, frame.bytes) == ("", b"plain")


def test_send_takes_the_group_sixth_as_pyzmq(make: MakeSocket, shortdir: str) -> None:
    """pyzmq 27: send(data, flags, copy, track, routing_id, group)."""
    radio, dish = pair(make, "inproc", shortdir)
    dish.join("weather")
    joined(radio, dish, "weather")
    radio.send(b"positional", 0, True, False, None, "weather")
    assert received(dish, b"positional") == [("weather", b"positional")]


def test_a_received_frame_keeps_its_group_when_forwarded(make: MakeSocket, shortdir: str) -> None:
    radio, dish = pair(make, "inproc", shortdir)
    relay, far = pair(make, "inproc", shortdir)
    group = b"\xffraw-bytes"  # not UTF-8: survives the str round trip
    dish.join(group)
    far.join(group)
    joined(radio, dish, group)
    joined(relay, far, group)
    radio.send(b"hop", group=group)
    relay.send(dish.recv(copy=False))
    frame = far.recv(copy=False)
    assert frame.bytes == b"hop"
    assert frame.group is not None
    assert frame.group.encode("utf-8", "surrogateescape") == group


def test_join_and_leave_errors_are_libzmqs(make: MakeSocket) -> None:
    dish = make(mqsdk.DISH)
    dish.join("g")
    with pytest.raises(mqsdk.MQError, match="already joined") as exc:
        dish.join(b"g")
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError, match="not joined") as exc:
        dish.leave("other")
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError, match="at most 255 bytes") as exc:
        dish.join("x" * 256)
    assert exc.value.errno == errno.EINVAL
    dish.join("x" * 255)
    dish.leave("x" * 255)
    dish.leave("g")
    with pytest.raises(TypeError, match="str or bytes"):
        dish.join(5)  # type: ignore[arg-type]
    with pytest.raises(mqsdk.MQError) as exc:
        make(mqsdk.SUB).join("g")
    assert exc.value.errno == errno.ENOTSUP


def test_messages_are_single_frames(make: MakeSocket) -> None:
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    for attempt in (
        lambda: radio.send(b"part", mqsdk.SNDMORE),
        lambda: radio.send(b"part", mqsdk.SNDMORE, group="g"),
        lambda: radio.send_multipart([b"a", b"b"]),
    ):
        with pytest.raises(mqsdk.MQError, match="single frame") as exc:
            attempt()
        assert exc.value.errno == errno.EINVAL
    radio.send_multipart([b"one frame is fine"])
    with pytest.raises(mqsdk.MQError, match="at most 255 bytes"):
        radio.send(b"x", group="g" * 256)
    with pytest.raises(mqsdk.MQError, match="for RADIO sockets") as exc:
        make(mqsdk.PUSH).send(b"x", group="g")
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError) as exc:
        dish.send(b"x")
    assert exc.value.errno == errno.ENOTSUP
    with pytest.raises(mqsdk.MQError) as exc:
        radio.recv(mqsdk.NOBLOCK)
    assert exc.value.errno == errno.ENOTSUP


def test_radio_drops_at_hwm_and_nodrop_refuses(make: MakeSocket, shortdir: str) -> None:
    # inproc's HWM is the sender's SNDHWM plus the receiver's RCVHWM (here 1 + 1).
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    radio.sndhwm = dish.rcvhwm = 1
    dish.bind("inproc://hwm")
    dish.join("g")
    radio.connect("inproc://hwm")
    for number in range(10):
        radio.send(b"%d" % number, group="g")
    assert radio.stats["dropped_hwm"] == 8
    assert [dish.recv(), dish.recv()] == [b"0", b"1"]
    assert dish.poll(0) == 0
    radio.xpub_nodrop = 1
    assert radio.xpub_nodrop == 1
    radio.send(b"a", group="g")
    radio.send(b"b", group="g")
    with pytest.raises(mqsdk.Again):
        radio.send(b"c", mqsdk.NOBLOCK, group="g")
    radio.send(b"to nobody", mqsdk.NOBLOCK, group="unjoined")  # no matching peer is full
    assert [dish.recv(), dish.recv()] == [b"a", b"b"]


def test_dish_rejoins_after_the_radio_restarts(make: MakeSocket) -> None:
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    radio.bind("tcp://127.0.0.1:*")
    address = radio.last_endpoint.decode()
    dish.reconnect_ivl = 20
    dish.connect(address)
    dish.join("a")
    dish.join("b")
    dish.leave("a")
    joined(radio, dish, "b")
    radio.close()
    radio = make(mqsdk.RADIO)
    radio.bind(address)
    joined(radio, dish, "b")  # the JOIN came again on the new connection
    radio.send(b"left group", group="a")
    radio.send(b"end", group="b")
    assert received(dish, b"end") == [("b", b"end")]


def test_poll_and_events(make: MakeSocket) -> None:
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    dish.bind("inproc://events")
    radio.connect("inproc://events")
    dish.join("g")
    assert radio.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT
    assert dish.poll(0) == 0
    radio.send(b"not joined", group="h")
    radio.send(b"joined", group="g")
    assert dish.poll(int(WAIT * 1000)) == mqsdk.POLLIN
    assert dish.recv() == b"joined"
    assert dish.poll(0) == 0


def test_over_curve(make: MakeSocket) -> None:
    # The group frame and the body are ordinary message frames: CURVE boxes both.
    if not hasattr(mqsdk, "curve_keypair"):
        pytest.skip("no CURVE in this mqsdk")
    pytest.importorskip("nacl", reason="CURVE needs PyNaCl")
    server_public, server_secret = mqsdk.curve_keypair()
    client_public, client_secret = mqsdk.curve_keypair()
    dish = make(mqsdk.DISH)
    dish.curve_server = 1
    dish.curve_secretkey = server_secret
    dish.bind("tcp://127.0.0.1:*")
    dish.join("secret")
    radio = make(mqsdk.RADIO)
    radio.curve_serverkey = server_public
    radio.curve_publickey = client_public
    radio.curve_secretkey = client_secret
    radio.connect(dish.last_endpoint.decode())
    joined(radio, dish, "secret")
    radio.send(b"boxed", group="secret")
    frame = dish.recv(copy=False)
    assert (frame.group, frame.bytes) == ("secret", b"boxed")
