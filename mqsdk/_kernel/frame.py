"""Frame: one message frame with its context (``recv(copy=False)``), and MessageTracker."""

from __future__ import annotations

import builtins
import errno
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mqsdk.errors import MQError, NotDone

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


COPY_THRESHOLD = 65536
"""Below this many bytes a Frame copies its data even when asked not to (pyzmq's
``zmq.COPY_THRESHOLD``): for small data a copy is cheaper than tracking a shared buffer."""

MORE = 1
"""``frame.get(MORE)``: whether more frames of the message follow (libzmq's ``ZMQ_MORE``)."""
_SRCFD = 2
_SHARED = 3


class _Release:
    """Shared by a tracked Frame and its copies: when the last of them goes, nothing of
    ours refers to the buffer any more and the tracker's event is set."""

    __slots__ = ("_done",)

    def __init__(self, done: threading.Event) -> None:
        self._done = done

    def __del__(self) -> None:
        self._done.set()


def _view_of(data: Any) -> memoryview:
    """``data`` as a flat byte view, or the TypeError/BufferError pyzmq raises."""
    if isinstance(data, str):
        raise TypeError("a Frame holds bytes, not str: encode it first (or use send_string)")
    if isinstance(data, Frame):
        return memoryview(data._data)  # before 3.12 a Frame is no buffer to memoryview()
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"a Frame holds bytes or another buffer (bytearray, memoryview, numpy array), "
            f"not {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        raise BufferError("a Frame needs a contiguous buffer; copy it first (bytes(view))")
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


# memoryview(frame) and numpy.frombuffer(frame) need the buffer protocol. From Python 3.12
# a Python class offers it through __buffer__ (PEP 688); before, only a built-in type can,
# so there a Frame is a bytes object too, holding a copy of its content for that purpose
# (what .bytes and .buffer give stays the frame's data, shared as asked). Type checkers
# see the 3.12 form.
if TYPE_CHECKING:
    _FrameBase = object
else:
    _FrameBase = bytes if sys.version_info < (3, 12) else object
_BYTES_BASED = _FrameBase is bytes


class Frame(_FrameBase):
    """A message frame: ``.bytes``, ``.buffer`` (a memoryview, no copy), ``.more``, the
    peer's properties through :meth:`get` (``"Socket-Type"``, ``"Identity"``,
    ``"Peer-Address"``, ``"User-Id"`` and any ``X-`` property the peer sent), and
    ``.group``: the RADIO/DISH group of a frame a DISH received (None otherwise); set it
    before ``radio.send(frame)`` to send the frame to that group. ``.routing_id``: the
    connection a SERVER received the frame from (0 otherwise); set it before
    ``server.send(frame)`` to reply there.

    ``Frame(data, track=False, copy=None, copy_threshold=None)`` builds one to send, as in
    pyzmq: ``data`` is any contiguous buffer. ``copy=True`` copies it, ``copy=False``
    shares it (do not modify it while the frame lives), and by default it is shared from
    ``copy_threshold`` bytes up (:data:`COPY_THRESHOLD`). ``track=True`` gives ``.tracker``,
    a :class:`MessageTracker` done once no frame refers to the buffer any more.
    ``memoryview(frame)`` and ``numpy.frombuffer(frame)`` work; on Python 3.11 they see a
    copy of the content made with the frame (a Frame is a ``bytes`` there), from 3.12 the
    content itself. Received frames are read-only.
    """

    # Received frames set only _data, more, _pipe and _group (see received_frame): the
    # rest is read through getattr defaults, so receiving stays four assignments. (A
    # bytes subclass cannot have slots: before 3.12 a Frame has a __dict__.)
    if not _BYTES_BASED:
        __slots__ = (
            "_buffer",
            "_bytes",
            "_data",
            "_group",
            "_hold",
            "_pipe",
            "_routing_id",
            "_tracker",
            "more",
        )
    else:

        def __new__(cls, data: Any = None, *args: Any, **kwargs: Any) -> Frame:
            content = b"" if data is None else _view_of(data).tobytes()
            return bytes.__new__(cls, content)  # type: ignore[type-var, unused-ignore]

    _data: bytes | memoryview
    _bytes: bytes
    _buffer: memoryview
    _group: bytes | None
    _pipe: Pipe | None
    _routing_id: int
    _hold: _Release
    _tracker: MessageTracker
    more: bool
    """Whether more frames of the same message follow this one (received frames)."""

    def __init__(
        self,
        data: Any = None,
        track: bool = False,
        copy: bool | None = None,
        copy_threshold: int | None = None,
    ) -> None:
        self.more = False
        self._pipe = None
        self._group = None
        if data is None:
            self._data = b""
        else:
            view = _view_of(data)
            threshold = COPY_THRESHOLD if copy_threshold is None else copy_threshold
            if copy is None:
                copy = view.nbytes < threshold
            # A copy is new bytes (never ``data`` itself): .bytes is the frame's own.
            self._data = view.tobytes() if copy else view
        if track:
            done = threading.Event()
            self._hold = _Release(done)
            self._tracker = MessageTracker(done)

    @property
    def bytes(self) -> bytes:
        """The frame's content as bytes (made once, on first use, for a shared buffer)."""
        data = self._data
        if not isinstance(data, memoryview):
            return data
        try:
            return self._bytes
        except AttributeError:
            self._bytes = data.tobytes()
            return self._bytes

    @property
    def buffer(self) -> memoryview:
        """A memoryview of the content, without a copy (the same object every time)."""
        try:
            return self._buffer
        except AttributeError:
            self._buffer = memoryview(self._data)
            return self._buffer

    def __buffer__(self, flags: int) -> memoryview:
        # PEP 688 (Python 3.12+): memoryview(frame), numpy.frombuffer(frame)...
        return memoryview(self._data)

    @property
    def tracker(self) -> MessageTracker | None:
        """For ``Frame(..., track=True)``: done when no frame refers to the buffer; else None."""
        return getattr(self, "_tracker", None)

    @property
    def group(self) -> str | None:
        """The RADIO/DISH group as text, like pyzmq's ``Frame.group`` (bytes that are not
        UTF-8 survive as surrogate escapes and are sent back unchanged)."""
        group = self._group
        return None if group is None else group.decode("utf-8", "surrogateescape")

    @group.setter
    def group(self, group: str | builtins.bytes | None) -> None:
        self._group = None if group is None else group_bytes(group)

    @property
    def routing_id(self) -> int:
        """The SERVER (or PEER) routing id: on a frame such a socket received, the peer
        it came from; set it before ``server.send(frame)`` to name the peer it goes to.
        0 when none (as pyzmq's); libzmq's ids run from 1 to 2**32-1."""
        return getattr(self, "_routing_id", 0)

    @routing_id.setter
    def routing_id(self, routing_id: int) -> None:
        self._routing_id = checked_routing_id(routing_id)

    def get(self, name: str | int) -> Any:
        """A property of the connection the frame came from, as text (like pyzmq), or with
        an int, a message option: ``frame.get(MORE)``.

        Lookup is case-insensitive. Returns None when the property is unknown.
        """
        if isinstance(name, int):
            if name == MORE:
                return int(self.more)
            if name == _SRCFD:
                return -1  # no file descriptor is exposed (libzmq: -1 when unknown)
            if name == _SHARED:
                return 0
            raise MQError(f"unknown message option {name}", errno.EINVAL)
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

    def set(self, option: int, value: int) -> None:
        """Message options are read-only, as in libzmq (``zmq_msg_set`` is EINVAL)."""
        raise MQError(f"message option {option} cannot be set", errno.EINVAL)

    def __getitem__(self, name: str | int) -> Any:
        """``frame["User-Id"]``: :meth:`get` (pyzmq's spelling of the same lookup)."""
        return self.get(name)

    def __copy__(self) -> Frame:
        # The copy shares the buffer (and the tracker: the buffer is free once both go).
        twin = received_frame(self._data, self.more, self._pipe, self._group)
        for name in ("_hold", "_tracker", "_routing_id"):
            if hasattr(self, name):
                setattr(twin, name, getattr(self, name))
        return twin

    fast_copy = __copy__
    """A copy sharing the buffer (pyzmq's name; ``copy.copy(frame)`` is the same)."""

    def __bytes__(self) -> builtins.bytes:
        return self.bytes

    def __len__(self) -> int:
        data = self._data
        return data.nbytes if isinstance(data, memoryview) else len(data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self._data == other._data
        if isinstance(other, bytes | bytearray | memoryview):
            return self._data == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.bytes)

    def __str__(self) -> str:
        return self.__repr__()  # not bytes' own str, before 3.12: the same on every Python

    def __repr__(self) -> str:
        data = self._data
        shown = bytes(data[:32])
        cut = "..." if len(self) > 32 else ""
        return f"<mqsdk.Frame {shown!r}{cut} more={self.more}>"


# bytes.__new__ for a Frame, untyped: type checkers see Frame's 3.12 form, not a bytes.
_make_frame: Any = bytes.__new__


ROUTING_ID_MAX = 2**32 - 1


def checked_routing_id(routing_id: Any) -> int:
    """A SERVER/PEER routing id as given by a caller: an int from 1 to 2**32-1 (libzmq's
    ``zmq_msg_set_routing_id`` refuses 0 with EINVAL)."""
    if isinstance(routing_id, bool) or not isinstance(routing_id, int):
        raise TypeError(f"a routing id is an int, not {type(routing_id).__name__}")
    if not 0 < routing_id <= ROUTING_ID_MAX:
        raise MQError(f"a routing id is from 1 to {ROUTING_ID_MAX}, not {routing_id}", errno.EINVAL)
    return routing_id


def received_frame(data: Any, more: bool, pipe: Pipe | None, group: bytes | None) -> Frame:
    """The Frame ``recv(copy=False)`` returns: the kernel's bytes, not copied again
    (before Python 3.12 once, for the buffer protocol: see Frame)."""
    data = data if type(data) is bytes else bytes(data)
    frame: Frame = _make_frame(Frame, data) if _BYTES_BASED else object.__new__(Frame)
    frame._data = data
    frame.more = more
    frame._pipe = pipe
    frame._group = group
    return frame


class MessageTracker:
    """Tells when mqsdk no longer refers to the buffers of a message sent without a copy
    (pyzmq's ``zmq.MessageTracker``): ``.done``, and :meth:`wait`.

    Built from events, other trackers and tracked Frames; done when all of them are.
    """

    def __init__(self, *towatch: threading.Event | MessageTracker | Frame) -> None:
        self.events: set[threading.Event] = set()
        """The events watched: done when each is set."""
        self.peers: set[MessageTracker] = set()
        """The trackers watched (those of tracked Frames too): done when each is done."""
        for item in towatch:
            if isinstance(item, threading.Event):
                self.events.add(item)
            elif isinstance(item, MessageTracker):
                self.peers.add(item)
            elif isinstance(item, Frame):
                if item.tracker is None:
                    raise ValueError("not a tracked message: make the Frame with track=True")
                self.peers.add(item.tracker)
            else:
                raise TypeError(f"cannot track {type(item).__name__}: need a Frame or an Event")

    @property
    def done(self) -> bool:
        """Whether every tracked buffer is released."""
        return all(e.is_set() for e in self.events) and all(p.done for p in self.peers)

    def wait(self, timeout: float = -1) -> None:
        """Wait until :attr:`done`, at most ``timeout`` seconds (negative: no limit);
        raises :class:`~mqsdk.errors.NotDone` if it is not done by then."""
        deadline = None if timeout < 0 else time.monotonic() + timeout
        for event in self.events:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not event.wait(left):
                raise NotDone("the message is still in use by mqsdk")
        for peer in self.peers:
            peer.wait(-1 if deadline is None else max(deadline - time.monotonic(), 0.0))


FINISHED_TRACKER = MessageTracker()
"""Returned for sends that copied the data: done from the start (pyzmq's
``zmq._FINISHED_TRACKER``)."""


def tracked_payload(data: Any, copy: bool, copy_threshold: int) -> tuple[Any, MessageTracker]:
    """What a ``track=True`` send of ``data`` (not a Frame) hands the kernel, and the
    tracker that is done once the kernel drops it."""
    view = _view_of(data)
    if copy or view.nbytes < copy_threshold:
        return view.tobytes(), FINISHED_TRACKER
    # The kernel queues this very view until it is written; when it lets it go the
    # buffer is the user's again.
    done = threading.Event()
    weakref.finalize(view, done.set)
    return view, MessageTracker(done)


def _hold_until_written(hold: object) -> None:
    """Nothing: a finalizer's arguments live until it runs, and that is the point."""


def tracked_frame_content(frame: Frame) -> Any:
    """What sending a tracked Frame hands the kernel: the Frame's buffer itself, not a
    copy (``.bytes`` would make one and keep it). A shared buffer goes as a view of its
    own, which keeps the Frame's hold on the tracker until the kernel drops it: the
    tracker is done once both the Frame and the kernel let the buffer go (as pyzmq's)."""
    content = frame._data
    if type(content) is bytes:
        return content
    view = memoryview(content)
    weakref.finalize(view, _hold_until_written, getattr(frame, "_hold", None))
    return view


def tracked_parts(
    parts: Iterable[Any], copy: bool, copy_threshold: int
) -> tuple[list[Any], MessageTracker | None]:
    """``send_multipart(..., track=True)``: each part as :func:`tracked_payload` (a Frame
    sends its content and brings its own tracker); one tracker for them all."""
    payload: list[Any] = []
    trackers: list[MessageTracker] = []
    for part in parts:
        if isinstance(part, Frame):
            if part.tracker is None:
                raise ValueError("not a tracked message: make the Frame with track=True")
            payload.append(tracked_frame_content(part))
            trackers.append(part.tracker)
        else:
            data, tracker = tracked_payload(part, copy, copy_threshold)
            payload.append(data)
            if tracker is not FINISHED_TRACKER:
                trackers.append(tracker)
    return payload, MessageTracker(*trackers) if trackers else FINISHED_TRACKER
