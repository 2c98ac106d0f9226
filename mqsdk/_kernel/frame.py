"""Frame: one received frame with its context, for ``recv(copy=False)``."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from mqsdk.errors import MQError

if TYPE_CHECKING:
    from mqsdk._kernel.pipe import Pipe

GROUP_MAX_LENGTH = 255
"""Longest RADIO/DISH group in bytes (libzmq's ``ZMQ_GROUP_MAX_LENGTH``)."""


def group_bytes(group: Any) -> bytes:
    """A RADIO/DISH group as bytes: str is encoded as UTF-8; longer than
    :data:`GROUP_MAX_LENGTH` bytes is EINVAL, as in libzmq."""
    if type(group) is bytes and len(group) <= GROUP_MAX_LENGTH:
        return group  # the common case, checked first (one per RADIO send)
    name: bytes
    if isinstance(group, str):
        name = group.encode("utf-8", "surrogateescape")
    elif isinstance(group, bytes | bytearray | memoryview):
        name = bytes(group)
    else:
        raise TypeError(f"a group is str or bytes, not {type(group).__name__}")
    if len(name) > GROUP_MAX_LENGTH:
        raise MQError(
            f"a group is at most {GROUP_MAX_LENGTH} bytes (ZMQ_GROUP_MAX_LENGTH), got {len(name)}",
            errno.EINVAL,
        )
    return name


_PROPERTY_ALIASES = {"peer-address": "Peer-Address"}


class Frame:
    """A received frame: ``.bytes``, ``.buffer`` (a memoryview, no copy), ``.more`` and the
    peer's properties through :meth:`get` (``"Socket-Type"``, ``"Identity"``,
    ``"Peer-Address"``, ``"User-Id"`` and any ``X-`` property the peer sent), and
    ``.group``: the RADIO/DISH group of a frame a DISH received (None otherwise); set it
    before ``radio.send(frame)`` to send the frame to that group."""

    __slots__ = ("_group", "_pipe", "bytes", "more")

    def __init__(
        self,
        data: bytes = b"",
        more: bool = False,
        pipe: Pipe | None = None,
        group: bytes | None = None,
    ) -> None:
        self.bytes = data if type(data) is bytes else bytes(data)
        self.more = more
        self._pipe = pipe
        self._group = group

    @property
    def group(self) -> str | None:
        """The RADIO/DISH group as text, like pyzmq's ``Frame.group`` (bytes that are not
        UTF-8 survive as surrogate escapes and are sent back unchanged)."""
        group = self._group
        return None if group is None else group.decode("utf-8", "surrogateescape")

    @group.setter
    def group(self, group: str | bytes | None) -> None:
        self._group = None if group is None else group_bytes(group)

    @property
    def buffer(self) -> memoryview:
        return memoryview(self.bytes)

    def get(self, name: str) -> str | None:
        """A property of the connection the frame came from, as text (like pyzmq).

        Lookup is case-insensitive. Returns None when the property is unknown.
        """
        pipe = self._pipe
        peer = pipe.peer if pipe is not None else None
        if peer is None:
            return None
        wanted = name.lower()
        if wanted == "peer-address":
            return peer.address
        for key, value in peer.metadata.items():
            if key.lower() == wanted:
                return value.decode("utf-8", "replace")
        return None

    def __bytes__(self) -> bytes:
        return self.bytes

    def __len__(self) -> int:
        return len(self.bytes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self.bytes == other.bytes
        if isinstance(other, bytes | bytearray | memoryview):
            return self.bytes == bytes(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.bytes)

    def __repr__(self) -> str:
        shown = self.bytes[:32]
        cut = "..." if len(self.bytes) > 32 else ""
        return f"<mqsdk.Frame {shown!r}{cut} more={self.more}>"
