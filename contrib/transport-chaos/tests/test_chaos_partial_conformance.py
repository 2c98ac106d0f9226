"""The conformance kit run against chaos+tcp:// with partial=1 on both sides: every
read and write of every connection is cut short at a random (seeded) point, and every
message must still arrive intact and in order."""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest

SERVER = "partial=1&seed=1"
CLIENT = "partial=1&seed=2"


@pytest.fixture(scope="module")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "chaos+tcp",
        bind_endpoint=lambda: f"chaos+tcp://127.0.0.1:*?{SERVER}",
        connect_endpoint=lambda e: e.replace("://0.0.0.0:", "://127.0.0.1:") + f"?{CLIENT}",
        rebind_endpoint=lambda e: f"{e}?{SERVER}",
        wildcard_endpoint=f"chaos+tcp://*:*?{SERVER}",
        capabilities=DEFAULT_CAPABILITIES | {"stream", "wildcard_bind"},
        bad_endpoints=[(f"chaos+tcp://127.0.0.1:5555?{CLIENT}&partial=2", False)],
    )


class TestChaosPartialConformance(TransportConformance):
    pass
