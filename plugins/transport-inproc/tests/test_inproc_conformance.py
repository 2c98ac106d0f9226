"""The transport conformance kit (mqsdk.testing) run against inproc."""

from __future__ import annotations

import itertools

import pytest

from mqsdk.testing.transports import TransportConformance, TransportUnderTest

_names = itertools.count()


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "inproc",
        bind_endpoint=lambda: f"inproc://conformance-{next(_names)}",
        # No OS connections: no connection events and nothing to reconnect; names are
        # chosen by the binder, so there is no wildcard or ephemeral form. Whole messages
        # move between queues: nothing is lost.
        capabilities=frozenset({"reliable", "exclusive_bind", "hwm"}),
        bad_endpoints=[("inproc://", True), ("inproc://", False)],
    )


class TestInprocConformance(TransportConformance):
    pass
