"""The transport conformance kit (mqsdk.testing) run against vmci over the local CID;
skipped with the plugin's own reason where the host has no vsock loopback."""

from __future__ import annotations

import os

import pytest
from mqsdk_transport_vmci.transport import loopback

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "vmci",
        bind_endpoint=lambda: "vmci://@:*",
        capabilities=DEFAULT_CAPABILITIES,
    )


LOOPBACK = loopback()


@pytest.mark.skipif(not LOOPBACK, reason=LOOPBACK.reason)
# The qemu VM run (.ci/vm-kernel-tests, which sets this variable) has a slow emulated CPU
# and a time limit: there the lighter StreamTransportConformance in test_vmci_sockets.py
# carries the transport; the full kit runs wherever the host itself has vmci.
@pytest.mark.skipif(
    bool(os.environ.get("MQSDK_TEST_REQUIRE_TRANSPORTS")),
    reason="in the VM kernel run the shared StreamTransportConformance covers vmci",
)
class TestVmciConformance(TransportConformance):
    pass
