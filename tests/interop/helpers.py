"""Shared pieces of the interop and bad-input tests: socket bookkeeping, mqsdk lifecycle
observers and libzmq monitors, all with bounded waits."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

import mqsdk
from mqsdk.testing.helpers import Observer, observing, wait_until

__all__ = ["RCVTIMEO", "WAIT", "Monitor", "Observer", "Sockets", "observing", "wait_until"]

WAIT = 5.0
"""Seconds any event the test expects may take; only an upper bound, never a timing check."""
RCVTIMEO = 5000


class Monitor:
    """libzmq's socket monitor, read with bounded waits."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.mon = sock.get_monitor_socket()
        self.events: list[dict[str, Any]] = []
        self._cursor = 0

    def _read(self, timeout: float) -> bool:
        if not self.mon.poll(max(int(timeout * 1000), 0)):
            return False
        self.events.append(recv_monitor_message(self.mon))  # type: ignore[arg-type]
        return True

    def names(self) -> list[str]:
        return [zmq.Event(e["event"]).name or str(e["event"]) for e in self.events]

    def wait_for(self, event: int, timeout: float = WAIT) -> dict[str, Any]:
        """The next ``event`` after the one the previous wait_for returned."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._cursor, len(self.events)):
                if self.events[index]["event"] == event:
                    self._cursor = index + 1
                    return self.events[index]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(
                    f"libzmq monitor: no {zmq.Event(event).name} within {timeout} s; "
                    f"saw {self.names()}"
                )

    def wait_for_any(self, events: tuple[int, ...], timeout: float = WAIT) -> dict[str, Any]:
        """The next event that is one of ``events``."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._cursor, len(self.events)):
                if self.events[index]["event"] in events:
                    self._cursor = index + 1
                    return self.events[index]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(
                    f"monitor: none of {events} within {timeout} s; saw {self.names()}"
                )

    def collect(self, seconds: float) -> list[str]:
        """Read every event during ``seconds`` (a period where nothing should happen)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._read(remaining)
        return self.names()

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self.sock.disable_monitor()
        self.mon.close(linger=0)


class Sockets:
    """Creates mqsdk and pyzmq sockets with test defaults and closes them all (linger 0)."""

    def __init__(self, mctx: mqsdk.Context, zctx: zmq.Context[Any], tmp_path: Path) -> None:
        self.mctx = mctx
        self.zctx = zctx
        self.tmp_path = tmp_path
        self._mq: list[mqsdk.Socket] = []
        self._zmq: list[zmq.Socket[bytes]] = []
        self._monitors: list[Monitor] = []
        self._ipc = 0

    @staticmethod
    def _configure(sock: Any, options: dict[str, Any]) -> None:
        settings = {"linger": 0, "rcvtimeo": RCVTIMEO, "sndtimeo": RCVTIMEO, **options}
        for name, value in settings.items():
            setattr(sock, name, value)

    def mq(self, socket_type: int, **options: Any) -> mqsdk.Socket:
        sock = self.mctx.socket(socket_type)
        self._mq.append(sock)
        self._configure(sock, options)
        return sock

    def zmq(self, socket_type: int, **options: Any) -> zmq.Socket[bytes]:
        sock = self.zctx.socket(socket_type)
        self._zmq.append(sock)
        self._configure(sock, options)
        return sock

    def monitor(self, sock: zmq.Socket[bytes]) -> Monitor:
        monitor = Monitor(sock)
        self._monitors.append(monitor)
        return monitor

    def bind_address(self, transport: str) -> str:
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        self._ipc += 1
        return f"ipc://{self.tmp_path}/s{self._ipc}.sock"

    def bind(self, sock: Any, transport: str) -> str:
        """Bind to a fresh endpoint of ``transport``; return the endpoint to connect to."""
        sock.bind(self.bind_address(transport))
        endpoint = sock.last_endpoint
        return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)

    @staticmethod
    def rebind(sock: Any, endpoint: str) -> None:
        """Bind a new socket where a closed one was (a tcp port may take a moment)."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                sock.bind(endpoint)
                return
            except (zmq.ZMQError, mqsdk.MQError) as exc:
                if "in use" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def close_all(self) -> None:
        for monitor in self._monitors:
            monitor.close()
        for zsock in self._zmq:
            zsock.close(linger=0)
        for msock in self._mq:
            msock.close(linger=0)


def io_thread_alive(name: str = "mqsdk-io-0") -> bool:
    return any(t.name == name and t.is_alive() for t in threading.enumerate())
