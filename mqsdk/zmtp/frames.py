"""ZMTP 3.x framing: the message/command encoder and the hot-path frame decoder.

Wire format (RFC 23/37 "Framing"; protocols.md 1.4)::

    frame = flags(1) size(1, or 8 BE when flags & LONG) body(size)
    flags: 0x01 MORE, 0x02 LONG, 0x04 COMMAND, bits 7..3 reserved

Encoding uses the short form whenever ``size <= 255`` (as libzmq does) and sets MORE
on every frame of a message but the last.

Decoding is tolerant where libzmq is (protocols.md 1.4): reserved flag bits are
ignored, a LONG frame with a small size is accepted, MORE on a command is ignored.

**Commands inside a multipart message.** RFC 37 forbids MORE on a command, but says
nothing of a command that arrives between two frames of a message. libzmq handles
commands at frame level (``v2_decoder`` hands every frame to the engine, which
processes commands at once and keeps building the message in the pipe), so we do the
same: the command is returned as soon as it is complete, in wire order, and the
partial message continues; it is returned after the command, once its last frame
arrives.

The decoder is written for the engine's receive path (see performance-notes.md): the
engine reads straight into the decoder's own buffer::

    view = decoder.read_buffer()        # writable memoryview
    n = sock.recv_into(view)
    for item in decoder.commit(n):      # list[bytes] (a message) or Command
        ...

and ``commit`` decodes everything complete in one inlined loop.
"""

from __future__ import annotations

import errno as _errno
import sys
from collections.abc import Callable, Sequence
from struct import Struct
from typing import ClassVar, NamedTuple, TypeAlias

from mypy_extensions import mypyc_attr

from mqsdk.errors import ProtocolError
from mqsdk.zmtp.constants import MAX_FRAME_SIZE, ProtocolErrorCode

Buffer: TypeAlias = bytes | bytearray | memoryview
"""What the encoder accepts as a frame body (contiguous buffers)."""


class Command(NamedTuple):
    """A decoded ZMTP command: ``name`` (e.g. ``b"READY"``) and the bytes after it."""

    name: bytes
    data: bytes


Item: TypeAlias = bytes | list[bytes] | Command
"""What the decoder yields: a message (a list of frames; a bare ``bytes`` for a
single-frame message when :attr:`FrameDecoder.single_frames_bare` is set) or a command."""
"""What the decoder yields: a complete multipart message (a list of its frame bodies,
at least one) or a :class:`Command`. Tell them apart with ``type(item) is list``."""

ZEROCOPY_THRESHOLD = 8192
"""Bodies at least this big are appended to the encoder's output as their own piece
(no copy, ready for ``socket.sendmsg`` scatter/gather); smaller ones are joined with
their header."""

_LONG_SIZE = Struct(">Q")
_LONG_HEADER = Struct(">BQ")
_SHORT_LAST = tuple(bytes((0, n)) for n in range(256))
_SHORT_MORE = tuple(bytes((1, n)) for n in range(256))


def _copying_writable_bytes(size: int) -> tuple[bytes | bytearray, memoryview]:
    body = bytearray(size)
    return body, memoryview(body)


def _make_writable_bytes() -> Callable[[int], tuple[bytes | bytearray, memoryview]]:
    """How big frame bodies are allocated: as ``bytes`` written in place where that works.

    A big frame is received with ``recv_into``, which needs writable memory, while
    ``recv`` must hand the user ``bytes``. Receiving into a bytearray costs a zero fill
    and a full copy at the end (1 MiB: two extra passes over memory, a large part of the
    time at that size). On CPython a ``bytes`` object that nobody else has seen yet can
    be written through a view of its storage instead, and handed over as it is once
    full. It is made uninitialised (``PyBytes_FromStringAndSize(NULL, n)``, the C API's
    documented way to build a bytes object in place): zero-filling 1 MiB that the read
    overwrites anyway cost as much as the copy. It only leaves the decoder once every
    byte has been received, and its hash is computed on first use, after the writes. A
    self-check at import time confirms the layout; anywhere else (or without ctypes)
    the copying way is used.
    """
    if sys.implementation.name != "cpython":
        return _copying_writable_bytes
    try:
        import ctypes

        # A prototype of our own: setting restype/argtypes on ctypes.pythonapi's shared
        # function object would change it for every other user in the process.
        prototype = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)
        new_bytes = prototype(("PyBytes_FromStringAndSize", ctypes.pythonapi))
    except (ImportError, AttributeError):  # pragma: no cover - no ctypes / pythonapi
        return _copying_writable_bytes
    offset = bytes.__basicsize__ - 1  # the header before ob_sval (its NUL is in basicsize)
    char = ctypes.c_char

    def writable_bytes(size: int) -> tuple[bytes | bytearray, memoryview]:
        body: bytes = new_bytes(None, size)  # size >= 256: a new object, never shared
        view = memoryview((char * size).from_address(id(body) + offset)).cast("B")
        return body, view

    probe, view = writable_bytes(300)
    view[:] = bytes(range(256)) + bytes(range(44))
    if probe != bytes(range(256)) + bytes(range(44)):  # pragma: no cover - unknown layout
        return _copying_writable_bytes
    return writable_bytes


_writable_bytes = _make_writable_bytes()


def _make_rewriter() -> Callable[[bytes], memoryview] | None:
    """How a big frame body the user has let go of is written again, or None.

    Receiving a 1 MiB frame into new memory costs a page fault per 4 KiB page (the
    allocator returns freed big blocks to the system, and takes fresh ones that fault
    in), more than the copy from the kernel itself. So the decoder keeps the last few
    big bodies it delivered (:class:`_Recycler`) and, once nobody else holds one, receives
    the next frame of that size into it. Writing a ``bytes`` object is what
    :func:`_make_writable_bytes` already does to a new one; an old one also has a cached
    hash, which is reset here (CPython computes it again on next use). A self-check at
    import time confirms where the hash lives; anywhere else, nothing is recycled.
    """
    if _writable_bytes is _copying_writable_bytes:
        return None
    gil_check = getattr(sys, "_is_gil_enabled", None)
    if gil_check is not None and not gil_check():
        return None  # free-threaded: reference counts are not a plain "who else holds it"
    import ctypes

    body_offset = bytes.__basicsize__ - 1
    hash_offset = body_offset - ctypes.sizeof(ctypes.c_ssize_t)  # ob_shash, before ob_sval
    char = ctypes.c_char
    cached_hash = ctypes.c_ssize_t

    def rewrite(body: bytes) -> memoryview:
        cached_hash.from_address(id(body) + hash_offset).value = -1  # "not computed yet"
        return memoryview((char * len(body)).from_address(id(body) + body_offset)).cast("B")

    probe, view = _writable_bytes(300)
    if not isinstance(probe, bytes):
        return None  # pragma: no cover - the copying way (ruled out above)
    view[:] = bytes(300)
    computed = hash(probe)  # cached in the object from now on
    if cached_hash.from_address(id(probe) + hash_offset).value != computed:
        return None  # pragma: no cover - an unknown layout: never write a used object
    view = rewrite(probe)
    view[:1] = b"x"
    if probe[:1] != b"x" or hash(probe) != hash(b"x" + bytes(299)):
        return None  # pragma: no cover
    return rewrite


_rewriter = _make_rewriter()


def _references(bodies: list[bytes], index: int) -> int:
    """References to ``bodies[index]``, this call's own included (compared against the
    count measured the same way for a body only ``bodies`` holds: see _Recycler)."""
    return sys.getrefcount(bodies[index])


class _Recycler:
    """The last few big bodies a decoder delivered, to receive later frames into once
    their user has let go of them (see :func:`_make_rewriter`). Per decoder, so one
    thread at a time; a body still referenced anywhere else is never touched."""

    __slots__ = ("bodies", "reused")

    MIN_SIZE: ClassVar[int] = 128 * 1024  # below this, allocations come from the heap
    MAX_SIZE: ClassVar[int] = 4 * 1024 * 1024
    BUDGET: ClassVar[int] = 8 * 1024 * 1024  # bytes kept at most, per decoder
    UNREFERENCED: ClassVar[int] = 0  # _references() of a body only the list holds: see below

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.reused = 0  # bodies written again (for tests and curious users)

    def keep(self, body: bytes) -> None:
        bodies = self.bodies
        bodies.append(body)
        kept = sum([len(b) for b in bodies])
        while kept > self.BUDGET:
            kept -= len(bodies.pop(0))

    def take(self, size: int) -> tuple[bytes, memoryview] | None:
        """A kept body of ``size`` bytes that nobody else holds, ready to write into."""
        bodies = self.bodies
        rewrite = _rewriter
        if rewrite is None:
            return None
        for index in range(len(bodies)):
            if len(bodies[index]) == size and _references(bodies, index) == self.UNREFERENCED:
                body = bodies.pop(index)
                self.reused += 1
                return body, rewrite(body)
        return None


def _calibrate() -> None:
    bodies = [bytes(_Recycler.MIN_SIZE)]
    _Recycler.UNREFERENCED = _references(bodies, 0)


_calibrate()


# --------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------


def _encode_long_last(body: Buffer, size: int, out: list[Buffer]) -> int:
    """One final frame of more than 255 bytes: its header, and the body itself when it is
    big enough to be worth writing from where it is."""
    header = _LONG_HEADER.pack(2, size)
    if size >= ZEROCOPY_THRESHOLD:
        out.append(header)
        out.append(body)
    else:
        out.append(header + body)
    return size + 9


def encode_message(frames: bytes | Sequence[Buffer], out: list[Buffer]) -> int:
    """Append the wire pieces of one multipart message to ``out``; return their byte count.

    Bodies of :data:`ZEROCOPY_THRESHOLD` bytes or more are appended as they are (the
    same object, not a copy), right after their own header piece, so ``out`` can go to
    ``sendmsg`` as is or to ``b"".join``. The caller must not modify such a body until
    the pieces have been written. Smaller frames are concatenated with their headers
    (and with neighbouring small frames) into one ``bytes``.

    :param frames: the message's frame bodies (bytes, bytearray or contiguous
        memoryview of any format; a memoryview's size is its ``nbytes``), or a bare
        ``bytes``: a single-frame message (see mqsdk._kernel.pipe.QueuedMessage).
    :raises ValueError: ``frames`` is empty (a message has at least one frame).
    """
    if isinstance(frames, bytes):
        size = len(frames)
        if size <= 255:
            out.append(_SHORT_LAST[size] + frames)
            return size + 2
        return _encode_long_last(frames, size, out)
    count = len(frames)
    if count == 1:
        body = frames[0]
        size = body.nbytes if type(body) is memoryview else len(body)
        if size <= 255:
            out.append(_SHORT_LAST[size] + body)
            return size + 2
        return _encode_long_last(body, size, out)
    if count == 0:
        raise ValueError("a message has at least one frame; got an empty sequence")
    last = count - 1
    total = 0
    pending: list[Buffer] = []
    for index, body in enumerate(frames):
        size = body.nbytes if type(body) is memoryview else len(body)
        if size <= 255:
            header = (_SHORT_MORE if index < last else _SHORT_LAST)[size]
            total += size + 2
        else:
            header = _LONG_HEADER.pack(3 if index < last else 2, size)
            total += size + 9
        pending.append(header)
        if size >= ZEROCOPY_THRESHOLD:
            out.append(b"".join(pending))
            out.append(body)
            pending = []
        else:
            pending.append(body)
    if pending:
        out.append(b"".join(pending))
    return total


def encode_command(name: bytes, data: Buffer = b"") -> bytes:
    """Return one complete command frame: ``04``/``06`` flags, size, ``len(name) name data``.

    :raises ValueError: ``name`` is empty or longer than 255 bytes.
    """
    name_len = len(name)
    if not 1 <= name_len <= 255:
        raise ValueError(f"a command name has 1..255 bytes; got {name_len}")
    size = 1 + name_len + (data.nbytes if type(data) is memoryview else len(data))
    if size <= 255:
        return b"".join((bytes((4, size, name_len)), name, data))
    return b"".join((_LONG_HEADER.pack(6, size), bytes((name_len,)), name, data))


# --------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------


def _frame_too_big(size: int, maxmsgsize: int) -> ProtocolError:
    if size > MAX_FRAME_SIZE:
        text = f"the peer declared a frame of {size} bytes, more than ZMTP's limit of 2**63-1"
    else:
        text = (
            f"the peer declared a frame of {size} bytes, more than this socket's "
            f"MAXMSGSIZE of {maxmsgsize} bytes; raise maxmsgsize (-1 = unlimited) "
            "if such messages are expected"
        )
    exc = ProtocolError(text, ProtocolErrorCode.ZMTP_UNSPECIFIED)
    exc.errno = _errno.EMSGSIZE  # what libzmq's decoder fails with
    return exc


def _malformed_command(size: int) -> ProtocolError:
    return ProtocolError(
        f"malformed command frame: a body of {size} bytes cannot hold a name-length "
        "byte, the name and its data",
        ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
    )


@mypyc_attr(allow_interpreted_subclasses=True)
class FrameDecoder:
    """Incremental ZMTP 3.x frame decoder that owns its receive buffer.

    * :meth:`read_buffer` returns the writable region the next ``recv_into`` should
      fill; :meth:`commit` is told how many bytes were written there and returns every
      item that became complete, in wire order (``list[bytes]`` for a message,
      :class:`Command` for a command). :meth:`feed` is the same for bytes obtained
      elsewhere (tests, other transports); it copies them in and handles any length.
    * The buffer is one ``bytearray`` reused for every read. It starts at
      :attr:`initial_bufsize` bytes (a connection that sends little costs little) and
      doubles, up to ``bufsize``, each time a read fills it. When a frame of at least
      a quarter of the buffer is not yet complete, the decoder
      allocates a bytearray for that frame body alone and :meth:`read_buffer` returns
      its missing part, so the engine receives the rest of a big frame straight into
      place. On CPython that buffer is the very ``bytes`` object returned (see
      :func:`_make_writable_bytes`), so a big frame is never copied in Python.
    * Memory follows the bytes received, never the sizes declared alone. A big frame's
      final ``bytes`` is allocated (uninitialised) once what is missing is at most
      :attr:`growth_factor` times what arrived (and at most :attr:`max_growth_step`):
      a 1 MiB frame whose first read brings 64 KiB is received in place at once. Until
      then its bytes go into chunks that double with what arrived (each at least the
      read buffer's size, at most :attr:`max_growth_step`), copied once into the final
      ``bytes``. A peer that declares 2**62 bytes and sends ten costs a chunk the size
      of the read buffer.
    * ``maxmsgsize`` (``>= 0``) is checked per frame against the declared size before
      anything is allocated, like libzmq's ``ZMQ_MAXMSGSIZE``; exceeding it raises
      :class:`ProtocolError` with ``errno`` EMSGSIZE. A size over 2**63-1 is refused
      the same way.
    * A command body that is empty or only a name-length byte, or whose name runs
      past the body, raises code ``ZMTP_MALFORMED_COMMAND_UNSPECIFIED``.

    Not thread-safe: a connection has one owner at a time, and so does its decoder.

    After a :class:`ProtocolError` the decoder must be discarded (the connection is
    dead); the items completed earlier in the same call are in
    :attr:`decoded_before_error` for an engine that wants to deliver them first, as
    libzmq would.
    """

    __slots__ = (
        "_buf",
        "_bufsize",
        "_cap",
        "_direct",
        "_direct_base",
        "_direct_chunks",
        "_direct_flags",
        "_direct_held",
        "_direct_pos",
        "_direct_size",
        "_direct_threshold",
        "_direct_view",
        "_end",
        "_frames",
        "_limit",
        "_maxmsgsize",
        "_need",
        "_recycler",
        "_start",
        "_view",
        "commands",
        "decoded_before_error",
        "single_frames_bare",
    )

    growth_factor: ClassVar[int] = 16
    """A big frame's final buffer is allocated once what is still missing is at most
    this many times what arrived: a legitimate big message, whose first read brings a
    good part of it, is received in place without a copy, while a declaration alone
    buys nothing."""
    max_growth_step: ClassVar[int] = 16 * 1024 * 1024
    """Most a bigger frame's buffers grow by in one step (each step is also at most
    what was received so far): a peer's declaration costs memory only as it sends."""

    initial_bufsize: ClassVar[int] = 4096
    """Size of the read buffer until reads fill it (never more than ``bufsize``)."""

    def __init__(self, maxmsgsize: int = -1, bufsize: int = 65536) -> None:
        if bufsize < 1024:
            # bufsize // 4 must exceed 255 so that short frames never need direct receive.
            raise ValueError(f"bufsize must be at least 1024 bytes; got {bufsize}")
        self._bufsize = bufsize
        cap = max(min(bufsize, self.initial_bufsize), 1024)
        self._buf = bytearray(cap)
        self._view = memoryview(self._buf)
        self._cap = cap
        self._start = 0  # first undecoded byte in _buf
        self._end = 0  # end of the bytes received into _buf
        self._need = 2  # bytes from _start needed before a decode can make progress
        self._frames: list[bytes] = []  # frames of the message being received
        self._maxmsgsize = maxmsgsize
        self._limit = maxmsgsize if maxmsgsize >= 0 else MAX_FRAME_SIZE
        self._direct_threshold = cap // 4
        self._direct: bytes | bytearray | None = None  # body of a big frame received in place
        self._direct_view: memoryview | None = None
        self._direct_pos = 0  # bytes received into _direct
        self._direct_base = 0  # the frame's bytes held before _direct (in _direct_chunks)
        self._direct_chunks: list[bytes | bytearray] = []  # a big frame's full chunks
        self._direct_held = 0  # bytes in _direct_chunks
        self._direct_size = 0
        self._direct_flags = 0
        self.decoded_before_error: list[Item] = []
        self._recycler = _Recycler()
        self.single_frames_bare = False
        """Yield a single-frame message as its ``bytes``, not a one-element list (the
        single-frame lane of patterns that take it: mqsdk._kernel.pipe.QueuedMessage)."""
        # How many commands were decoded so far: a caller that sees it unchanged across
        # a commit() knows every item is a message and can skip sorting them.
        self.commands = 0

    @property
    def maxmsgsize(self) -> int:
        """The per-frame size limit in bytes; -1 means unlimited."""
        return self._maxmsgsize

    @maxmsgsize.setter
    def maxmsgsize(self, value: int) -> None:
        # Lets an engine bound frames more tightly during a handshake, then restore.
        self._maxmsgsize = value
        self._limit = value if value >= 0 else MAX_FRAME_SIZE

    @property
    def bufsize(self) -> int:
        """Size the reused read buffer may grow to."""
        return self._bufsize

    @property
    def allocated(self) -> int:
        """Bytes of buffer the decoder holds right now (read buffer + big-frame buffers)."""
        if self._direct is None:
            return self._cap
        return self._cap + self._direct_held + len(self._direct)

    @property
    def has_partial(self) -> bool:
        """True while part of a frame or of a multipart message is buffered.

        An engine that sees EOF with this set knows the peer died mid-message.
        """
        return bool(self._frames) or self._direct is not None or self._end > self._start

    @property
    def pending_frame(self) -> tuple[int, bool] | None:
        """The frame being received: ``(declared size, is a command)``, or None between
        frames and while its header is incomplete.

        Lets an engine bound what it buffers by the kind of frame it expects (during a
        handshake: commands of a few KiB) without changing ``maxmsgsize``, which applies
        to every frame of a batch, including those after the handshake's last command.
        """
        if self._direct is not None:
            return self._direct_size, bool(self._direct_flags & 0x04)
        start = self._start
        have = self._end - start
        if have < 2:
            return None
        flags = self._buf[start]
        if not flags & 0x02:
            return self._buf[start + 1], bool(flags & 0x04)
        if have < 9:
            return None
        return _LONG_SIZE.unpack_from(self._buf, start + 1)[0], bool(flags & 0x04)

    @property
    def message_in_progress(self) -> bool:
        """True while frames of an unfinished message are held, or a message frame is
        being received."""
        if self._frames:
            return True
        pending = self.pending_frame
        return pending is not None and not pending[1]

    def read_buffer(self) -> memoryview:
        """Return the writable region for the next read; never empty.

        Write received bytes at its start, then call :meth:`commit` with their number.
        The view is only valid until that :meth:`commit`.
        """
        if self._direct_view is not None:
            return self._direct_view[self._direct_pos :]
        return self._view[self._end :]

    def commit(self, nbytes: int) -> list[Item]:
        """Account for ``nbytes`` written at the start of :meth:`read_buffer`; decode.

        :returns: the items completed by these bytes, in wire order (often empty).
        :raises ProtocolError: the stream is invalid (see the class docstring).
        """
        if self._direct is not None:
            return self._commit_direct(nbytes)
        start = self._start
        end = self._end + nbytes
        if nbytes < 0 or end > self._cap:
            raise ValueError(f"commit({nbytes}) does not fit the region read_buffer() returned")
        if end - start < self._need:
            self._end = end
            return []

        # One snapshot copy per read: slicing bytes then yields bytes directly, which is
        # much cheaper per frame than memoryview slices or bytearray slices + bytes().
        data = bytes(self._view[start:end])
        n = end - start
        last_pos = n - 1
        items: list[Item] = []
        append = items.append
        frames = self._frames
        limit = self._limit
        # The fast paths handle short frames without a size check, so they are disabled
        # (compared against an impossible flags value) when maxmsgsize < 255.
        fast_last = 0 if limit >= 255 else -1
        fast_more = 1 if limit >= 255 else -1
        bare = self.single_frames_bare
        unpack_long = _LONG_SIZE.unpack_from
        need = 2
        pos = 0
        while pos < last_pos:
            flags = data[pos]
            if flags == fast_last:
                begin = pos + 2
                stop = begin + data[pos + 1]
                if stop > n:
                    need = stop - pos
                    break
                if frames:
                    frames.append(data[begin:stop])
                    append(frames)
                    frames = []
                elif bare:
                    append(data[begin:stop])
                else:
                    append([data[begin:stop]])
                pos = stop
                continue
            if flags == fast_more:
                begin = pos + 2
                stop = begin + data[pos + 1]
                if stop > n:
                    need = stop - pos
                    break
                frames.append(data[begin:stop])
                pos = stop
                continue
            # General path: long sizes, commands, reserved bits, a small maxmsgsize.
            if flags & 0x02:
                if n - pos < 9:
                    need = 9
                    break
                size = unpack_long(data, pos + 1)[0]
                begin = pos + 9
            else:
                size = data[pos + 1]
                begin = pos + 2
            if size > limit:
                self._frames = frames
                self.decoded_before_error = items
                raise _frame_too_big(size, self._maxmsgsize)
            stop = begin + size
            if stop > n:
                if size >= self._direct_threshold:
                    self._start_direct(flags, size, data, begin)
                    pos = n
                else:
                    need = stop - pos
                break
            body = data[begin:stop]
            if flags & 0x04:
                if size < 2 or body[0] >= size:
                    self._frames = frames
                    self.decoded_before_error = items
                    raise _malformed_command(size)
                name_end = 1 + body[0]
                append(Command(body[1:name_end], body[name_end:]))
                self.commands += 1
            elif flags & 0x01:
                frames.append(body)
            elif bare and not frames:
                append(body)
            else:
                frames.append(body)
                append(frames)
                frames = []
            pos = stop

        self._frames = frames
        self._need = need
        if pos == n:
            self._start = self._end = 0
        else:
            start += pos
            cap = self._cap
            if cap - end < cap // 2:
                # Move the partial frame to the front so the next read has room. It is
                # shorter than 9 + cap // 4 bytes (bigger bodies are received directly).
                tail = n - pos
                self._buf[:tail] = data[pos:]
                self._start = 0
                self._end = tail
            else:
                self._start = start
                self._end = end
        if end == self._cap and end < self._bufsize:
            # This read filled the buffer: the peer sends in bulk, so read in bigger gulps.
            self._grow_read_buffer()
        return items

    def _grow_read_buffer(self) -> None:
        cap = min(2 * self._cap, self._bufsize)
        start, end = self._start, self._end
        buf = bytearray(cap)
        buf[: end - start] = self._view[start:end]
        self._buf = buf
        self._view = memoryview(buf)
        self._cap = cap
        self._start = 0
        self._end = end - start
        self._direct_threshold = cap // 4

    def feed(self, data: Buffer) -> list[Item]:
        """Decode bytes obtained elsewhere (copied into the buffer); any length works."""
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        total = view.nbytes
        items: list[Item] = []
        offset = 0
        while offset < total:
            region = self.read_buffer()
            chunk = min(len(region), total - offset)
            region[:chunk] = view[offset : offset + chunk]
            offset += chunk
            try:
                items += self.commit(chunk)
            except ProtocolError:
                self.decoded_before_error = items + self.decoded_before_error
                raise
        return items

    # -- big frames, received in place (rare path) -------------------------------------

    def _start_direct(self, flags: int, size: int, data: bytes, begin: int) -> None:
        self._direct_flags = flags
        self._direct_size = size
        self._start = self._end = 0
        self._need = 2
        # The declaration alone is no reason to trust the size: keep what arrived and
        # grow with what follows (see _next_direct_buffer).
        head = data[begin:]
        self._direct_chunks = [head] if head else []
        self._direct_base = len(head)
        self._direct_held = len(head)
        self._next_direct_buffer()

    def _next_direct_buffer(self) -> None:
        """Give a big frame its next buffer: the final one once it is affordable.

        Nothing is allocated beyond what the bytes already received justify. When the
        rest of the frame is at most :attr:`growth_factor` times what arrived (and at
        most :attr:`max_growth_step`), the final ``bytes`` is made, uninitialised (the
        part not yet received is address space, not resident memory), the chunks are
        copied into it once and the rest is received in place; so too when the rest
        fits in the next chunk. That chunk is as big as what arrived so far (at least
        the read buffer's size, at most :attr:`max_growth_step`).
        """
        size = self._direct_size
        received = self._direct_base
        limit = self.max_growth_step
        step = min(max(received, self._cap), limit)
        # A body of this very size the user has let go of is memory already held:
        # receiving into it trusts the peer no more than growing would.
        recycled = self._recycler.take(size) if size >= _Recycler.MIN_SIZE else None
        if recycled is not None or size - received <= max(
            step, min(received * self.growth_factor, limit)
        ):
            body, view = recycled if recycled is not None else _writable_bytes(size)
            chunks = self._direct_chunks
            offset = 0
            while chunks:
                # Released one by one: the frame is held about once, not twice.
                chunk = chunks.pop(0)
                view[offset : offset + len(chunk)] = chunk
                offset += len(chunk)
            self._direct_held = 0
            self._direct_pos = received
            self._direct_base = 0
        else:
            body, view = _writable_bytes(step)
            self._direct_pos = 0
        self._direct = body
        self._direct_view = view

    def _commit_direct(self, nbytes: int) -> list[Item]:
        body = self._direct
        assert body is not None
        pos = self._direct_pos + nbytes
        if nbytes < 0 or pos > len(body):
            raise ValueError(f"commit({nbytes}) does not fit the region read_buffer() returned")
        self._direct_pos = pos
        if pos < len(body):
            return []
        if self._direct_base + pos < self._direct_size:
            # A chunk of a frame received before its final buffer is full; the frame is not.
            self._direct_chunks.append(body)
            self._direct_base += pos
            self._direct_held += pos
            self._next_direct_buffer()
            return []
        frame = body if type(body) is bytes else bytes(body)
        if type(body) is bytes and _Recycler.MIN_SIZE <= len(frame) <= _Recycler.MAX_SIZE:
            self._recycler.keep(frame)
        flags = self._direct_flags
        self._direct = None
        self._direct_view = None
        if flags & 0x04:
            # Direct frames have at least bufsize // 4 >= 256 bytes: any name length fits.
            name_end = 1 + frame[0]
            self.commands += 1
            return [Command(frame[1:name_end], frame[name_end:])]
        self._frames.append(frame)
        if flags & 0x01:
            return []
        message = self._frames
        self._frames = []
        return [message]


__all__ = [
    "ZEROCOPY_THRESHOLD",
    "Buffer",
    "Command",
    "FrameDecoder",
    "Item",
    "encode_command",
    "encode_message",
]
