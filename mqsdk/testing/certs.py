"""Throw-away certificate authorities and certificates for tests of TLS-based transports
(tls, wss), made with the ``openssl`` command: EC P-256 keys, valid two days.

::

    folder = Path(tmp)
    ca = make_ca(folder, "test-ca")
    server = make_leaf(folder, "server", ca, "DNS:localhost,IP:127.0.0.1")
    ssl_context.load_cert_chain(server.cert, server.key)

:data:`OPENSSL` is None where the command is missing: tests skip with that reason.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM key, as files."""

    cert: Path
    key: Path


def _openssl(folder: Path, *args: str | Path) -> None:
    if OPENSSL is None:
        raise RuntimeError("the openssl command is not installed")
    subprocess.run(
        [OPENSSL, *map(str, args)], cwd=folder, check=True, capture_output=True, timeout=60
    )


def _new_key(folder: Path, name: str) -> Path:
    key = folder / f"{name}.key"
    _openssl(folder, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    return key


def make_ca(folder: Path, name: str) -> KeyPair:
    """A self-signed certificate authority named ``name`` (``<name>.pem``/``.key``)."""
    key, cert = _new_key(folder, name), folder / f"{name}.pem"
    _openssl(
        folder, "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2",
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
    )  # fmt: skip
    return KeyPair(cert, key)


def make_leaf(
    folder: Path, name: str, ca: KeyPair, alt_names: str, *, client_auth: bool = False
) -> KeyPair:
    """A certificate for ``alt_names`` (``"DNS:localhost,IP:127.0.0.1"``) signed by
    ``ca``, for servers, and for clients too with ``client_auth``."""
    key = _new_key(folder, name)
    csr, cert, extensions = (folder / f"{name}{ext}" for ext in (".csr", ".pem", ".ext"))
    _openssl(folder, "req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={name}")
    usage = "serverAuth,clientAuth" if client_auth else "serverAuth"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\nsubjectKeyIdentifier=hash\n"
        f"authorityKeyIdentifier=keyid\nsubjectAltName={alt_names}\n"
    )
    _openssl(
        folder, "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extensions,
    )  # fmt: skip
    return KeyPair(cert, key)
