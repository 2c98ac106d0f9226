"""The transport conformance kit (mqsdk.testing) run against chaos+tcp:// with its
faults off: the wrapper alone changes nothing the kit can see."""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


@pytest.fixture(scope="module")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "chaos+tcp",
        bind_endpoint=lambda: "chaos+tcp://127.0.0.1:*",
        connect_endpoint=lambda e: e.replace("://0.0.0.0:", "://127.0.0.1:"),
        wildcard_endpoint="chaos+tcp://*:*",
        capabilities=DEFAULT_CAPABILITIES | {"stream", "wildcard_bind"},
        bad_endpoints=[
            ("chaos+tcp://127.0.0.1:5555?colour=blue", False),
            ("chaos+tcp://127.0.0.1:5555?drop=2", True),
            ("chaos+tcp://127.0.0.1", False),  # the inner transport's own refusal
        ],
    )


class TestChaosConformance(TransportConformance):
    pass
