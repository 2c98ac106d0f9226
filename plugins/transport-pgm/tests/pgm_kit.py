"""The transport kit (mqsdk.testing) against pgm and epgm. Not collected by itself: it
joins multicast groups and sends on them, so test_pgm_conformance.py runs it with pytest
inside a network namespace of its own (only loopback, with multicast and a route for
224.0.0.0/4), where nothing reaches a real network.

pgm and epgm carry PUB/XPUB to SUB/XSUB only; both sides join the group (bind is like
connect), there are no connections (no events, nothing to reconnect, no exclusive bind),
a PUB drops at its high-water mark instead of blocking, and NAK repair makes delivery
reliable. Every test gets a port of its own, so no test hears another's packets.
"""

from __future__ import annotations

import itertools

import pytest

from mqsdk.testing.transports import TransportConformance, TransportUnderTest

GROUP = "239.192.1.1"
_ports = itertools.count(5600)


def declaration(scheme: str) -> TransportUnderTest:
    return TransportUnderTest(
        scheme,
        bind_endpoint=lambda: f"{scheme}://lo;{GROUP}:{next(_ports)}",
        patterns=frozenset({"PUB/SUB", "XPUB/XSUB"}),
        capabilities=frozenset({"reliable", "multicast"}),
        # The default rate (100 kbit/s) would spread the kit's 8 MiB message over minutes.
        options={"rate": 1_000_000},
        bad_endpoints=[
            (f"{scheme}://lo;10.0.0.1:5555", False),  # not a multicast group
            (f"{scheme}://lo;{GROUP}", True),
            (f"{scheme}://;{GROUP}:5555", False),
        ],
    )


class TestPgmConformance(TransportConformance):
    @pytest.fixture
    def mqsdk_transport(self) -> TransportUnderTest:
        return declaration("pgm")


class TestEpgmConformance(TransportConformance):
    @pytest.fixture
    def mqsdk_transport(self) -> TransportUnderTest:
        return declaration("epgm")
