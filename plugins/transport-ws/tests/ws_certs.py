"""Throw-away certificates for the wss tests, as PEM bytes: the form libzmq's ``wss_*``
options take (made by :mod:`mqsdk.testing.certs`)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mqsdk.testing.certs import OPENSSL, make_ca, make_leaf

__all__ = ["OPENSSL", "Pems", "make_pems"]


@dataclass(frozen=True)
class Pems:
    ca: bytes  # trusted by clients (wss_trust_pem)
    cert: bytes  # the server's certificate, for localhost and 127.0.0.1 (wss_cert_pem)
    key: bytes  # its key (wss_key_pem)
    other_ca: bytes  # a CA that signed nothing here
    elsewhere_cert: bytes  # signed by ``ca`` for elsewhere.example only
    elsewhere_key: bytes


def make_pems() -> Pems:
    with tempfile.TemporaryDirectory(prefix="mqsdk-ws-certs-") as name:
        folder = Path(name)
        ca = make_ca(folder, "ca")
        other = make_ca(folder, "other")
        server = make_leaf(folder, "server", ca, "DNS:localhost,IP:127.0.0.1")
        elsewhere = make_leaf(folder, "elsewhere", ca, "DNS:elsewhere.example")
        return Pems(
            ca.cert.read_bytes(), server.cert.read_bytes(), server.key.read_bytes(),
            other.cert.read_bytes(), elsewhere.cert.read_bytes(), elsewhere.key.read_bytes(),
        )  # fmt: skip
