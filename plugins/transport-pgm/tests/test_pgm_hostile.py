"""What one hostile or unusual downstream packet may cost a receiver: a bounded amount
of work whatever sequence numbers it claims, and never an exception out of the timer."""

from __future__ import annotations

import dataclasses
import random
import socket
import threading
from collections.abc import Iterator

import pytest
from mqsdk_transport_pgm import receiver as receiver_module
from mqsdk_transport_pgm.packets import NAK, ODATA, SPM, Packet, decode, sqn_add
from mqsdk_transport_pgm.receiver import Receiver
from mqsdk_transport_pgm.source import Source
from mqsdk_transport_pgm.transport import _Session, hooks

import mqsdk

GROUP = "239.192.1.1"
GSI = b"GSI-01"
SPORT, DPORT = 1000, 5555
SOURCE_IP = "10.0.0.9"
RXW = 1000
STEP_BUDGET = 4 * RXW + 100
"""Sequence-number steps one packet may cost: a few per entry of the receive window
(NAK states, held data), never one per sequence number a packet claims."""


@pytest.fixture
def step_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count the receiver's sequence-number steps; fail fast (instead of stepping for
    minutes) once a packet has cost more than :data:`STEP_BUDGET`."""
    steps = [0]

    def counting_add(sqn: int, n: int) -> int:
        steps[0] += 1
        if steps[0] > STEP_BUDGET:
            raise AssertionError(f"the receiver stepped over more than {STEP_BUDGET} sqns")
        return sqn_add(sqn, n)

    monkeypatch.setattr(receiver_module, "sqn_add", counting_add)
    yield steps


def _receiver(sent: list[bytes] | None = None) -> Receiver:
    return Receiver(
        dport=DPORT,
        group=GROUP,
        rxw_sqns=RXW,
        send=(sent if sent is not None else []).append,
        rng=random.Random(1),
        stats={},
    )


def _spm(sqn: int, trail: int, lead: int, nla: str = SOURCE_IP) -> Packet:
    return Packet(SPM, SPORT, DPORT, GSI, sqn, trail, lead, nla)


def _odata_from(first_sqn: int, message: list[bytes]) -> Packet:
    """The ODATA a real source numbering from ``first_sqn`` sends for ``message``."""
    wire: list[bytes] = []
    source = Source(
        gsi=GSI,
        sport=SPORT,
        dport=DPORT,
        group=GROUP,
        nla=SOURCE_IP,
        max_tsdu=100,
        txw_sqns=10,
        rate=10**6,
        overhead=0,
        send=wire.append,
        now=0.0,
        first_sqn=first_sqn,
    )
    source.packer.add(message)
    source.pump(0.0, lambda: False, unlimited=True)
    (packet,) = [p for p in map(decode, wire) if p.type == ODATA]
    return packet


@pytest.mark.parametrize("lead", [0, 2**32 - 5], ids=["low", "wrapping"])
def test_a_trailing_edge_far_ahead_is_one_jump(step_budget: list[int], lead: int) -> None:
    """An SPM whose trail is 2**31 - 1 ahead used to make the receiver step through
    every missing sequence number (~18 min of I/O-thread CPU): now it moves straight
    to the trail, counts the range as lost, and goes on from there."""
    rx = _receiver()
    assert rx.on_packet(_spm(1, lead, lead), SOURCE_IP, 0.0) == []
    trail = sqn_add(lead, 2**31 - 1)
    assert rx.on_packet(_spm(2, trail, lead), SOURCE_IP, 0.0) == []
    (peer,) = rx.peers.values()
    assert peer.next == trail
    assert rx.stats["pgm_lost"] == 2**31 - 2  # lead + 1 .. trail - 1
    assert not peer.naks and not peer.held and not peer.lost
    step_budget[0] = 0
    after = _odata_from(trail, [b"after the jump"])
    assert rx.on_packet(after, SOURCE_IP, 0.0) == [[b"after the jump"]]


def test_data_far_ahead_costs_one_window(step_budget: list[int]) -> None:
    """ODATA 2**31 - 1 ahead: what falls out of the window is lost in one jump, and
    only the newest ``max_naks`` sequence numbers (here fewer than the window) get a NAK
    state."""
    rx = _receiver()
    rx.nak_budget = 256  # as if the endpoint's budget were shared by many sources
    assert rx.max_naks < RXW
    rx.on_packet(_spm(1, 0, 0), SOURCE_IP, 0.0)
    far = dataclasses.replace(_odata_from(2**31 - 1, [b"far"]), trail=0)
    assert rx.on_packet(far, SOURCE_IP, 0.0) == []
    (peer,) = rx.peers.values()
    assert peer.next == sqn_add(far.sqn, 1 - rx.max_naks)
    assert len(peer.naks) == rx.max_naks - 1  # minus the packet we hold
    assert set(peer.held) == {far.sqn}


@pytest.mark.parametrize("earlier_nla", [None, "10.0.0.7"], ids=["first-spm", "later-spm"])
def test_an_ipv6_spm_nla_does_not_break_naks(earlier_nla: str | None) -> None:
    """RFC 3208 allows an IPv6 path NLA in an SPM, and decode accepts it; our NAKs
    carry IPv4 NLAs, so it used to raise PacketError out of tick() at the next NAK.
    The receiver keeps the address it had: the earlier NLA, else the IP source."""
    sent: list[bytes] = []
    rx = _receiver(sent)
    sqn = 1
    if earlier_nla is not None:
        rx.on_packet(_spm(sqn, 0, 0, earlier_nla), SOURCE_IP, 0.0)
        sqn += 1
    rx.on_packet(_spm(sqn, 0, 0, "fe80::1"), SOURCE_IP, 0.0)
    # 1 and 2 are missing, and still in the source's window (trail 0).
    rx.on_packet(dataclasses.replace(_odata_from(3, [b"x"]), trail=0), SOURCE_IP, 0.0)
    rx.tick(1.0)
    naks = [p for p in map(decode, sent) if p.type == NAK]
    assert [(p.sqn, *p.naks) for p in naks] == [(1, 2)]
    assert naks[0].nla == (earlier_nla or SOURCE_IP)


def test_the_timer_survives_an_exception_in_receiver_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If one tick raises (the reactor logs it), the session's timer is armed again:
    NAKs and peer expiry for every source on the endpoint go on."""
    opened: list[socket.socket] = []

    def loopback_open(self: _Session, address: object, hops: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        opened.append(sock)
        return sock

    monkeypatch.setattr(_Session, "_open", loopback_open)
    monkeypatch.setattr(_Session, "_open_unicast", lambda self, address: None)
    monkeypatch.setattr(hooks, "drop_sent", lambda raw: True)  # nothing leaves the test
    ticks: list[str] = []
    ticked_again = threading.Event()
    real_tick = Receiver.tick

    def failing_once(self: Receiver, now: float) -> object:
        if not ticks:
            ticks.append("raised")
            raise RuntimeError("injected failure in one tick")
        ticks.append("ran")
        ticked_again.set()
        return real_tick(self, now)

    monkeypatch.setattr(Receiver, "tick", failing_once)
    ctx = mqsdk.Context()
    sub = ctx.socket(mqsdk.SUB)
    try:
        sub.bind("epgm://127.0.0.1;239.192.7.9:47125")
        # The source joins at its SPM (sqn 0 next); ODATA 3 alone leaves 0..2 to NAK,
        # so a timer is due within the NAK back-off.
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            target = opened[0].getsockname()
            wire: list[bytes] = []
            source = Source(
                gsi=GSI,
                sport=SPORT,
                dport=47125,
                group="239.192.7.9",
                nla="127.0.0.1",
                max_tsdu=100,
                txw_sqns=10,
                rate=10**6,
                overhead=0,
                send=wire.append,
                now=0.0,
                first_sqn=0,
            )
            source.tick(0.0)
            for n in range(4):
                source.packer.add([b"%d" % n])
                source.pump(0.0, lambda: False, unlimited=True)
            spm, *data = wire
            for raw in (spm, data[3]):  # ODATA 0..2 lost
                sender.sendto(raw, target)
        finally:
            sender.close()
        assert ticked_again.wait(10.0), f"the timer was not armed again (ticks: {ticks})"
        assert ticks[0] == "raised"
    finally:
        sub.close(linger=0)
        ctx.term()


def _forged_odata(index: int, sqn: int) -> Packet:
    """ODATA from the ``index``-th forged TSI (anyone on the group can send one)."""
    return Packet(ODATA, SPORT, DPORT, b"F" + index.to_bytes(5, "big"), sqn=sqn, data=b"x")


def test_forged_sources_are_bounded_and_the_quietest_goes() -> None:
    """Each new TSI used to get its own source state for peer_expiry (300 s): 1,000
    forged ones held 1,000 sources. Now at most ``max_sources`` are held; a new one
    evicts the least recently heard, so an honest source heard in between stays."""
    held = 256  # the default bound
    rx = _receiver()
    rx.on_packet(_spm(1, 0, 0), SOURCE_IP, 0.0)
    for index in range(held + 50):
        now = float(index + 1)
        rx.on_packet(_forged_odata(index, 5), "10.9.9.9", now)
        rx.on_packet(_spm(index + 2, 0, 0), SOURCE_IP, now)  # the honest heartbeat
        assert len(rx.peers) <= held
    assert (GSI, SPORT) in rx.peers
    assert rx.stats["pgm_sources_evicted"] == 50 + 1
    after = _odata_from(1, [b"still here"])
    assert rx.on_packet(after, SOURCE_IP, 200.0) == [[b"still here"]]


def test_a_lone_source_may_repair_its_whole_window() -> None:
    """The NAK budget is shared by the sources: one honest source that lost a whole
    window's worth of packets gets a NAK for each, as in libzmq."""
    rx = _receiver()
    rx.on_packet(_spm(1, 0, 0), SOURCE_IP, 0.0)
    (peer,) = rx.peers.values()
    rx.on_packet(dataclasses.replace(_odata_from(RXW - 1, [b"x"]), trail=0), SOURCE_IP, 0.0)
    assert len(peer.naks) == RXW - 2  # 1 .. RXW - 2: every number before the held one
    assert rx.stats.get("pgm_lost", 0) == 0


def test_naks_per_source_are_bounded_whatever_the_gaps() -> None:
    """Gaps opened one after another used to keep a NAK state for every missing
    number in the window (RXW - 1 per source); now at most ``max_naks``, and what
    is given up beyond that is counted as lost."""
    bound = 256
    rx = _receiver()
    rx.nak_budget = bound  # as if the endpoint's budget were shared by many sources
    rx.on_packet(_spm(1, 0, 0), SOURCE_IP, 0.0)
    (peer,) = rx.peers.values()
    for sqn in range(50, RXW, 50):
        odata = dataclasses.replace(_odata_from(sqn, [b"x"]), trail=0)
        rx.on_packet(odata, SOURCE_IP, 0.0)
        assert len(peer.naks) <= bound
    assert len(peer.naks) == bound  # the newest missing numbers
    assert rx.stats["pgm_lost"] > 0


def test_next_deadline_does_not_walk_every_nak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport asks for the next deadline after every batch of packets; it used
    to read every NAK's deadline (55 ms with a million of them). Count the reads."""
    reads = [0]

    class CountingNak(receiver_module._Nak):
        __slots__ = ()

        def __getattribute__(self, name: str) -> object:
            if name == "deadline":
                reads[0] += 1
            return object.__getattribute__(self, name)

    monkeypatch.setattr(receiver_module, "_Nak", CountingNak)
    rx = Receiver(
        dport=DPORT, group=GROUP, rxw_sqns=RXW, send=[].append, rng=random.Random(1), stats={}
    )
    for index in range(16):
        rx.on_packet(_forged_odata(index, 0), "10.9.9.9", 0.0)
        rx.on_packet(_forged_odata(index, RXW - 1), "10.9.9.9", 0.0)

    def earliest() -> float:
        return min(n.deadline for p in rx.peers.values() for n in p.naks.values())

    total = sum(len(p.naks) for p in rx.peers.values())
    assert total >= 16 * 100
    for now in (0.0, 0.02, 0.3, 0.7):
        rx.tick(now)
        expected = earliest()
        reads[0] = 0
        for _ in range(10):
            assert rx.next_deadline() == expected
        assert reads[0] <= 10 * 4, f"{reads[0]} deadline reads for 10 calls, {total} NAKs"
