"""``zmq.auth.base``: the authenticator's policy and request handling."""

from __future__ import annotations

from mqsdk._kernel.mechanism import ZAP_VERSION as VERSION
from mqsdk.auth import CURVE_ALLOW_ANY, Authenticator

__all__ = ["CURVE_ALLOW_ANY", "VERSION", "Authenticator"]
