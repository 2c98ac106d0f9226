"""mqsdk ``tls://`` transport: ZMTP over TLS (TCP plus Python's ``ssl`` module)."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import TlsAddress, parse_tls
from .transport import TlsTransport

__all__ = ["TlsAddress", "TlsTransport", "mqsdk_transports", "parse_tls"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [TlsTransport]
