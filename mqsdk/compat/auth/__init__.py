"""``zmq.auth``: ZAP authentication (mqsdk's :mod:`mqsdk.auth`)."""

from __future__ import annotations

from mqsdk.compat.auth.base import CURVE_ALLOW_ANY, VERSION, Authenticator
from mqsdk.compat.auth.certs import create_certificates, load_certificate, load_certificates

__all__ = [
    "CURVE_ALLOW_ANY",
    "VERSION",
    "Authenticator",
    "create_certificates",
    "load_certificate",
    "load_certificates",
]
