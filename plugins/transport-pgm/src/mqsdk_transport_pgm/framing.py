"""ZeroMQ's framing inside PGM data packets (libzmq pgm_sender/pgm_receiver, v1 codec).

The messages of one source form a byte stream of ZMTP/1.0 frames: a length byte (or
``ff`` and an 8-byte big-endian length) counting the flags byte and the body, the flags
byte (bit 0: MORE), the body. The stream is cut into TSDUs; each TSDU starts with a
2-byte big-endian offset (counted from the byte after it) of the first *message* start
inside it, or ``ffff`` when a message runs through the whole TSDU. A receiver that joins
late, or lost data, skips TSDUs until one has an offset and starts decoding there, so it
only ever delivers whole messages.
"""

from __future__ import annotations

from collections import deque

from mqsdk.plugin import Message

__all__ = ["NO_OFFSET", "StreamPacker", "StreamUnpacker", "encode_frames"]

NO_OFFSET = 0xFFFF
_COMPACT = 1 << 16  # bytes already cut off before the packer compacts its buffer


def encode_frames(message: Message, out: bytearray) -> None:
    """Append ``message`` as ZMTP/1.0 frames to ``out``."""
    last = len(message) - 1
    for index, frame in enumerate(message):
        size = len(frame) + 1  # the flags byte counts
        if size < 0xFF:
            out.append(size)
        else:
            out.append(0xFF)
            out += size.to_bytes(8, "big")
        out.append(1 if index < last else 0)
        out += frame


class StreamPacker:
    """A source's outgoing stream: messages in, TSDUs (offset + stream bytes) out."""

    def __init__(self, max_tsdu: int) -> None:
        if max_tsdu < 3:
            raise ValueError(f"a TSDU needs room for the offset and data, got {max_tsdu}")
        self.room = max_tsdu - 2
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already cut into TSDUs
        self._taken = 0  # stream bytes cut before _buf[0]
        self._starts: deque[int] = deque()  # stream positions where a message starts

    def __len__(self) -> int:
        """Stream bytes not cut into a TSDU yet."""
        return len(self._buf) - self._pos

    def add(self, message: Message) -> None:
        self._starts.append(self._taken + len(self._buf))
        encode_frames(message, self._buf)

    def take(self) -> bytes | None:
        """The next TSDU (full, or whatever is left), or None when nothing is pending."""
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            return None
        end = min(len(buf), pos + self.room)
        first = self._taken + pos
        last = self._taken + end
        starts = self._starts
        offset = NO_OFFSET
        if starts and starts[0] < last:
            offset = starts[0] - first
            while starts and starts[0] < last:
                starts.popleft()
        chunk = offset.to_bytes(2, "big") + buf[pos:end]
        self._pos = end
        if end >= _COMPACT and end * 2 >= len(buf):
            del buf[:end]
            self._taken += end
            self._pos = 0
        return chunk


class StreamUnpacker:
    """One source's incoming stream: TSDUs in order in, whole messages out.

    :meth:`lose` is called when data is gone for good; decoding then resumes at the next
    TSDU that says where a message starts. ``maxmsgsize`` (-1: no limit) bounds what a
    peer can make us buffer; a frame over it, or a length of 0, is corrupt input and
    resynchronises the same way.
    """

    def __init__(self, maxmsgsize: int = -1) -> None:
        self.maxmsgsize = maxmsgsize
        self.joined = False
        self.corrupt = 0  # resynchronisations caused by bad input
        self._buf = bytearray()
        self._frames: Message = []
        self._size = 0  # bytes in _frames

    def lose(self) -> bool:
        """Forget the partial message and wait for a message start; True if a partial
        message (or undecoded bytes) was dropped."""
        dropped = bool(self._frames or self._buf)
        self.joined = False
        self._buf.clear()
        self._frames = []
        self._size = 0
        return dropped

    def feed(self, tsdu: bytes) -> list[Message]:
        if len(tsdu) < 2:
            self.corrupt += 1
            self.lose()
            return []
        offset = int.from_bytes(tsdu[:2], "big")
        # An offset equal to the data's length is valid: libzmq's pgm_sender records the
        # position after a finished message before it knows whether another follows, so
        # the next message then starts in the next TSDU.
        if offset != NO_OFFSET and offset > len(tsdu) - 2:
            self.corrupt += 1
            self.lose()
            return []
        if self.joined:
            self._buf += memoryview(tsdu)[2:]
        elif offset == NO_OFFSET:
            return []  # the middle of a message we did not see start
        else:
            self.joined = True
            self._buf += memoryview(tsdu)[2 + offset :]
        return self._decode()

    def _decode(self) -> list[Message]:
        buf = self._buf
        size = len(buf)
        limit = self.maxmsgsize
        pos = 0
        messages: list[Message] = []
        while pos < size:
            length = buf[pos]
            header = 1
            if length == 0xFF:
                if size - pos < 9:
                    break
                length = int.from_bytes(buf[pos + 1 : pos + 9], "big")
                header = 9
            if length == 0 or (limit >= 0 and self._size + length - 1 > limit):
                self.corrupt += 1
                self.lose()
                return messages
            end = pos + header + length
            if end > size:
                break
            flags = buf[pos + header]
            self._frames.append(bytes(buf[pos + header + 1 : end]))
            self._size += length - 1
            pos = end
            if not flags & 1:
                messages.append(self._frames)
                self._frames = []
                self._size = 0
        del buf[:pos]
        return messages
