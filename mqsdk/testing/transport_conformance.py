"""The battery every stream transport runs with real mqsdk sockets on both ends.

Two mqsdk sockets talk ZMTP through the transport: PUSH/PULL (single and multipart
messages), REQ/REP, a 1 MiB message each way, ``last_endpoint``, a reconnect after the
binding side closes and binds again at the same address, and endpoints the socket must
refuse. A transport author subclasses it in their own tests::

    from mqsdk.testing.transport_conformance import StreamTransportConformance


    class TestMyTransport(StreamTransportConformance):
        scheme = "my"
        bad_endpoints = [("my://nonsense", True)]

        def unavailable_reason(self) -> str:
            return ""  # or why the OS cannot carry this transport here

        def bind_endpoint(self) -> str:
            return "my://*:*"

        def connect_endpoint(self, last_endpoint: str) -> str:
            return last_endpoint

        def check_last_endpoint(self, bound: str, last_endpoint: str) -> None:
            assert last_endpoint.startswith("my://")

Where :meth:`unavailable_reason` is not empty every test is skipped with that reason,
unless the environment variable ``MQSDK_TEST_REQUIRE_TRANSPORTS`` (comma-separated
schemes) names the scheme: then the test fails instead. The VM kernel test sets it so
that a guest which lacks the support cannot pass by skipping.

Waits are bounded by :attr:`StreamTransportConformance.wait_ms` (generous, since these
tests also run in an emulated VM); a broken transport fails with a message, never hangs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import ClassVar

import pytest

import mqsdk
from mqsdk.errors import EndpointError
from mqsdk.monitor import Event, MonitorEvent, recv_monitor_message

__all__ = ["REQUIRE_ENV", "StreamTransportConformance", "skip_unless_supported"]

REQUIRE_ENV = "MQSDK_TEST_REQUIRE_TRANSPORTS"
MIB = 1 << 20


def skip_unless_supported(scheme: str, reason: str) -> None:
    """Skip the running test with ``reason`` if it is not empty; fail instead when
    ``MQSDK_TEST_REQUIRE_TRANSPORTS`` names ``scheme`` (the support must be there)."""
    if not reason:
        return
    required = {s.strip() for s in os.environ.get(REQUIRE_ENV, "").split(",") if s.strip()}
    if scheme in required:
        pytest.fail(f"{REQUIRE_ENV} requires {scheme}:// here, but: {reason}")
    pytest.skip(reason)


class StreamTransportConformance:
    """Subclass as ``Test...`` and fill in the scheme, the endpoints and the checks."""

    scheme: ClassVar[str]
    bad_endpoints: ClassVar[list[tuple[str, bool]]] = []
    """(endpoint, for bind?) pairs that bind or connect must refuse with EndpointError."""
    wait_ms: ClassVar[int] = 30_000

    def unavailable_reason(self) -> str:
        """Why two sockets of this process cannot talk over the transport here, or ""."""
        raise NotImplementedError

    def bind_endpoint(self) -> str:
        """An endpoint to bind, not used by any other test (so tests may run in parallel)."""
        raise NotImplementedError

    def connect_endpoint(self, last_endpoint: str) -> str:
        """The endpoint that reaches a socket whose ``last_endpoint`` this is."""
        raise NotImplementedError

    def check_last_endpoint(self, bound: str, last_endpoint: str) -> None:
        """Assert that ``last_endpoint`` is what libzmq reports after binding ``bound``."""
        raise NotImplementedError

    # --- fixtures ---------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _supported(self) -> None:
        skip_unless_supported(self.scheme, self.unavailable_reason())

    @pytest.fixture
    def ctx(self) -> Iterator[mqsdk.Context]:
        context = mqsdk.Context()
        try:
            yield context
        finally:
            context.destroy(linger=0)

    def _socket(self, ctx: mqsdk.Context, kind: int) -> mqsdk.Socket:
        sock = ctx.socket(kind)
        for option, value in (
            ("rcvtimeo", self.wait_ms),
            ("sndtimeo", self.wait_ms),
            ("linger", 0),
        ):
            sock.set(option, value)
        return sock

    def _pair(self, ctx: mqsdk.Context, binder: int, connecter: int) -> tuple[mqsdk.Socket, ...]:
        """(bound socket, connected socket), connected through the transport."""
        bound = self._socket(ctx, binder)
        bound.bind(self.bind_endpoint())
        other = self._socket(ctx, connecter)
        other.connect(self.connect_endpoint(bound.last_endpoint.decode()))
        return bound, other

    def _events_until(self, monitor: mqsdk.Socket, wanted: Event) -> list[MonitorEvent]:
        seen: list[MonitorEvent] = []
        while not seen or seen[-1].event != wanted:
            try:
                seen.append(recv_monitor_message(monitor))
            except mqsdk.Again:
                pytest.fail(
                    f"no {wanted.name} event within {self.wait_ms} ms; "
                    f"saw {[e.event.name for e in seen]}"
                )
        return seen

    # --- the battery ------------------------------------------------------------------

    def test_last_endpoint(self, ctx: mqsdk.Context) -> None:
        sock = self._socket(ctx, mqsdk.PULL)
        endpoint = self.bind_endpoint()
        sock.bind(endpoint)
        last = sock.last_endpoint.decode()
        assert last.startswith(f"{self.scheme}://")
        self.check_last_endpoint(endpoint, last)

    def test_push_pull_single_and_multipart(self, ctx: mqsdk.Context) -> None:
        pull, push = self._pair(ctx, mqsdk.PULL, mqsdk.PUSH)
        push.send(b"hello")
        push.send_multipart([b"part one", b"", b"part three"])
        push.send(b"")
        assert pull.recv() == b"hello"
        assert pull.recv_multipart() == [b"part one", b"", b"part three"]
        assert pull.recv() == b""

    def test_req_rep_round_trips(self, ctx: mqsdk.Context) -> None:
        rep, req = self._pair(ctx, mqsdk.REP, mqsdk.REQ)
        for n in range(3):
            req.send_multipart([b"question", str(n).encode()])
            assert rep.recv_multipart() == [b"question", str(n).encode()]
            rep.send(b"answer %d" % n)
            assert req.recv() == b"answer %d" % n

    def test_one_mebibyte_each_way(self, ctx: mqsdk.Context) -> None:
        rep, req = self._pair(ctx, mqsdk.REP, mqsdk.REQ)
        request = bytes(range(256)) * (MIB // 256)
        reply = request[::-1] + b"!"
        req.send_multipart([b"head", request])
        head, body = rep.recv_multipart()
        assert head == b"head"
        assert len(body) == MIB and body == request
        rep.send(reply)
        assert req.recv() == reply

    def test_reconnect_after_the_binder_restarts(self, ctx: mqsdk.Context) -> None:
        pull, push = self._pair(ctx, mqsdk.PULL, mqsdk.PUSH)
        endpoint = pull.last_endpoint.decode()
        push.set("reconnect_ivl", 50)
        monitor = push.get_monitor_socket(Event.HANDSHAKE_SUCCEEDED | Event.DISCONNECTED)
        monitor.set("rcvtimeo", self.wait_ms)
        push.send(b"before")
        assert pull.recv() == b"before"
        self._events_until(monitor, Event.HANDSHAKE_SUCCEEDED)
        pull.close(linger=0)
        self._events_until(monitor, Event.DISCONNECTED)
        reborn = self._socket(ctx, mqsdk.PULL)
        reborn.bind(endpoint)  # the last_endpoint binds again: same address
        assert reborn.last_endpoint.decode() == endpoint
        self._events_until(monitor, Event.HANDSHAKE_SUCCEEDED)
        push.send_multipart([b"after", b"restart"])
        assert reborn.recv_multipart() == [b"after", b"restart"]
        assert push.stats["reconnects"] >= 1

    def test_bad_endpoints_are_refused(self, ctx: mqsdk.Context) -> None:
        assert self.bad_endpoints, "list some endpoints the transport must refuse"
        sock = self._socket(ctx, mqsdk.PUSH)
        for endpoint, bind in self.bad_endpoints:
            action = sock.bind if bind else sock.connect
            with pytest.raises(EndpointError, match=r"^" + endpoint.split("://")[0]):
                action(endpoint)
        # the socket still works after the refusals
        sock.bind(self.bind_endpoint())
