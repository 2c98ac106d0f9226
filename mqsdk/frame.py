"""Frame: one received frame with its context, for ``recv(copy=False)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqsdk.pipe import Pipe

_PROPERTY_ALIASES = {"peer-address": "Peer-Address"}


class Frame:
    """A received frame: ``.bytes``, ``.buffer`` (a memoryview, no copy), ``.more`` and the
    peer's properties through :meth:`get` (``"Socket-Type"``, ``"Identity"``,
    ``"Peer-Address"``, ``"User-Id"`` and any ``X-`` property the peer sent)."""

    __slots__ = ("_pipe", "bytes", "more")

    def __init__(self, data: bytes = b"", more: bool = False, pipe: Pipe | None = None) -> None:
        self.bytes = data if type(data) is bytes else bytes(data)
        self.more = more
        self._pipe = pipe

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
