"""Throw-away certificates for the wss tests (the ``openssl`` command), as PEM bytes:
the form libzmq's ``wss_*`` options take."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class Pems:
    ca: bytes  # trusted by clients (wss_trust_pem)
    cert: bytes  # the server's certificate, for localhost and 127.0.0.1 (wss_cert_pem)
    key: bytes  # its key (wss_key_pem)
    other_ca: bytes  # a CA that signed nothing here
    elsewhere_cert: bytes  # signed by ``ca`` for elsewhere.example only
    elsewhere_key: bytes


def _run(folder: Path, *args: str) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=folder, check=True, capture_output=True, timeout=60)


def _new_key(folder: Path, name: str) -> None:
    _run(folder, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")


def _self_signed_ca(folder: Path, name: str) -> None:
    _new_key(folder, name)
    _run(
        folder, "req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.pem",
        "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _server_cert(folder: Path, name: str, alt_names: str) -> None:
    _new_key(folder, name)
    _run(folder, "req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=ws")
    (folder / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={alt_names}\n"
    )
    _run(
        folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
    )  # fmt: skip


def make_pems() -> Pems:
    with tempfile.TemporaryDirectory(prefix="mqsdk-ws-certs-") as name:
        folder = Path(name)
        _self_signed_ca(folder, "ca")
        _self_signed_ca(folder, "other")
        _server_cert(folder, "server", "DNS:localhost,IP:127.0.0.1")
        _server_cert(folder, "elsewhere", "DNS:elsewhere.example")
        read = lambda file: (folder / file).read_bytes()  # noqa: E731
        return Pems(
            read("ca.pem"), read("server.pem"), read("server.key"), read("other.pem"),
            read("elsewhere.pem"), read("elsewhere.key"),
        )  # fmt: skip
