"""The transport conformance kit (mqsdk.testing) run against ws://."""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


def _loopback(endpoint: str) -> str:
    """Reach a wildcard bind (ws://0.0.0.0:port/) through loopback."""
    return endpoint.replace("ws://0.0.0.0:", "ws://127.0.0.1:")


def _check_last_endpoint(bound: str, last_endpoint: str) -> None:
    # libzmq reports the tcp form with the ws scheme and the path ("/" by default).
    path = "/" + bound.partition("://")[2].partition("/")[2]
    assert last_endpoint.startswith("ws://127.0.0.1:"), last_endpoint
    assert last_endpoint.endswith(path), (bound, last_endpoint)


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "ws",
        bind_endpoint=lambda: "ws://127.0.0.1:*/zeromq",
        connect_endpoint=_loopback,
        wildcard_endpoint="ws://*:*",
        # STREAM sockets carry raw bytes, not ZMTP: ZWS has no form for them.
        capabilities=DEFAULT_CAPABILITIES | {"wildcard_bind"},
        check_last_endpoint=_check_last_endpoint,
        bad_endpoints=[
            ("ws://127.0.0.1:notaport", True),
            ("ws://127.0.0.1", False),
            ("ws://127.0.0.1:99999/", False),
            ("ws://*:5555/", False),  # any address is for bind
            ("ws://127.0.0.1:5555/a path", False),
        ],
    )


class TestWsConformance(TransportConformance):
    pass
