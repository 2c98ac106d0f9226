"""The bad-input harness: an mqsdk PULL bound on tcp, a well-behaved pyzmq PUSH connected
to it, an observer of mqsdk's lifecycle hooks, and raw TCP clients for the bad peers."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

import mqsdk
from tests.interop.helpers import RCVTIMEO, WAIT, Observer, io_thread_alive


class Harness:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.ctx = mqsdk.Context()
        self.observer = Observer()
        self.ctx.registry.register_observer(self.observer)
        self.pull = self.ctx.socket(mqsdk.PULL)
        self.pull.linger = 0
        self.pull.rcvtimeo = RCVTIMEO
        self.pull.bind("tcp://127.0.0.1:*")
        self.endpoint = self.pull.last_endpoint.decode()
        host, port = self.endpoint.removeprefix("tcp://").rsplit(":", 1)
        self.address = (host, int(port))
        self.zctx: zmq.Context[Any] = zmq.Context()
        self.good = self.zctx.socket(zmq.PUSH)
        self.good.linger = 0
        self.good.sndtimeo = RCVTIMEO
        self.good.connect(self.endpoint)
        self._seq = itertools.count()
        self._raws: list[socket.socket] = []
        self.check_serving()  # the good peer is connected before any bad one

    def raw(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=WAIT)
        self._raws.append(sock)
        return sock

    def check_serving(self) -> None:
        """The good pyzmq peer's next message arrives, and only it."""
        message = [b"good", b"%d" % next(self._seq)]
        self.good.send_multipart(message)
        assert self.pull.recv_multipart() == message

    def assert_nothing_else_queued(self) -> None:
        with pytest.raises(mqsdk.Again):
            self.pull.recv_multipart(mqsdk.NOBLOCK)

    def assert_healthy(self) -> None:
        """After a bad peer: still serving, the I/O thread alive and no handler crashed."""
        self.check_serving()
        self.assert_nothing_else_queued()
        assert io_thread_alive("mqsdk-io-0"), [t.name for t in threading.enumerate()]
        crashes = [
            r.getMessage()
            for r in self.caplog.records
            if r.name.startswith("mqsdk") and r.levelno >= logging.ERROR
        ]
        assert not crashes, crashes

    def close(self) -> None:
        for sock in self._raws:
            sock.close()
        self.good.close(linger=0)
        self.zctx.term()
        self.pull.close(linger=0)
        self.ctx.registry.unregister_observer(self.observer)
        self.ctx.term()


@pytest.fixture
def harness(caplog: pytest.LogCaptureFixture) -> Iterator[Harness]:
    caplog.set_level(logging.INFO, logger="mqsdk")
    h = Harness(caplog)
    try:
        yield h
    finally:
        h.close()
