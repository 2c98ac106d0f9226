"""mqsdk ``ws://`` and ``wss://`` transports: ZMTP over WebSocket (ZWS 2.0, ZeroMQ RFC 45)."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .transport import WsAddress, WsOptions, WsSocket, WssSocket, WssTransport, WsTransport
from .zws import ZwsStream, accept_key

__all__ = [
    "WsAddress",
    "WsOptions",
    "WsSocket",
    "WsTransport",
    "WssSocket",
    "WssTransport",
    "ZwsStream",
    "accept_key",
    "mqsdk_transports",
]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [WsTransport, WssTransport]
