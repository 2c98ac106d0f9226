"""``vmci://CID:port`` endpoint parsing.

* CID: a decimal number (0..4294967294), ``*`` or ``-1`` for any CID
  (``VMADDR_CID_ANY``, bind only), or ``@`` for the local CID.
* port: a decimal number (0..4294967294), or ``*`` or ``-1`` for any port
  (``VMADDR_PORT_ANY``: the kernel picks one; bind only).

``@`` means ``VMADDR_CID_LOCAL`` (1): the address through which a machine reaches
itself (the ``vsock_loopback`` transport). libzmq disagrees with itself here: its vmci
transport asks VMware's ``VMCISock_GetLocalCID()``, its vsock code uses
``VMADDR_CID_HOST`` (2) while its documentation says ``VMADDR_CID_LOCAL``. The local CID
is the only one of these that always names *this* machine, so it is the one used here.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from mqsdk.plugin import EndpointError

__all__ = [
    "CID_ANY",
    "CID_LOCAL",
    "PORT_ANY",
    "VmciAddress",
    "format_sockaddr",
    "parse_vmci",
]

CID_ANY = 0xFFFFFFFF  # VMADDR_CID_ANY, also what -1 is as an unsigned 32-bit number
PORT_ANY = 0xFFFFFFFF  # VMADDR_PORT_ANY
# socket.VMADDR_CID_LOCAL exists from Python 3.12 (Linux 5.6 headers); its value is 1.
CID_LOCAL: int = getattr(socket, "VMADDR_CID_LOCAL", 1)
_MAX = 0xFFFFFFFE  # the largest number that is not the "any" value

BIND_EXAMPLE = "vmci://*:5555, vmci://@:* or vmci://3:5555"
CONNECT_EXAMPLE = "vmci://2:5555 or vmci://@:5555"


@dataclass(frozen=True)
class VmciAddress:
    """A parsed vmci endpoint; ``sockaddr`` is the ``(cid, port)`` tuple for AF_VSOCK."""

    cid: int
    port: int

    @property
    def sockaddr(self) -> tuple[int, int]:
        return (self.cid, self.port)

    def __str__(self) -> str:
        return "vmci://" + format_sockaddr(self.sockaddr)


def parse_vmci(address: str, *, bind: bool) -> VmciAddress:
    """Parse what follows ``vmci://`` for a bind or a connect; raise EndpointError."""
    example = BIND_EXAMPLE if bind else CONNECT_EXAMPLE
    endpoint = f"vmci://{address}"
    cid_text, sep, port_text = address.rpartition(":")
    if not sep:
        raise _error(endpoint, f"{address!r} has no ':port'", example)
    if not cid_text:
        raise _error(
            endpoint, "the CID before ':' is missing (use * for any, @ for local)", example
        )
    if not port_text:
        raise _error(endpoint, "the port after ':' is missing", example)
    cid = CID_LOCAL if cid_text == "@" else _number(endpoint, cid_text, "CID", example)
    port = _number(endpoint, port_text, "port", example)
    if not bind and cid == CID_ANY:
        raise _error(endpoint, f"connect needs a real CID, not {cid_text!r} (bind only)", example)
    if not bind and port == PORT_ANY:
        raise _error(endpoint, f"connect needs a real port, not {port_text!r} (bind only)", example)
    return VmciAddress(cid, port)


def format_sockaddr(sockaddr: tuple[int, int]) -> str:
    """``3:5555`` / ``*:5555`` from a ``(cid, port)`` tuple such as getsockname() gives."""
    cid, port = int(sockaddr[0]), int(sockaddr[1])
    cid_text = "*" if cid == CID_ANY else str(cid)
    port_text = "*" if port == PORT_ANY else str(port)
    return f"{cid_text}:{port_text}"


def _number(endpoint: str, text: str, what: str, example: str) -> int:
    if text in ("*", "-1"):
        return CID_ANY if what == "CID" else PORT_ANY
    if not (text.isascii() and text.isdigit()):
        extra = " or @" if what == "CID" else ""
        raise _error(endpoint, f"{what} {text!r} is not a decimal number, * or -1{extra}", example)
    value = int(text)
    if value > _MAX:
        raise _error(
            endpoint,
            f"{what} {value} is out of the range 0..{_MAX} (use * or -1 for any)",
            example,
        )
    return value


def _error(endpoint: str, problem: str, example: str) -> EndpointError:
    return EndpointError(f"{endpoint}: {problem}; expected vmci://CID:port such as {example}")
