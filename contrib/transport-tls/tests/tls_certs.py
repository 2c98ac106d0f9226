"""A throwaway CA and certificates for the tests (made by :mod:`mqsdk.testing.certs`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mqsdk.testing.certs import OPENSSL, make_ca, make_leaf

__all__ = ["OPENSSL", "Certs", "make_certs"]

LOOPBACK = "DNS:localhost,IP:127.0.0.1"


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed none of the above


def make_certs(directory: Path) -> Certs:
    """A CA, a server and a client certificate (for localhost and 127.0.0.1), and an
    unrelated CA."""
    ca = make_ca(directory, "test-ca")
    server = make_leaf(directory, "server", ca, LOOPBACK, client_auth=True)
    client = make_leaf(directory, "client", ca, LOOPBACK, client_auth=True)
    other_ca = make_ca(directory, "other-ca")
    return Certs(ca.cert, server.cert, server.key, client.cert, client.key, other_ca.cert)
