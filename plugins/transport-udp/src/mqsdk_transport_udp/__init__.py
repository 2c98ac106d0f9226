"""mqsdk ``udp://`` transport: RADIO/DISH messages as datagrams, unicast and multicast."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import UdpAddress, parse_udp
from .transport import MAX_DATAGRAM, DishPipe, RadioPipe, UdpTransport

__all__ = [
    "MAX_DATAGRAM",
    "DishPipe",
    "RadioPipe",
    "UdpAddress",
    "UdpTransport",
    "mqsdk_transports",
    "parse_udp",
]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [UdpTransport]
