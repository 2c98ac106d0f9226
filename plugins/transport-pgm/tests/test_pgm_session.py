"""Source and Receiver joined by a fake multicast link with a fake clock (no sockets):
repair, NCF suppression, wrap-around, and the unrecoverable-loss outcome."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
from mqsdk_transport_pgm.packets import NAK, NCF, ODATA, RDATA, SPMR, Packet, decode, encode
from mqsdk_transport_pgm.receiver import Receiver
from mqsdk_transport_pgm.source import Source

from mqsdk._kernel.pipe import Message

GROUP = "239.192.1.1"


class Link:
    """Everything sent reaches everyone else, unless ``drop`` says otherwise."""

    def __init__(
        self,
        receivers: int,
        drop: Callable[[int, bytes], bool] | None = None,
        txw_sqns: int = 10000,
        first_sqn: int = 0,
        retries: int = 50,
    ) -> None:
        self.now = 0.0
        self.drop = drop or (lambda index, packet: False)
        self.queue: list[tuple[int, bytes]] = []  # (sender index, packet); -1 = source
        self.source = Source(
            gsi=b"GSI-01",
            sport=1000,
            dport=5555,
            group=GROUP,
            nla="10.0.0.1",
            max_tsdu=100,
            txw_sqns=txw_sqns,
            rate=10**6,
            overhead=28,
            send=lambda p: self.queue.append((-1, p)),
            now=0.0,
            first_sqn=first_sqn,
        )
        self.receivers = [
            Receiver(
                dport=5555,
                group=GROUP,
                rxw_sqns=10000,
                rng=random.Random(i),
                nak_retries=retries,
                send=lambda p, i=i: self.queue.append((i, p)),
            )
            for i in range(receivers)
        ]
        self.got: list[list[Message]] = [[] for _ in range(receivers)]
        self.outbox: list[Message] = []

    def _more(self) -> bool:
        if not self.outbox:
            return False
        self.source.packer.add(self.outbox.pop(0))
        return True

    def publish(self, messages: list[Message]) -> None:
        self.outbox += messages
        self.source.pump(self.now, self._more)
        self.deliver()

    def deliver(self) -> None:
        while self.queue:
            sender, raw = self.queue.pop(0)
            packet = decode(raw)
            if packet.type in (NAK, SPMR):
                if packet.type == NAK and self.source.on_nak(packet):
                    self.source.pump(self.now, self._more)
                elif packet.type == SPMR:
                    self.source.on_spmr(self.now)
            for index, receiver in enumerate(self.receivers):
                if index == sender or packet.type in (NAK, SPMR):
                    continue
                if packet.type in (ODATA, RDATA) and self.drop(index, raw):
                    continue
                self.got[index] += receiver.on_packet(packet, "10.0.0.1", self.now)

    def run(self, seconds: float, step: float = 0.01) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            self.source.tick(self.now)
            for index, receiver in enumerate(self.receivers):
                self.got[index] += receiver.tick(self.now)[0]
            self.deliver()


MESSAGES = [[b"m", n.to_bytes(4, "big"), bytes(n % 250)] for n in range(400)]


def test_no_loss() -> None:
    link = Link(2)
    link.source.tick(0.0)  # the first SPM: receivers join at its leading edge
    link.publish(MESSAGES)
    assert link.got == [MESSAGES, MESSAGES]


@pytest.mark.parametrize("first_sqn", [0, 2**32 - 50])
def test_loss_is_repaired_exactly_once_in_order(first_sqn: int) -> None:
    rng = random.Random(5)
    link = Link(3, drop=lambda i, p: rng.random() < 0.1, first_sqn=first_sqn)
    link.source.tick(0.0)
    link.publish(MESSAGES)
    link.run(5.0)
    assert link.got == [MESSAGES] * 3
    assert link.source.stats["pgm_rdata_sent"] > 0
    assert all(r.stats["pgm_lost"] == 0 for r in link.receivers)
    if first_sqn:
        assert link.source.lead < 1000  # the sequence numbers did wrap


def test_tail_loss_is_found_through_the_heartbeat_spm() -> None:
    last = {"sqn": None}

    def drop_last(index: int, raw: bytes) -> bool:
        packet = decode(raw)
        if packet.type == ODATA and packet.sqn == link.source.lead and last["sqn"] is None:
            last["sqn"] = packet.sqn
            return True
        return False

    link = Link(1, drop=drop_last)
    link.source.tick(0.0)
    link.publish(MESSAGES)
    assert link.got[0] != MESSAGES  # the last packet is missing...
    link.run(1.0)
    assert link.got[0] == MESSAGES  # ...until an SPM told its sequence number


def test_ncf_suppresses_the_other_receivers_naks() -> None:
    dropped = set()

    def drop_one(index: int, raw: bytes) -> bool:
        packet = decode(raw)
        if packet.type == ODATA and packet.sqn == 5 and index not in dropped:
            dropped.add(index)
            return True  # every receiver misses sqn 5 once
        return False

    link = Link(10, drop=drop_one)
    link.source.tick(0.0)
    link.publish(MESSAGES)
    link.run(2.0, step=0.001)
    assert link.got == [MESSAGES] * 10
    naks = sum(r.stats["pgm_naks_sent"] for r in link.receivers)
    assert 1 <= naks < 10  # the first NAK's NCF held most others back
    assert link.source.stats["pgm_rdata_sent"] == 1


def test_unrecoverable_loss_resyncs_at_a_message_boundary() -> None:
    # The window keeps 5 packets; sqn 3 is lost by everyone and the source moves on.
    link = Link(
        1, drop=lambda i, p: decode(p).type in (ODATA, RDATA) and decode(p).sqn == 3, txw_sqns=5
    )
    link.source.tick(0.0)
    link.publish(MESSAGES)
    link.run(3.0)
    got = link.got[0]
    receiver = link.receivers[0]
    assert receiver.stats["pgm_lost"] == 1
    # Whole messages only, in order, with one gap where sqn 3's data was.
    assert got == [m for m in MESSAGES if m in got]
    assert 0 < len(got) < len(MESSAGES)
    numbers = [int.from_bytes(m[1], "big") for m in got]
    gaps = [b - a for a, b in itertools.pairwise(numbers) if b - a != 1]
    assert len(gaps) == 1


def test_retries_exhausted_is_a_loss_too() -> None:
    # Nobody answers (the source is gone): after the retries, the receiver gives up.
    link = Link(1, retries=2)
    link.source.tick(0.0)
    link.publish(MESSAGES[:50])
    packet = decode(encode(link.source._data(ODATA, link.source.lead + 5, b"\x00\x00\x02\x00z")))
    receiver = link.receivers[0]
    receiver.on_packet(packet, "10.0.0.1", link.now)  # 4 packets missing, never repaired
    now = link.now
    for _ in range(400):
        now += 0.01
        receiver.tick(now)
    assert receiver.stats["pgm_lost"] == 4
    assert receiver.stats["pgm_naks_sent"] >= 3
    assert not receiver.peers[(b"GSI-01", 1000)].naks


def test_ncf_lists_and_nak_lists() -> None:
    link = Link(1)
    link.source.tick(0.0)
    link.publish(MESSAGES)
    sent: list[bytes] = []
    link.source._send = sent.append
    request = Packet(NAK, 5555, 1000, b"GSI-01", 1, nla="10.0.0.1", group=GROUP, naks=(2, 3, 10**6))
    assert link.source.on_nak(request)
    ncf = decode(sent[0])
    assert ncf.type == NCF and (ncf.sqn, ncf.naks) == (1, (2, 3))  # not the unknown one
