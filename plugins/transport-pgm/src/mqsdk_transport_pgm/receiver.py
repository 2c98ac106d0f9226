"""The receiving side of PGM sessions (RFC 3208 sections 5.2, 5.3 and 6): no I/O.

Per source (TSI) it keeps a reorder buffer of data ahead of the next sequence number to
deliver, and a NAK state per missing sequence number:

``BACK-OFF`` (a random wait in [0, NAK_BO_IVL), so that one receiver's NAK, confirmed
by the source's multicast NCF, spares the others theirs) -> send NAK -> ``WAIT-NCF``
(NAK_RPT_IVL) -> on NCF ``WAIT-DATA`` (NAK_RDATA_IVL) -> on RDATA, done. A wait that
expires goes back to BACK-OFF and counts a retry; after ``nak_retries`` of either kind,
or as soon as the source's trailing edge (in SPM, ODATA, RDATA) has passed it, the
sequence number is lost for good. Loss is never papered over: the framing decoder drops
the partial message and resumes at the next message start (see :mod:`.framing`), and
the loss is counted and logged.

A source is joined at the first SPM (from its leading edge on) or ODATA (from that
packet on) heard from it; an ODATA from a source whose SPM we have not heard yet makes
us send an SPMR.

Anyone on the group can forge packets from any TSI, so what the receiver keeps is
bounded whatever they claim: at most ``max_sources`` sources (a new one evicts the one
heard from least recently), and NAK states within ``nak_budget`` for the endpoint,
shared by its sources: each may repair up to :attr:`Receiver.max_naks` missing sequence
numbers (its share, never under ``min_naks``; older gaps beyond that are lost, as if they
had left the window). A lone honest source can thus repair its whole window, while a
thousand forged ones cost a bounded total.
NAK deadlines sit in one heap, so finding the next one does not walk every NAK.
"""

from __future__ import annotations

import heapq
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from mqsdk.plugin import Message
from mqsdk_transport_pgm.framing import StreamUnpacker
from mqsdk_transport_pgm.packets import (
    MAX_NAK_LIST,
    NAK,
    NCF,
    ODATA,
    RDATA,
    SPM,
    SPMR,
    Packet,
    encode,
    sqn_add,
    sqn_diff,
    sqn_list,
    sqn_lt,
)

__all__ = ["Receiver"]

log = logging.getLogger(__name__)

BACK_OFF, WAIT_NCF, WAIT_DATA = 0, 1, 2
_SQN_SPACE = 1 << 32  # sequence numbers wrap here (RFC 3208 3.2)
_MIN_COMPACT = 1024  # deadline heap size below which stale entries are left to surface
_COUNTERS = (
    "pgm_naks_sent",
    "pgm_ncf_received",
    "pgm_rdata_received",
    "pgm_duplicates",
    "pgm_lost",
    "pgm_resyncs",
    "pgm_spmr_sent",
    "pgm_bad_stream",
    "pgm_sources_evicted",
)


@dataclass(slots=True)
class _Nak:
    state: int
    deadline: float
    ncf_retries: int = 0
    data_retries: int = 0


@dataclass(slots=True)
class _Peer:
    gsi: bytes
    sport: int
    nla: str
    next: int  # next sequence number to hand to the decoder
    lead: int  # highest sequence number known to exist
    unpacker: StreamUnpacker
    heard: float
    spm_sqn: int | None = None
    trail: int | None = None  # the source's trailing edge: older data is gone
    held: dict[int, bytes] = field(default_factory=dict)
    naks: dict[int, _Nak] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)


def _is_ipv4(address: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, address)
    except OSError:
        return False
    return True


class Receiver:
    """Every source heard on one endpoint (group and port)."""

    def __init__(
        self,
        *,
        dport: int,
        group: str,
        rxw_sqns: int,
        send: Callable[[bytes], None],
        maxmsgsize: int = -1,
        nak_bo_ivl: float = 0.05,
        nak_rpt_ivl: float = 0.2,
        nak_rdata_ivl: float = 0.2,
        nak_retries: int = 50,
        peer_expiry: float = 300.0,
        max_sources: int = 256,
        nak_budget: int = 65536,
        min_naks: int = 64,
        rng: random.Random | None = None,
        stats: dict[str, int] | None = None,
    ) -> None:
        self.dport, self.group = dport, group
        # Serial-number comparisons only order numbers less than 2**31 apart, so no
        # window may span that (RFC 3208 3.2).
        self.rxw_sqns = min(max(1, rxw_sqns), (1 << 31) - 1)
        self._send = send
        self.maxmsgsize = maxmsgsize
        self.nak_bo_ivl, self.nak_rpt_ivl, self.nak_rdata_ivl = (
            nak_bo_ivl,
            nak_rpt_ivl,
            nak_rdata_ivl,
        )
        self.nak_retries = nak_retries
        self.peer_expiry = peer_expiry
        self.max_sources = max(1, max_sources)
        self.nak_budget = max(1, nak_budget)
        self.min_naks = max(1, min_naks)
        self.rng = rng or random.Random()
        self.peers: dict[tuple[bytes, int], _Peer] = {}
        # (deadline, tsi, sqn) for every NAK deadline ever set. An entry whose NAK is
        # gone or has another deadline by now is stale and skipped when it surfaces.
        self._deadlines: list[tuple[float, tuple[bytes, int], int]] = []
        self._compact_at = _MIN_COMPACT
        self.stats = {} if stats is None else stats
        for name in _COUNTERS:
            self.stats.setdefault(name, 0)

    # -- packets in ----------------------------------------------------------------------

    @property
    def max_naks(self) -> int:
        """How many missing sequence numbers one source may have under repair now: its
        share of ``nak_budget`` (at least ``min_naks``)."""
        return max(self.min_naks, self.nak_budget // max(1, len(self.peers)))

    def on_packet(self, p: Packet, source_ip: str, now: float) -> list[Message]:
        """Handle one downstream packet; return the messages it completes, in order."""
        peer = self.peers.get(p.tsi)
        if p.type == SPM:
            if peer is None:
                peer = self._join(p, source_ip, now, start=sqn_add(p.lead, 1))
            elif peer.spm_sqn is not None and not sqn_lt(peer.spm_sqn, p.sqn):
                return []  # an old or repeated SPM
            peer.spm_sqn = p.sqn
            if _is_ipv4(p.nla):
                peer.nla = p.nla
            else:
                # RFC 3208 allows an IPv6 path NLA, but this endpoint is IPv4 and our
                # NAKs carry IPv4 NLAs only: keep the address we had (an earlier NLA,
                # else the packet's IP source) so that repair goes on.
                log.debug("pgm: ignored SPM path NLA %s from %s:%d", p.nla, p.gsi.hex(), p.sport)
            peer.heard = now
            self._lead(peer, p.lead, now)
            return self._trail(peer, p.trail)
        if p.type in (ODATA, RDATA):
            if peer is None:
                if p.type == RDATA:
                    return []  # a repair for others: we join on original data
                peer = self._join(p, source_ip, now, start=p.sqn)
                self._spmr(peer)
            peer.heard = now
            if p.type == RDATA:
                self.stats["pgm_rdata_received"] += 1
            ahead = sqn_diff(p.sqn, peer.next)
            if ahead < 0 or p.sqn in peer.held:
                self.stats["pgm_duplicates"] += 1
                return self._trail(peer, p.trail)
            if ahead >= self.rxw_sqns:  # beyond our window: what falls out of it is lost
                self._give_up(peer, sqn_add(p.sqn, 1 - self.rxw_sqns))
            peer.held[p.sqn] = p.data
            peer.naks.pop(p.sqn, None)
            self._lead(peer, p.sqn, now)
            return self._trail(peer, p.trail)
        if p.type == NCF and peer is not None:
            self.stats["pgm_ncf_received"] += 1
            for sqn in (p.sqn, *p.naks):
                nak = peer.naks.get(sqn)
                if nak is not None and nak.state != WAIT_DATA:
                    nak.state = WAIT_DATA  # the source will repair it: no NAK from us
                    self._set_deadline(peer, sqn, nak, now + self.nak_rdata_ivl)
        return []

    def _join(self, p: Packet, source_ip: str, now: float, start: int) -> _Peer:
        if len(self.peers) >= self.max_sources:
            # Every packet can claim a new TSI: without a bound, forged ones would each
            # cost a window of state for peer_expiry. An honest source is heard at least
            # every SPM interval, so it is rarely the least recently heard one.
            tsi = min(self.peers, key=lambda t: self.peers[t].heard)
            old = self.peers.pop(tsi)
            self.stats["pgm_sources_evicted"] += 1
            log.debug(
                "pgm: %d sources held; forgot %s:%d (the least recently heard) for %s:%d",
                self.max_sources,
                old.gsi.hex(),
                old.sport,
                p.gsi.hex(),
                p.sport,
            )
        peer = _Peer(
            p.gsi,
            p.sport,
            source_ip,
            next=start,
            lead=sqn_add(start, -1),
            unpacker=StreamUnpacker(self.maxmsgsize),
            heard=now,
        )
        self.peers[p.tsi] = peer
        log.debug("pgm: joined source %s:%d at sqn %d", p.gsi.hex(), p.sport, start)
        return peer

    def _spmr(self, peer: _Peer) -> None:
        self._send(encode(Packet(SPMR, self.dport, peer.sport, peer.gsi)))
        self.stats["pgm_spmr_sent"] += 1

    def _lead(self, peer: _Peer, lead: int, now: float) -> None:
        """Data up to ``lead`` exists: start a NAK for each sequence number we miss."""
        gap = sqn_diff(lead, peer.lead)
        if gap <= 0:
            return
        behind = sqn_diff(lead, peer.next)  # how far lead is past what we deliver next
        if behind >= self.rxw_sqns:
            self._give_up(peer, sqn_add(lead, 1 - self.rxw_sqns))
        # The new sequence numbers, but only those inside our window and not yet
        # delivered: a lead far ahead (a hostile packet can claim 2**31 - 1) costs at
        # most one window of NAK states, never one step per claimed number.
        count = min(gap, self.rxw_sqns, behind + 1, self.max_naks)
        sqn = sqn_add(lead, 1 - count)
        for _ in range(count):
            if sqn not in peer.held and sqn not in peer.naks:
                nak = peer.naks[sqn] = _Nak(BACK_OFF, 0.0)
                self._set_deadline(peer, sqn, nak, now + self.rng.uniform(0.0, self.nak_bo_ivl))
            sqn = sqn_add(sqn, 1)
        if count < gap:
            # Numbers between the old lead and the first one we NAK get no NAK state:
            # give them up (with anything older) so delivery does not wait on them.
            self._give_up(peer, sqn_add(lead, 1 - count))
        peer.lead = lead
        if len(peer.naks) > self.max_naks:
            # Gaps opened one after another: repair the newest max_naks, lose the rest.
            # (The window keeps at most max(rxw, max_naks) of them, so this sort is too.)
            newest = sorted(peer.naks, key=lambda s: sqn_diff(s, lead))
            self._give_up(peer, newest[-self.max_naks])

    def _give_up(self, peer: _Peer, before: int) -> None:
        """Everything we miss older than ``before`` is lost."""
        if peer.trail is None or sqn_lt(peer.trail, before):
            peer.trail = before

    def _trail(self, peer: _Peer, trail: int) -> list[Message]:
        # Only a trail ahead of what we have delivered matters (a receiver that joined
        # late has not asked for the source's older data).
        if sqn_lt(peer.next, trail):
            self._give_up(peer, trail)
        return self._drain(peer)

    def _drain(self, peer: _Peer) -> list[Message]:
        """Hand every in-order packet to the decoder, skipping those lost for good."""
        messages: list[Message] = []
        lost = self._skip_to_trail(peer, messages)
        first_lost = None if lost is None else lost[0]
        lost_count = 0 if lost is None else lost[1]
        held = peer.held
        # Past the trail, only held data and NAKs given up on advance us: one step each,
        # so this loop is bounded by the receive window.
        while True:
            sqn = peer.next
            data = held.pop(sqn, None)
            if data is not None:
                self._feed(peer, sqn, data, messages)
            elif sqn in peer.lost:
                peer.lost.discard(sqn)
                peer.naks.pop(sqn, None)
                if first_lost is None:
                    first_lost = sqn
                lost_count += 1
                if peer.unpacker.lose():
                    self.stats["pgm_resyncs"] += 1
            else:
                break
            peer.next = sqn_add(sqn, 1)
            if sqn_lt(peer.lead, sqn):
                peer.lead = sqn
        if lost_count:
            self.stats["pgm_lost"] += lost_count
            log.warning(
                "pgm: unrecoverable data loss from source %s:%d: %d packet(s) from sqn %d "
                "are no longer in its transmit window; resuming at the next message start",
                peer.gsi.hex(),
                peer.sport,
                lost_count,
                first_lost,
            )
        return messages

    def _skip_to_trail(self, peer: _Peer, messages: list[Message]) -> tuple[int, int] | None:
        """Move ``next`` straight up to the source's trailing edge (RFC 3208: data
        before it can no longer be repaired), delivering what we hold in between.

        The trail comes from the packet, so it may be up to 2**31 - 1 ahead: the cost
        must follow what we hold (at most a window), not the distance. Return the first
        lost sequence number and how many were lost, or None if none were."""
        trail = peer.trail
        if trail is None or not sqn_lt(peer.next, trail):
            return None
        start = peer.next
        distance = (trail - start) % _SQN_SPACE  # 2**31 apart counts as ahead here

        def offset(sqn: int) -> int:
            return (sqn - start) % _SQN_SPACE

        first_lost: int | None = None
        lost = 0

        def lose_up_to(sqn: int) -> None:
            # Everything from peer.next to just before sqn is gone for good.
            nonlocal first_lost, lost
            gap = (sqn - peer.next) % _SQN_SPACE
            if gap:
                if first_lost is None:
                    first_lost = peer.next
                lost += gap
                if peer.unpacker.lose():
                    self.stats["pgm_resyncs"] += 1

        for sqn in sorted((s for s in peer.held if offset(s) < distance), key=offset):
            lose_up_to(sqn)
            self._feed(peer, sqn, peer.held.pop(sqn), messages)
            peer.next = sqn_add(sqn, 1)
        lose_up_to(trail)
        peer.next = trail
        # What we were still asking for, or had given up on, below the trail is settled.
        for sqn in [s for s in peer.naks if offset(s) < distance]:
            del peer.naks[sqn]
        peer.lost = {s for s in peer.lost if offset(s) >= distance}
        if sqn_lt(peer.lead, sqn_add(trail, -1)):
            peer.lead = sqn_add(trail, -1)  # that data existed, or the trail could not pass it
        return None if first_lost is None else (first_lost, lost)

    def _feed(self, peer: _Peer, sqn: int, data: bytes, messages: list[Message]) -> None:
        unpacker = peer.unpacker
        corrupt = unpacker.corrupt
        messages += unpacker.feed(data)
        if unpacker.corrupt != corrupt:
            self.stats["pgm_bad_stream"] += 1
            log.warning(
                "pgm: undecodable data from source %s:%d in sqn %d; dropped the "
                "partial message, resuming at the next message start",
                peer.gsi.hex(),
                peer.sport,
                sqn,
            )

    # -- timers --------------------------------------------------------------------------

    def tick(self, now: float) -> tuple[list[Message], float | None]:
        """Run the NAK state machines and peer expiry; return the messages that loss
        declared here lets through, and when to call again (None: nothing pending)."""
        messages: list[Message] = []
        for tsi, peer in list(self.peers.items()):
            if now - peer.heard > self.peer_expiry:
                del self.peers[tsi]  # its heap entries go stale
        due: dict[tuple[bytes, int], list[int]] = {}
        gave_up: set[tuple[bytes, int]] = set()
        # New deadlines go in the heap after the loop: each NAK moves at most one step
        # per tick, even when its next deadline is already due (a zero interval).
        later: list[tuple[_Peer, int, _Nak, float]] = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            when, tsi, sqn = heapq.heappop(heap)
            found = self.peers.get(tsi)
            nak = None if found is None else found.naks.get(sqn)
            if found is None or nak is None or nak.deadline != when:
                continue  # stale: the NAK is settled, or has a later deadline
            if nak.state == BACK_OFF:
                due.setdefault(tsi, []).append(sqn)
                nak.state = WAIT_NCF
                nak.deadline = now + self.nak_rpt_ivl  # any other entry for it is stale now
                later.append((found, sqn, nak, nak.deadline))
                continue
            if nak.state == WAIT_NCF:
                nak.ncf_retries += 1
                retries = nak.ncf_retries
            else:
                nak.data_retries += 1
                retries = nak.data_retries
            if retries > self.nak_retries:
                del found.naks[sqn]
                found.lost.add(sqn)
                gave_up.add(tsi)
                continue
            nak.state = BACK_OFF
            nak.deadline = now + self.rng.uniform(0.0, self.nak_bo_ivl)
            later.append((found, sqn, nak, nak.deadline))
        for peer, sqn, nak, when in later:
            self._set_deadline(peer, sqn, nak, when)
        for tsi, sqns in due.items():
            peer = self.peers[tsi]
            self._send_naks(peer, sorted(sqns, key=lambda s: sqn_diff(s, peer.next)))
        for tsi in gave_up:
            messages += self._drain(self.peers[tsi])
        deadline = self.next_deadline()
        if self.peers:
            expiry = min(p.heard for p in self.peers.values()) + self.peer_expiry
            deadline = expiry if deadline is None else min(deadline, expiry)
        return messages, deadline

    def _set_deadline(self, peer: _Peer, sqn: int, nak: _Nak, deadline: float) -> None:
        nak.deadline = deadline
        heapq.heappush(self._deadlines, (deadline, (peer.gsi, peer.sport), sqn))
        if len(self._deadlines) > self._compact_at:
            # Stale entries (evicted sources, repaired data) only leave when they reach
            # the top; a flood could pile them up faster. Rebuilding once the heap has
            # doubled keeps it within twice the live NAKs, at amortised O(1) a push.
            self._deadlines = [
                (live.deadline, tsi, live_sqn)
                for tsi, held_peer in self.peers.items()
                for live_sqn, live in held_peer.naks.items()
            ]
            heapq.heapify(self._deadlines)
            self._compact_at = max(_MIN_COMPACT, 2 * len(self._deadlines))

    def _send_naks(self, peer: _Peer, sqns: list[int]) -> None:
        step = MAX_NAK_LIST + 1
        for start in range(0, len(sqns), step):
            chunk = sqns[start : start + step]
            nak = sqn_list(NAK, self.dport, peer.sport, peer.gsi, chunk, peer.nla, self.group)
            self._send(encode(nak))
            self.stats["pgm_naks_sent"] += 1

    def next_deadline(self) -> float | None:
        """The earliest NAK deadline, or None. The transport asks after every batch of
        packets, so this costs the stale entries it drops, not one step per NAK."""
        heap = self._deadlines
        while heap:
            deadline, tsi, sqn = heap[0]
            peer = self.peers.get(tsi)
            nak = None if peer is None else peer.naks.get(sqn)
            if nak is not None and nak.deadline == deadline:
                return deadline
            heapq.heappop(heap)
        return None
