"""The transport conformance kit (mqsdk.testing) run against vmci over the local CID;
skipped with the plugin's own reason where the host has no vsock loopback."""

from __future__ import annotations

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
class TestVmciConformance(TransportConformance):
    pass
