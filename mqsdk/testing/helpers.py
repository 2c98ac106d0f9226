"""Bounded waits, lifecycle observers and endpoint makers for tests of mqsdk and its plugins.

Everything here waits for a condition with an upper bound and fails with a message that
says what did not happen; nothing sleeps to synchronise. Plain Python: no pytest needed.

* :func:`wait_until`: poll a condition that no event announces.
* :class:`Observer` / :func:`observing`: record the lifecycle hooks (``mqsdk_peer_connected``,
  ``mqsdk_peer_disconnected``, ``mqsdk_handshake_failed``) of a context and wait for them.
* :class:`EventLog` / :func:`recording_events`: record every monitor event
  (``mqsdk_socket_event``: LISTENING, CONNECTED, ACCEPTED, HANDSHAKE_SUCCEEDED...) and wait
  for them, without a monitor socket (so without needing the inproc transport).
* :func:`short_tmpdir` and :func:`ipc_endpoints`: endpoints that fit ``sun_path``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from mqsdk.hookspecs import hookimpl
from mqsdk.monitor import Event, MonitorEvent

__all__ = [
    "WAIT",
    "EventLog",
    "Observer",
    "ipc_endpoints",
    "network_namespace_refusal",
    "observing",
    "recording_events",
    "short_tmpdir",
    "wait_until",
]

_T = TypeVar("_T")

WAIT = 10.0
"""Seconds anything a test expects may take: only an upper bound, never a timing check."""


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` (for state only reachable by looking) until true; fail after
    ``timeout`` seconds with ``what`` in the message."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what}")
        time.sleep(0.005)


class Observer:
    """Records a context's lifecycle hooks (called from the I/O thread) for tests to wait on.

    Kinds: ``"connected"``, ``"disconnected"``, ``"handshake_failed"``; each recorded with
    its socket and details (``endpoint``, ``peer``, ``reason``, ``error``).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[tuple[str, Any, dict[str, Any]]] = []

    def _add(self, kind: str, socket: Any, **details: Any) -> None:
        with self._cond:
            self.events.append((kind, socket, details))
            self._cond.notify_all()

    @hookimpl
    def mqsdk_peer_connected(self, socket: Any, endpoint: str, peer: Any) -> None:
        self._add("connected", socket, endpoint=endpoint, peer=peer)

    @hookimpl
    def mqsdk_peer_disconnected(self, socket: Any, endpoint: str, peer: Any, reason: str) -> None:
        self._add("disconnected", socket, endpoint=endpoint, peer=peer, reason=reason)

    @hookimpl
    def mqsdk_handshake_failed(self, socket: Any, endpoint: str, error: Exception) -> None:
        self._add("handshake_failed", socket, endpoint=endpoint, error=error)

    def of(self, kind: str, socket: Any = None) -> list[dict[str, Any]]:
        """The details of every ``kind`` event so far (of ``socket`` if given)."""
        with self._cond:
            return [d for k, s, d in self.events if k == kind and (socket is None or s is socket)]

    def wait(
        self, kind: str, socket: Any = None, *, count: int = 1, timeout: float = WAIT
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` events of ``kind`` (for ``socket``) were seen; return them."""
        return _wait_for(
            self._cond,
            lambda: self.of(kind, socket),
            count,
            timeout,
            lambda: f"{count} {kind!r} event(s); saw {[(k, d) for k, _, d in self.events]}",
        )


@contextlib.contextmanager
def observing(ctx: Any) -> Iterator[Observer]:
    """An :class:`Observer` registered on ``ctx``'s registry for the ``with`` block."""
    observer = Observer()
    ctx.registry.register_observer(observer)
    try:
        yield observer
    finally:
        ctx.registry.unregister_observer(observer)


class EventLog:
    """Every monitor event of every socket of a context, in order, to wait on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[tuple[Any, MonitorEvent]] = []

    @hookimpl
    def mqsdk_socket_event(self, socket: Any, event: MonitorEvent) -> None:
        with self._cond:
            self.events.append((socket, event))
            self._cond.notify_all()

    def of(self, socket: Any) -> list[MonitorEvent]:
        """The events of ``socket`` so far."""
        with self._cond:
            return [e for s, e in self.events if s is socket]

    def names(self, socket: Any) -> list[str]:
        return [e.event.name or str(int(e.event)) for e in self.of(socket)]

    def wait(
        self, socket: Any, event: Event, *, count: int = 1, timeout: float = WAIT
    ) -> list[MonitorEvent]:
        """Wait until ``socket`` reported ``event`` ``count`` times; return those events."""
        return _wait_for(
            self._cond,
            lambda: [e for e in self.of(socket) if e.event == event],
            count,
            timeout,
            lambda: f"{count} {event.name} event(s); the socket reported {self.names(socket)}",
        )


@contextlib.contextmanager
def recording_events(ctx: Any) -> Iterator[EventLog]:
    """An :class:`EventLog` registered on ``ctx``'s registry for the ``with`` block."""
    log = EventLog()
    ctx.registry.register_observer(log)
    try:
        yield log
    finally:
        ctx.registry.unregister_observer(log)


def _wait_for(
    cond: threading.Condition,
    found: Callable[[], list[_T]],
    count: int,
    timeout: float,
    expected: Callable[[], str],
) -> list[_T]:
    """Wait on ``cond`` (notified on every new event) until ``found()`` has ``count`` items."""
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            items = found()
            if len(items) >= count:
                return items
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected within {timeout} s: {expected()}")
            cond.wait(remaining)


@contextlib.contextmanager
def short_tmpdir(prefix: str = "mq") -> Iterator[str]:
    """A short temporary directory (AF_UNIX paths must fit in about 107 bytes; pytest's
    ``tmp_path`` can be longer), removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ipc_endpoints(directory: str) -> Callable[[], str]:
    """A maker of fresh ``ipc://`` endpoints in ``directory`` (one per call)."""
    counter = itertools.count()
    return lambda: f"ipc://{directory}/s{next(counter)}.sock"


def network_namespace_refusal(setup: str, tools: tuple[str, ...] = ("unshare", "ip")) -> str | None:
    """Why a network namespace made with ``unshare -n`` and set up by the shell commands
    ``setup`` cannot be had on this host, or None if it can (tried once, for real).

    For tests that need multicast or extra interfaces without touching the host's
    network: skip with the returned reason."""
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", setup],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot set up a network namespace here: {probe.stderr.strip()}"
    return None
