"""mqsdk ``tcp://`` transport: libzmq's endpoint forms over IPv4 and IPv6."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import TcpAddress
from .transport import TcpTransport

__all__ = ["TcpAddress", "TcpTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [TcpTransport]
