"""PLAIN security (RFC 24): a username and password in clear, checked by a ZAP handler."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Mechanism, hookimpl
from mqsdk_mechanism_plain.mechanism import PlainMechanism

__all__ = ["PlainMechanism", "mqsdk_mechanisms"]


@hookimpl
def mqsdk_mechanisms() -> Sequence[type[Mechanism]]:
    return [PlainMechanism]
