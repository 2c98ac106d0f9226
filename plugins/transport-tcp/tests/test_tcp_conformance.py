"""The transport conformance kit (mqsdk.testing) run against tcp."""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


def _loopback(endpoint: str) -> str:
    """Reach a wildcard bind (tcp://0.0.0.0:port) through loopback."""
    return endpoint.replace("tcp://0.0.0.0:", "tcp://127.0.0.1:")


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "tcp",
        bind_endpoint=lambda: "tcp://127.0.0.1:*",
        connect_endpoint=_loopback,
        wildcard_endpoint="tcp://*:*",
        capabilities=DEFAULT_CAPABILITIES | {"stream", "wildcard_bind"},
        bad_endpoints=[
            ("tcp://127.0.0.1:notaport", True),
            ("tcp://127.0.0.1", False),
            ("tcp://127.0.0.1:99999", False),
            ("tcp://*:5555", False),  # any address is for bind
        ],
    )


class TestTcpConformance(TransportConformance):
    pass
