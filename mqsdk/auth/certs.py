"""CURVE certificate files, in the format pyzmq and czmq write (ZPL-like text)::

    #   comment lines
    metadata
        name = value
    curve
        public-key = "<40 Z85 characters>"
        secret-key = "<40 Z85 characters>"      (only in the *.key_secret file)

``create_certificates(dir, name)`` writes ``name.key`` (public, to hand out) and
``name.key_secret`` (keep private; created with mode 0600).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path

_SECRET_BANNER = """#   ****  Generated on {0} by mqsdk  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
"""
_PUBLIC_BANNER = """#   ****  Generated on {0} by mqsdk  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange.
"""


def _write(
    path: Path,
    banner: str,
    public_key: bytes,
    secret_key: bytes | None,
    metadata: Mapping[str, str] | None,
) -> None:
    lines = [banner.format(datetime.datetime.now()), "metadata\n"]
    lines += [f"    {key} = {value}\n" for key, value in (metadata or {}).items()]
    lines.append("curve\n")
    lines.append(f'    public-key = "{public_key.decode("ascii")}"\n')
    if secret_key is not None:
        lines.append(f'    secret-key = "{secret_key.decode("ascii")}"\n')
    mode = 0o600 if secret_key is not None else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(lines))


def create_certificates(
    key_dir: str | os.PathLike[str], name: str, metadata: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """Make a key pair and write ``name.key`` and ``name.key_secret`` in ``key_dir``.

    :returns: the paths of the public and the secret certificate files.
    """
    from mqsdk.z85 import curve_keypair

    public_key, secret_key = curve_keypair()
    base = Path(key_dir) / name
    public_file = base.with_name(f"{name}.key")
    secret_file = base.with_name(f"{name}.key_secret")
    _write(public_file, _PUBLIC_BANNER, public_key, None, metadata)
    _write(secret_file, _SECRET_BANNER, public_key, secret_key, metadata)
    return str(public_file), str(secret_file)


def load_certificate(filename: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """``(public_key, secret_key or None)`` from a certificate file, Z85 bytes.

    :raises OSError: the file does not exist.
    :raises ValueError: no public key in it.
    """
    path = Path(filename)
    if not path.is_file():
        raise OSError(f"invalid certificate file: {filename} does not exist")
    public_key = secret_key = None
    for raw in path.read_bytes().splitlines():
        line = raw.strip()
        if line.startswith(b"#"):
            continue
        if line.startswith(b"public-key"):
            public_key = line.split(b"=", 1)[1].strip(b" \t'\"")
        elif line.startswith(b"secret-key"):
            secret_key = line.split(b"=", 1)[1].strip(b" \t'\"")
    if not public_key:
        raise ValueError(f"no public key found in {filename}")
    return public_key, secret_key


def load_certificates(directory: str | os.PathLike[str] = ".") -> dict[bytes, bool]:
    """The public keys of every ``*.key`` certificate in ``directory``, as
    ``{z85_key: True}`` (pyzmq's shape)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise OSError(f"invalid certificate directory: {directory}")
    return {load_certificate(path)[0]: True for path in sorted(folder.glob("*.key"))}


__all__ = ["create_certificates", "load_certificate", "load_certificates"]
