"""The sending side of a PGM session (RFC 3208 section 5.1 and 6): no I/O, no threads.

It numbers ODATA packets, keeps the last ``txw_sqns`` of them in the transmit window to
repair from, answers a NAK with an NCF (multicast) and an RDATA if the data is still in
the window, sends SPMs (ambient, as a heartbeat after data, and on an SPMR), and spends
a token bucket of ``rate`` bytes per second on ODATA and RDATA (repairs first). The
caller passes the time in and sends the bytes it gets back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from mqsdk_transport_pgm.framing import StreamPacker
from mqsdk_transport_pgm.packets import (
    NCF,
    ODATA,
    RDATA,
    SPM,
    Packet,
    encode,
    sqn_add,
    sqn_diff,
    sqn_list,
)

__all__ = ["HEARTBEAT_SPM", "Source"]

# libzmq's OpenPGM tuning (pgm_socket.cpp): heartbeat SPMs after data, then ambient.
HEARTBEAT_SPM = (0.1, 0.1, 0.1, 0.1, 1.3, 7.0, 16.0, 25.0, 30.0)
AMBIENT_SPM = 30.0
SPMR_HOLDOFF = 0.025  # answer SPMRs at most this often


class Source:
    """One transport session we originate (one TSI)."""

    def __init__(
        self,
        *,
        gsi: bytes,
        sport: int,
        dport: int,
        group: str,
        nla: str,
        max_tsdu: int,
        txw_sqns: int,
        rate: int,
        overhead: int,
        send: Callable[[bytes], None],
        now: float,
        first_sqn: int = 0,
        stats: dict[str, int] | None = None,
    ) -> None:
        self.gsi, self.sport, self.dport = gsi, sport, dport
        self.group, self.nla = group, nla
        self.packer = StreamPacker(max_tsdu)
        self.txw_sqns = max(1, txw_sqns)
        self.rate = rate * 1000 // 8  # kbit/s -> bytes/s
        self.burst = max(self.rate // 20, 4 * (max_tsdu + 64))
        self.tokens = float(self.burst)
        self._refilled = now
        self.overhead = overhead  # IP (+UDP) header bytes counted against the rate
        self._send = send
        self.window: deque[bytes] = deque()  # TSDUs trail .. lead
        self.trail = first_sqn  # empty window: trail == lead + 1
        self.lead = sqn_add(first_sqn, -1)
        self.spm_sqn = 0
        self._repairs: deque[int] = deque()
        self._queued: set[int] = set()
        self._heartbeat = 0  # index into HEARTBEAT_SPM; len() means ambient
        self.next_spm = now  # the first SPM goes out at once
        self._last_spmr = -1.0
        self.stats = {} if stats is None else stats
        for name in ("pgm_odata_sent", "pgm_rdata_sent", "pgm_naks_received", "pgm_ncf_sent"):
            self.stats.setdefault(name, 0)

    # -- what we send -----------------------------------------------------------------

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    def _spend(self, packet: bytes) -> None:
        self.tokens -= len(packet) + self.overhead
        self._send(packet)

    def pump(self, now: float, more: Callable[[], bool], *, unlimited: bool = False) -> float:
        """Send repairs, then new data, while the rate allows. ``more()`` loads further
        messages into :attr:`packer` and says if it did. Return seconds until the bucket
        can pay for the next packet, or 0.0 when nothing is left to send."""
        self._refill(now)
        sent_data = False
        while True:
            if self.tokens <= 0 and not unlimited:
                return -self.tokens / self.rate
            if self._repairs:
                self._repair(self._repairs.popleft())
                continue
            if len(self.packer) < self.packer.room and more():
                continue
            tsdu = self.packer.take()
            if tsdu is None:
                break
            self.lead = sqn_add(self.lead, 1)
            self.window.append(tsdu)
            if len(self.window) > self.txw_sqns:
                self.window.popleft()
                self.trail = sqn_add(self.trail, 1)
            self._spend(encode(self._data(ODATA, self.lead, tsdu)))
            self.stats["pgm_odata_sent"] += 1
            sent_data = True
        if sent_data:  # heartbeats follow data, so receivers learn of a lost tail
            self._heartbeat = 1
            self.next_spm = now + HEARTBEAT_SPM[0]
        return 0.0

    def _data(self, kind: int, sqn: int, tsdu: bytes) -> Packet:
        return Packet(kind, self.sport, self.dport, self.gsi, sqn, self.trail, data=tsdu)

    def _repair(self, sqn: int) -> None:
        self._queued.discard(sqn)
        index = sqn_diff(sqn, self.trail)
        if 0 <= index < len(self.window):
            self._spend(encode(self._data(RDATA, sqn, self.window[index])))
            self.stats["pgm_rdata_sent"] += 1

    def spm(self) -> None:
        packet = Packet(
            SPM, self.sport, self.dport, self.gsi, self.spm_sqn, self.trail, self.lead, self.nla
        )
        self.spm_sqn = sqn_add(self.spm_sqn, 1)
        self._send(encode(packet))

    def tick(self, now: float) -> float:
        """Send the SPM that is due; return when the next one is."""
        if now >= self.next_spm:
            self.spm()
            if self._heartbeat < len(HEARTBEAT_SPM):
                self.next_spm = now + HEARTBEAT_SPM[self._heartbeat]
                self._heartbeat += 1
            else:
                self.next_spm = now + AMBIENT_SPM
        return self.next_spm

    # -- what receivers send us -------------------------------------------------------

    def in_window(self, sqn: int) -> bool:
        return 0 <= sqn_diff(sqn, self.trail) < len(self.window)

    def on_nak(self, packet: Packet) -> bool:
        """A NAK for our session: confirm what we can repair (NCF) and queue the
        repairs. True if a repair was queued (the caller pumps)."""
        self.stats["pgm_naks_received"] += 1
        wanted = [s for s in (packet.sqn, *packet.naks) if self.in_window(s)]
        if not wanted:
            return False  # gone: receivers learn it from the trail in SPM and data
        ncf = sqn_list(NCF, self.sport, self.dport, self.gsi, wanted, self.nla, self.group)
        self._send(encode(ncf))
        self.stats["pgm_ncf_sent"] += 1
        queued = False
        for sqn in wanted:
            if sqn not in self._queued:  # one repair answers every NAK for it
                self._queued.add(sqn)
                self._repairs.append(sqn)
                queued = True
        return queued

    def on_spmr(self, now: float) -> None:
        if now - self._last_spmr >= SPMR_HOLDOFF:
            self._last_spmr = now
            self.spm()

    @property
    def pending(self) -> bool:
        return bool(self._repairs) or len(self.packer) > 0
