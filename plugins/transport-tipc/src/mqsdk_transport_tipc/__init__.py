"""mqsdk ``tipc://`` transport: libzmq's endpoint forms over Linux AF_TIPC stream sockets."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import TipcAddress, format_last_endpoint, format_port_id, parse_tipc, tipc_addr
from .transport import TipcTransport

__all__ = [
    "TipcAddress",
    "TipcTransport",
    "format_last_endpoint",
    "format_port_id",
    "mqsdk_transports",
    "parse_tipc",
    "tipc_addr",
]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [TipcTransport]
