"""CURVE security (RFC 25/26, CurveZMQ): authenticated encryption with PyNaCl."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Mechanism, hookimpl
from mqsdk_mechanism_curve.mechanism import CurveMechanism, curve_keypair, curve_public

__all__ = ["CurveMechanism", "curve_keypair", "curve_public", "mqsdk_mechanisms"]


@hookimpl
def mqsdk_mechanisms() -> Sequence[type[Mechanism]]:
    return [CurveMechanism]
