"""Security options as libzmq names them, and which mechanism they select.

libzmq derives the mechanism and our role from the last option set (options.cpp):
``plain_server=1`` or a PLAIN username/password selects PLAIN, ``curve_server=1``,
a CURVE key or a server key selects CURVE; ``plain_server=0``/``curve_server=0`` go
back to NULL. mqsdk does the same, and refuses at once (instead of silently staying
on NULL) when the selected mechanism's plugin is not installed.

Keys are 32 raw bytes or 40 Z85 characters (bytes or str); they are stored raw and
read back as 40 Z85 characters, the form libzmq's ``zmq_getsockopt`` gives for a
41-byte buffer (pyzmq 27 cannot read them back at all: its 255-byte buffer gets EINVAL).
"""

from __future__ import annotations

import errno
from collections.abc import Collection
from typing import Any

from mqsdk.errors import MQError
from mqsdk.options import OptionSpec
from mqsdk.z85 import z85_decode, z85_encode

MECHANISM_NUMBERS = {"NULL": 0, "PLAIN": 1, "CURVE": 2, "GSSAPI": 3}
KEY_OPTIONS = ("curve_publickey", "curve_secretkey", "curve_serverkey")
# Declared by the kernel, not by the mechanism plugins: which mechanism the socket uses
# follows from the last of these set (see above), a rule across PLAIN and CURVE that
# also has to refuse a mechanism whose plugin is missing.
SECURITY_SPECS = (
    OptionSpec("mechanism", 43, "security", "kernel", "NULL 0, PLAIN 1, CURVE 2 (read-only)."),
    OptionSpec("plain_server", 44, "security", "kernel", "Be the PLAIN server."),
    OptionSpec("plain_username", 45, "security", "kernel", "PLAIN user name (selects PLAIN)."),
    OptionSpec("plain_password", 46, "security", "kernel", "PLAIN password (selects PLAIN)."),
    OptionSpec("curve_server", 47, "security", "kernel", "Be the CURVE server."),
    OptionSpec("curve_publickey", 48, "security", "kernel", "This side's CURVE public key."),
    OptionSpec("curve_secretkey", 49, "security", "kernel", "This side's CURVE secret key."),
    OptionSpec("curve_serverkey", 50, "security", "kernel", "The server's CURVE public key."),
    OptionSpec("zap_domain", 55, "security", "kernel", "ZAP domain sent to the handler."),
)
SECURITY_OPTIONS = frozenset(spec.name for spec in SECURITY_SPECS)
_SERVER_FLAGS = {"plain_server": "PLAIN", "curve_server": "CURVE"}
_PLUGINS = {"PLAIN": "mqsdk-mechanism-plain", "CURVE": "mqsdk-mechanism-curve"}


def parse_key(name: str, value: Any) -> bytes:
    """A CURVE key as 32 raw bytes, from 32 bytes or 40 Z85 characters.

    :raises MQError: EINVAL, saying which forms are accepted.
    """
    if isinstance(value, str):
        value = value.encode("utf-8")  # non-ASCII text is then no valid Z85 below
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        if len(value) == 41 and value.endswith(b"\x00"):
            value = value[:40]  # C strings with their NUL, as libzmq accepts
        if len(value) == 32:
            return bytes(value)
        if len(value) == 40:
            try:
                return z85_decode(value)
            except ValueError as exc:
                raise MQError(f"invalid Z85 in {name}: {exc}", errno.EINVAL) from None
    raise MQError(
        f"{name} takes a CURVE key: 32 raw bytes or 40 Z85 characters "
        f"(see mqsdk.curve_keypair()), got {value!r:.60}",
        errno.EINVAL,
    )


def _to_bytes(name: str, value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise MQError(f"{name} takes bytes or str, got {type(value).__name__}", errno.EINVAL)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise MQError(f"{name} takes 0 or 1, got {value!r}", errno.EINVAL)


class SecurityOptions:
    """A socket's security settings (set and read in the user's thread)."""

    def __init__(self, installed: Collection[str]) -> None:
        self.installed = installed  # mechanism names the registry knows
        self.mechanism = "NULL"
        self.as_server = False
        self.values: dict[str, Any] = {
            "plain_username": b"",
            "plain_password": b"",
            "zap_domain": b"",
        }

    def _select(self, mechanism: str, as_server: bool) -> None:
        if mechanism not in self.installed:
            raise MQError(
                f"the {mechanism} security mechanism is not installed; install the "
                f"{_PLUGINS.get(mechanism, 'plugin providing it')} distribution "
                "(`mqsdk doctor` lists the mechanisms available)",
                errno.EINVAL,
            )
        self.mechanism = mechanism
        self.as_server = as_server

    def set(self, name: str, value: Any) -> None:
        if name == "mechanism":
            raise MQError("socket option mechanism is read-only", errno.EINVAL)
        if name in _SERVER_FLAGS:
            if _flag(name, value):
                self._select(_SERVER_FLAGS[name], True)
            else:
                self.mechanism, self.as_server = "NULL", False
        elif name in ("plain_username", "plain_password"):
            data = _to_bytes(name, value)
            if len(data) > 255:
                raise MQError(f"{name} is at most 255 bytes (RFC 24)", errno.EINVAL)
            if data:
                self._select("PLAIN", False)
            else:
                self.mechanism, self.as_server = "NULL", False
            self.values[name] = data
        elif name in KEY_OPTIONS:
            key = parse_key(name, value)
            self._select("CURVE", False if name == "curve_serverkey" else self.as_server)
            self.values[name] = key
        elif name == "zap_domain":
            data = _to_bytes(name, value)
            if len(data) > 255:
                raise MQError("zap_domain is at most 255 bytes", errno.EINVAL)
            self.values[name] = data
        else:  # pragma: no cover - callers check SECURITY_OPTIONS
            raise KeyError(name)

    def get(self, name: str) -> Any:
        if name == "mechanism":
            return MECHANISM_NUMBERS.get(self.mechanism, -1)
        if name == "plain_server":
            return int(self.as_server and self.mechanism == "PLAIN")
        if name == "curve_server":
            return int(self.as_server and self.mechanism == "CURVE")
        if name in KEY_OPTIONS:
            return z85_encode(self.values.get(name, bytes(32)))
        return self.values[name]

    def mechanism_options(self) -> dict[str, object]:
        """What the mechanism reads (raw keys, credentials, zap_domain)."""
        return dict(self.values)


__all__ = [
    "KEY_OPTIONS",
    "MECHANISM_NUMBERS",
    "SECURITY_OPTIONS",
    "SECURITY_SPECS",
    "SecurityOptions",
    "parse_key",
]
