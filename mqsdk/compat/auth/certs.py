"""``zmq.auth.certs``: CURVE certificate files."""

from __future__ import annotations

from mqsdk.auth.certs import create_certificates, load_certificate, load_certificates

__all__ = ["create_certificates", "load_certificate", "load_certificates"]
