"""Real libzmq with OpenPGM, through ctypes, for the pgm/epgm interop scenarios.

pyzmq's wheels bundle a libzmq built without OpenPGM (``zmq.has("pgm")`` is False), but
a distribution's shared libzmq usually has it (Debian's libzmq5 links libpgm). Only the
few calls the scenarios need are wrapped: sockets, options, connect, send and receive
of multipart messages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

ZMQ_PUB, ZMQ_SUB = 1, 2
ZMQ_SUBSCRIBE, ZMQ_RATE, ZMQ_RCVMORE, ZMQ_LINGER, ZMQ_RCVTIMEO = 6, 8, 13, 17, 27
ZMQ_SNDMORE, ZMQ_DONTWAIT = 2, 1
_BUFFER = 1 << 20


def load() -> tuple[Any, str]:
    """(the library, "") or (None, why it cannot be used)."""
    for name in ("libzmq.so.5", ctypes.util.find_library("zmq")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        lib.zmq_has.argtypes = [ctypes.c_char_p]
        lib.zmq_ctx_new.restype = ctypes.c_void_p
        lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]
        lib.zmq_socket.restype = ctypes.c_void_p
        lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.zmq_close.argtypes = [ctypes.c_void_p]
        lib.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.zmq_setsockopt.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_size_t,
        ]
        lib.zmq_getsockopt.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        lib.zmq_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.zmq_strerror.restype = ctypes.c_char_p
        if not lib.zmq_has(b"pgm"):
            return None, f"{name} is built without OpenPGM (zmq_has('pgm') is 0)"
        return lib, ""
    return None, "no shared libzmq found (Debian: apt-get install libzmq5, which has OpenPGM)"


class LibzmqError(RuntimeError):
    pass


class Socket:
    """A libzmq socket; every call raises LibzmqError with libzmq's message on failure."""

    def __init__(self, lib: Any, ctx: int, kind: int) -> None:
        self.lib = lib
        self.handle = lib.zmq_socket(ctx, kind)
        self._buf = ctypes.create_string_buffer(_BUFFER)
        if not self.handle:
            self._fail("zmq_socket")

    def _fail(self, what: str) -> None:
        raise LibzmqError(f"{what}: {self.lib.zmq_strerror(ctypes.get_errno()).decode()}")

    def set_int(self, option: int, value: int) -> None:
        v = ctypes.c_int(value)
        if self.lib.zmq_setsockopt(self.handle, option, ctypes.byref(v), ctypes.sizeof(v)):
            self._fail(f"zmq_setsockopt({option})")

    def subscribe(self, topic: bytes) -> None:
        if self.lib.zmq_setsockopt(self.handle, ZMQ_SUBSCRIBE, topic, len(topic)):
            self._fail("subscribe")

    def connect(self, endpoint: str) -> None:
        if self.lib.zmq_connect(self.handle, endpoint.encode()):
            self._fail(f"zmq_connect({endpoint})")

    def send_multipart(self, frames: list[bytes]) -> None:
        for index, frame in enumerate(frames):
            flags = ZMQ_SNDMORE if index < len(frames) - 1 else 0
            if self.lib.zmq_send(self.handle, frame, len(frame), flags) < 0:
                self._fail("zmq_send")

    def recv_multipart(self, flags: int = 0) -> list[bytes] | None:
        """The next message, or None when none came (RCVTIMEO, or DONTWAIT)."""
        frames = []
        while True:
            size = self.lib.zmq_recv(self.handle, self._buf, _BUFFER, flags)
            if size < 0:
                if frames:
                    self._fail("zmq_recv mid-message")
                return None
            if size > _BUFFER:
                raise LibzmqError(f"frame of {size} bytes exceeds the test buffer")
            frames.append(self._buf.raw[:size])
            more = ctypes.c_int(0)
            length = ctypes.c_size_t(ctypes.sizeof(more))
            self.lib.zmq_getsockopt(
                self.handle, ZMQ_RCVMORE, ctypes.byref(more), ctypes.byref(length)
            )
            if not more.value:
                return frames
            flags = 0

    def close(self) -> None:
        self.set_int(ZMQ_LINGER, 0)
        self.lib.zmq_close(self.handle)
