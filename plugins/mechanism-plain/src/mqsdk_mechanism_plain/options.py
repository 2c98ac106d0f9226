"""The socket options PLAIN owns (libzmq's names and numbers).

Each of them selects PLAIN when set (``plain_server=1`` as the server, a non-empty user
name or password as the client) and goes back to NULL when cleared; the kernel applies
that rule from the ``selects_mechanism`` declarations.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from mqsdk.plugin import Flag, OptionModel, option


class PlainOptions(OptionModel):
    """PLAIN's options: the server flag and the client's credentials."""

    plain_server: Flag = option(
        0,
        number=44,
        doc="Be the PLAIN server (1); selects PLAIN, 0 goes back to NULL.",
        selects_mechanism="PLAIN",
        as_server=True,
    )
    plain_username: bytes = option(
        b"",
        number=45,
        doc="PLAIN client user name, at most 255 bytes (selects PLAIN; empty: NULL).",
        selects_mechanism="PLAIN",
        as_server=False,
    )
    plain_password: bytes = option(
        b"",
        number=46,
        doc="PLAIN client password, at most 255 bytes (selects PLAIN; empty: NULL).",
        selects_mechanism="PLAIN",
        as_server=False,
    )

    @field_validator("plain_username", "plain_password", mode="before")
    @classmethod
    def _credential(cls, value: Any) -> bytes:
        # libzmq takes any bytes; str as UTF-8 and None as empty, as pyzmq passes them.
        if value is None:
            return b""
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ValueError(f"it takes bytes or str, got {type(value).__name__}")
        data = bytes(value)
        if len(data) > 255:
            # HELLO carries each in a one-byte length.
            raise ValueError(f"it is at most 255 bytes (RFC 24), got {len(data)}")
        return data


__all__ = ["PlainOptions"]
