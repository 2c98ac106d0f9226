"""The mqsdk transport conformance kit, run against this transport.

Declare what the transport offers; the kit skips what it does not declare. See
mqsdk.testing.transports for every capability and pattern name.
"""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "template",
        bind_endpoint=lambda: "template://127.0.0.1:*",
        capabilities=DEFAULT_CAPABILITIES | {"stream"},
        bad_endpoints=[("template://nowhere", False)],
    )


class TestTemplateConformance(TransportConformance):
    pass
