"""pgm:// and epgm://: reliable multicast PUB/SUB over PGM (an RFC 3208 subset)."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl
from mqsdk_transport_pgm.transport import EpgmTransport, PgmTransport

__all__ = ["EpgmTransport", "PgmTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [PgmTransport, EpgmTransport]
