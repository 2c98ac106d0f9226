"""The transport conformance kit (mqsdk.testing) run against tipc; skipped with the
plugin's own reason where the host has no TIPC (no kernel module)."""

from __future__ import annotations

import os

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "tipc",
        bind_endpoint=lambda: "tipc://<*>",  # a random port id, reported by last_endpoint
        # A port id disappears with its socket: rebinding it is not possible, and
        # overlapping service ranges share connections instead of failing to bind.
        capabilities=DEFAULT_CAPABILITIES - {"reconnect", "exclusive_bind"},
    )


# The qemu VM run (.ci/vm-kernel-tests, which sets this variable) has a slow emulated CPU
# and a time limit: there the lighter StreamTransportConformance in test_tipc_sockets.py
# carries the transport; the full kit runs wherever the host itself has tipc.
@pytest.mark.skipif(
    bool(os.environ.get("MQSDK_TEST_REQUIRE_TRANSPORTS")),
    reason="in the VM kernel run the shared StreamTransportConformance covers tipc",
)
class TestTipcConformance(TransportConformance):
    pass
