"""PGM packets (RFC 3208 section 8 and 9): encode and decode, no I/O.

The subset mqsdk speaks: SPM, ODATA, RDATA, NAK, NCF and SPMR, IPv4 NLAs, and the
options OPT_LENGTH (required first whenever options are present) and OPT_NAK_LIST (up to
62 extra sequence numbers in one NAK or NCF). Other options are skipped by their length;
OPT_FRAGMENT makes a data packet unsupported (libzmq never fragments: it writes at most
one TSDU per packet). Anything short, inconsistent or failing the checksum raises
:class:`PacketError`, which the transport counts and drops.

Sequence numbers live in a circular 32-bit space (RFC 3208 3.2): compare them with
:func:`sqn_diff` / :func:`sqn_lt`, never with ``<``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = [
    "NAK",
    "NCF",
    "ODATA",
    "RDATA",
    "SPM",
    "SPMR",
    "Packet",
    "PacketError",
    "checksum",
    "decode",
    "encode",
    "sqn_add",
    "sqn_diff",
    "sqn_list",
    "sqn_lt",
]

SPM = 0x00
ODATA = 0x04
RDATA = 0x05
NAK = 0x08
NNAK = 0x09
NCF = 0x0A
SPMR = 0x0C
TYPE_NAMES = {SPM: "SPM", ODATA: "ODATA", RDATA: "RDATA", NAK: "NAK", NCF: "NCF", SPMR: "SPMR"}

OPT_PRESENT = 0x01  # header options bit 0: option extensions follow
OPT_NETWORK = 0x02  # network-significant options
OPT_LENGTH = 0x00
OPT_FRAGMENT = 0x01
OPT_NAK_LIST = 0x02
OPT_END = 0x80  # set on the option type of the last option
MAX_NAK_LIST = 62  # sequence numbers in one OPT_NAK_LIST (plus the packet's own one)

AFI_IP = 1
AFI_IP6 = 2

HEADER = struct.Struct("!HHBBH6sH")  # sport dport type options checksum gsi tsdu_length
_DATA = struct.Struct("!II")  # sqn trail
_SPM = struct.Struct("!IIIHH")  # sqn trail lead afi reserved (then the NLA)
_AFI = struct.Struct("!HH")
_OPT_LENGTH = struct.Struct("!BBH")
_MOD = 1 << 32


class PacketError(ValueError):
    """A packet that is truncated, inconsistent, corrupt or of an unsupported kind."""


def sqn_add(sqn: int, n: int) -> int:
    return (sqn + n) % _MOD


def sqn_diff(a: int, b: int) -> int:
    """``a - b`` in serial-number arithmetic: in [-2**31, 2**31)."""
    d = (a - b) % _MOD
    return d - _MOD if d >= 1 << 31 else d


def sqn_lt(a: int, b: int) -> bool:
    return sqn_diff(a, b) < 0


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit one's complement of the one's complement sum of ``data`` (RFC 1071),
    never 0 (a computed 0 is sent as 0xFFFF; 0 on the wire means "no checksum")."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    # 2**16 == 1 (mod 0xFFFF): the end-around-carry sum of the 16-bit words is the
    # number's residue mod 0xFFFF, computed in C by int.from_bytes.
    return 0xFFFF - int.from_bytes(data, "big") % 0xFFFF


@dataclass(frozen=True, slots=True)
class Packet:
    """One PGM packet. Fields a type does not use stay at their defaults.

    ``sqn`` is the SPM's own sequence number, the data packet's, or the (first)
    requested one of a NAK/NCF; ``naks`` are the further ones from OPT_NAK_LIST.
    ``nla`` is the SPM's path NLA or the NAK/NCF source NLA; ``group`` the NAK/NCF
    multicast group NLA.
    """

    type: int
    sport: int
    dport: int
    gsi: bytes
    sqn: int = 0
    trail: int = 0
    lead: int = 0
    nla: str = "0.0.0.0"
    group: str = "0.0.0.0"
    naks: tuple[int, ...] = ()
    data: bytes = b""

    @property
    def tsi(self) -> tuple[bytes, int]:
        """The transport session id of a downstream packet (GSI, source port)."""
        return (self.gsi, self.sport)


def sqn_list(
    kind: int, sport: int, dport: int, gsi: bytes, sqns: list[int], nla: str, group: str
) -> Packet:
    """A NAK or NCF for ``sqns``: the first in the header, the rest in OPT_NAK_LIST."""
    return Packet(kind, sport, dport, gsi, sqns[0], nla=nla, group=group, naks=tuple(sqns[1:]))


def _nla(addr: str) -> bytes:
    try:
        return _AFI.pack(AFI_IP, 0) + socket.inet_aton(addr)
    except OSError:
        raise PacketError(f"{addr!r} is not an IPv4 address") from None


def _options(naks: tuple[int, ...]) -> bytes:
    if not naks:
        return b""
    if len(naks) > MAX_NAK_LIST:
        raise PacketError(f"OPT_NAK_LIST holds at most {MAX_NAK_LIST} sequence numbers")
    body = struct.pack(f"!BBBB{len(naks)}I", OPT_NAK_LIST | OPT_END, 4 + 4 * len(naks), 0, 0, *naks)
    return _OPT_LENGTH.pack(OPT_LENGTH, 4, 4 + len(body)) + body


def encode(p: Packet) -> bytes:
    """The packet's bytes, checksum included."""
    options = b""
    if p.type in (ODATA, RDATA):
        body = _DATA.pack(p.sqn, p.trail)
        tsdu = p.data
    elif p.type == SPM:
        body = _SPM.pack(p.sqn, p.trail, p.lead, AFI_IP, 0) + socket.inet_aton(p.nla)
        tsdu = b""
    elif p.type in (NAK, NCF):
        body = struct.pack("!I", p.sqn) + _nla(p.nla) + _nla(p.group)
        options = _options(p.naks)
        tsdu = b""
    elif p.type == SPMR:
        body = tsdu = b""
    else:
        raise PacketError(f"cannot encode PGM packet type {p.type:#04x}")
    flags = OPT_PRESENT if options else 0
    header = HEADER.pack(p.sport, p.dport, p.type, flags, 0, p.gsi, len(tsdu))
    packet = bytearray(header + body + options + tsdu)
    struct.pack_into("!H", packet, 6, checksum(packet))
    return bytes(packet)


def _read_nla(data: bytes, pos: int) -> tuple[str, int]:
    if len(data) < pos + 4:
        raise PacketError("truncated NLA")
    afi, _ = _AFI.unpack_from(data, pos)
    pos += 4
    if afi == AFI_IP:
        if len(data) < pos + 4:
            raise PacketError("truncated IPv4 NLA")
        return socket.inet_ntoa(data[pos : pos + 4]), pos + 4
    if afi == AFI_IP6:
        if len(data) < pos + 16:
            raise PacketError("truncated IPv6 NLA")
        return socket.inet_ntop(socket.AF_INET6, data[pos : pos + 16]), pos + 16
    raise PacketError(f"unknown NLA address family {afi}")


def _read_options(data: bytes, pos: int) -> tuple[tuple[int, ...], bool, int]:
    """Walk the option extensions at ``pos``: (NAK list, fragment seen, end position)."""
    if len(data) < pos + 4:
        raise PacketError("truncated OPT_LENGTH")
    kind, length, total = _OPT_LENGTH.unpack_from(data, pos)
    if kind & 0x7F != OPT_LENGTH or length != 4:
        raise PacketError("options present but the first one is not OPT_LENGTH")
    end = pos + total
    if total < 8 or end > len(data):
        raise PacketError(f"OPT_LENGTH total {total} does not fit the packet")
    pos += 4
    naks: tuple[int, ...] = ()
    fragment = False
    while True:
        if pos + 3 > end:
            raise PacketError("option runs past OPT_LENGTH's total")
        kind, length = data[pos], data[pos + 1]
        if length < 3 or pos + length > end:
            raise PacketError(f"option {kind & 0x7F:#04x} has a bad length {length}")
        option = kind & 0x7F
        if option == OPT_NAK_LIST:
            count, rest = divmod(length - 4, 4)
            if length < 4 or rest or count > MAX_NAK_LIST:
                raise PacketError(f"OPT_NAK_LIST has a bad length {length}")
            naks = struct.unpack_from(f"!{count}I", data, pos + 4)
        elif option == OPT_FRAGMENT:
            fragment = True
        pos += length
        if kind & OPT_END:
            break
    if pos != end:
        raise PacketError("options end before OPT_LENGTH's total")
    return naks, fragment, end


def decode(data: bytes) -> Packet:
    """Parse one PGM packet (starting at its PGM header). Raises :class:`PacketError`."""
    if len(data) < HEADER.size:
        raise PacketError(f"{len(data)} bytes is shorter than a PGM header")
    sport, dport, kind, flags, csum, gsi, tsdu_length = HEADER.unpack_from(data)
    kind &= 0x0F  # the high nibble is the version (0)
    if csum:
        zeroed = bytearray(data)
        zeroed[6:8] = b"\0\0"
        if checksum(zeroed) != csum:
            raise PacketError("bad PGM checksum")
    elif kind in (ODATA, RDATA):
        raise PacketError("data packet without a checksum (mandatory for ODATA/RDATA)")
    pos = HEADER.size
    naks: tuple[int, ...] = ()
    fragment = False
    if kind in (ODATA, RDATA):
        if len(data) < pos + _DATA.size:
            raise PacketError("truncated data packet header")
        sqn, trail = _DATA.unpack_from(data, pos)
        pos += _DATA.size
        if flags & OPT_PRESENT:
            naks, fragment, pos = _read_options(data, pos)
        if fragment:
            raise PacketError("fragmented APDU (OPT_FRAGMENT) is not supported")
        if len(data) - pos != tsdu_length:
            raise PacketError(f"TSDU length {tsdu_length} but {len(data) - pos} bytes follow")
        return Packet(kind, sport, dport, gsi, sqn, trail, data=bytes(data[pos:]))
    if tsdu_length:
        raise PacketError(f"{TYPE_NAMES.get(kind, kind)} with a TSDU length")
    if kind == SPM:
        if len(data) < pos + _SPM.size:
            raise PacketError("truncated SPM")
        sqn, trail, lead, _, _ = _SPM.unpack_from(data, pos)
        nla, pos = _read_nla(data, pos + 12)
        return Packet(kind, sport, dport, gsi, sqn, trail, lead, nla)
    if kind in (NAK, NCF, NNAK):
        if len(data) < pos + 4:
            raise PacketError("truncated NAK")
        (sqn,) = struct.unpack_from("!I", data, pos)
        nla, pos = _read_nla(data, pos + 4)
        group, pos = _read_nla(data, pos)
        if flags & OPT_PRESENT:
            naks, _, pos = _read_options(data, pos)
        return Packet(kind, sport, dport, gsi, sqn, nla=nla, group=group, naks=naks)
    if kind == SPMR:
        return Packet(kind, sport, dport, gsi)
    raise PacketError(f"unsupported PGM packet type {kind:#04x}")
