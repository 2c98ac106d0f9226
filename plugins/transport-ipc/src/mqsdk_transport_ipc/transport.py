"""The ``ipc://`` stream transport over Unix domain sockets."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mqsdk.plugin import Availability, StreamTransport, start_connect

from .address import IpcAddress, check_length, parse_ipc

__all__ = ["IpcTransport"]

_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class _Bound:
    """What close_listener needs to clean up after a listener."""

    path: str | None  # None for an abstract name: nothing on disk
    identity: tuple[int, int] | None  # (st_dev, st_ino) of the socket file we created
    tempdir: str | None  # the directory made for ipc://*


class IpcTransport(StreamTransport):
    """AF_UNIX SOCK_STREAM sockets, with libzmq's endpoint forms (see :mod:`.address`)."""

    name = "ipc"
    loopback_endpoint = "ipc://{tmp}/demo-{n}.sock"

    @classmethod
    def available(cls) -> Availability:
        if not hasattr(socket, "AF_UNIX"):
            return Availability.no(
                f"socket.AF_UNIX is missing: Python on {sys.platform} has no Unix domain "
                "sockets, which ipc:// needs"
            )
        return Availability.yes()

    def __init__(self) -> None:
        self._listeners: dict[socket.socket, _Bound] = {}

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> IpcAddress:
        return parse_ipc(address, bind=bind)

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        tempdir = None
        target, written = addr.target, addr.written
        if target is None:  # ipc://*
            tempdir = tempfile.mkdtemp()
            target = written = os.path.join(tempdir, "socket")
        try:
            if tempdir is not None:
                check_length(f"ipc://{written}", written)
            sock, bound = self._bind(target, tempdir, int(options.get("backlog", 100)))
        except BaseException:
            if tempdir is not None:
                with contextlib.suppress(OSError):
                    os.rmdir(tempdir)
            raise
        self._listeners[sock] = bound
        return sock, f"ipc://{written}"

    def close_listener(self, sock: socket.socket, address: Any) -> None:
        bound = self._listeners.pop(sock, None)
        sock.close()
        if bound is not None:
            _cleanup(bound)

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        addr = _check(address)
        if addr.target is None:
            raise ValueError("ipc://* cannot be connected to; parse() refuses it for connect")
        # EAGAIN here (Linux: the listener's backlog is full) means the connect did not
        # start: start_connect raises it, to be retried later.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        return start_connect(sock, addr.target, str(addr))

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setblocking(False)

    def peer_address(self, sock: socket.socket) -> str:
        """libzmq's form on Linux: ``localhost:<uid>:<gid>:<pid>`` (from SO_PEERCRED).

        Elsewhere (no SO_PEERCRED) the empty string.
        """
        peercred = getattr(socket, "SO_PEERCRED", None)
        if peercred is None:
            return ""
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, peercred, _UCRED.size)
        except OSError:
            return ""
        pid, uid, gid = _UCRED.unpack(raw)
        return f"localhost:{uid}:{gid}:{pid}"

    def _bind(self, target: str, tempdir: str | None, backlog: int) -> tuple[socket.socket, _Bound]:
        abstract = target.startswith("\0")
        if not abstract:
            _remove_stale_socket(target)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bound = _Bound(None if abstract else target, None, tempdir)
        try:
            sock.setblocking(False)
            sock.bind(target)
            if not abstract:
                info = os.stat(target)
                bound = _Bound(target, (info.st_dev, info.st_ino), tempdir)
            sock.listen(backlog)
        except BaseException:
            sock.close()
            _cleanup(_Bound(bound.path, bound.identity, None))
            raise
        return sock, bound


def _check(address: Any) -> IpcAddress:
    if not isinstance(address, IpcAddress):
        raise TypeError(f"ipc transport: expected a parsed IpcAddress, got {address!r}")
    return address


def _remove_stale_socket(path: str) -> None:
    """Unlink a socket file left at ``path`` (libzmq does the same); refuse anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a socket"
        raise OSError(
            errno.EADDRINUSE,
            f"cannot bind ipc://{path}: the path exists and is {kind}; mqsdk only replaces "
            "stale socket files, so remove it or choose another path",
            path,
        )
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _cleanup(bound: _Bound) -> None:
    """Remove our socket file (only if it is still ours) and the ipc://* directory."""
    if bound.path is not None and bound.identity is not None:
        with contextlib.suppress(OSError):
            info = os.lstat(bound.path)
            if stat.S_ISSOCK(info.st_mode) and (info.st_dev, info.st_ino) == bound.identity:
                os.unlink(bound.path)
    if bound.tempdir is not None:
        with contextlib.suppress(OSError):
            os.rmdir(bound.tempdir)
