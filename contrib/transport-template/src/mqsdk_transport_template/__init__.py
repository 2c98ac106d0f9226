"""mqsdk ``template://`` transport: ZMTP over TCP, as the starting point of a new transport."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .transport import TemplateAddress, TemplateTransport

__all__ = ["TemplateAddress", "TemplateTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    """Registration hook: the transport classes this plugin provides."""
    return [TemplateTransport]
