"""The socket options CURVE owns (libzmq's names and numbers), and its key format.

Each of them selects CURVE when set: ``curve_server=1`` as the server, the server's
public key as the client, our own keys keeping the role (0 for ``curve_server`` goes
back to NULL); the kernel applies that rule from the ``selects_mechanism``
declarations. Keys are given as 32 raw bytes or 40 Z85 characters (bytes or str), kept
raw for the mechanism, and read back as 40 Z85 characters, the form libzmq's
``zmq_getsockopt`` gives for a 41-byte buffer (pyzmq 27 cannot read them back at all:
its 255-byte buffer gets EINVAL).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from mqsdk.plugin import Flag, OptionModel, option, z85_decode, z85_encode

KEY_OPTIONS = ("curve_publickey", "curve_secretkey", "curve_serverkey")


def parse_key(value: Any) -> bytes:
    """A CURVE key as 32 raw bytes, from 32 bytes or 40 Z85 characters.

    :raises ValueError: saying which forms are accepted.
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
                raise ValueError(f"not a valid Z85 key: {exc}") from None
    shown = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
    raise ValueError(
        f"a CURVE key is 32 raw bytes or 40 Z85 characters (see mqsdk.curve_keypair()), got {shown}"
    )


CurveKey = Annotated[bytes, BeforeValidator(parse_key)]
"""A CURVE key option's value: given in either form, stored as 32 raw bytes."""


class CurveOptions(OptionModel):
    """CURVE's options: the server flag and the three long-term keys."""

    curve_server: Flag = option(
        0,
        number=47,
        doc="Be the CURVE server (1); selects CURVE, 0 goes back to NULL.",
        selects_mechanism="CURVE",
        as_server=True,
    )
    curve_publickey: CurveKey = option(
        b"",
        number=48,
        doc="This side's public key (32 bytes or 40 Z85 characters; selects CURVE).",
        selects_mechanism="CURVE",
    )
    curve_secretkey: CurveKey = option(
        b"",
        number=49,
        doc="This side's secret key (32 bytes or 40 Z85 characters; selects CURVE).",
        selects_mechanism="CURVE",
    )
    curve_serverkey: CurveKey = option(
        b"",
        number=50,
        doc="The server's public key: makes this socket a CURVE client.",
        selects_mechanism="CURVE",
        as_server=False,
    )

    def read_option(self, name: str) -> Any:
        if name in KEY_OPTIONS:
            # An unset key reads as libzmq's: 32 zero bytes, in Z85.
            return z85_encode(getattr(self, name) or bytes(32))
        return super().read_option(name)


__all__ = ["KEY_OPTIONS", "CurveKey", "CurveOptions", "parse_key"]
