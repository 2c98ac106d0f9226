"""The transport kit (mqsdk.testing) run against udp, its datagram subset: RADIO/DISH
only, DISH binds, RADIO connects, one datagram per message. (Multicast is tested in a
network namespace by test_udp_multicast.py.)"""

from __future__ import annotations

import pytest

from mqsdk.testing.transports import TransportConformance, TransportUnderTest


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "udp",
        bind_endpoint=lambda: "udp://127.0.0.1:*",
        connect_endpoint=lambda endpoint: endpoint.replace("udp://0.0.0.0:", "udp://127.0.0.1:"),
        wildcard_endpoint="udp://*:*",
        patterns=frozenset({"RADIO/DISH"}),
        binders=frozenset({"DISH"}),
        # Connectionless datagrams: no connection events, nothing to reconnect, no HWM
        # that blocks (a DISH drops beyond RCVHWM), so not "reliable"; the kernel's
        # SO_REUSEADDR-free bind is exclusive.
        capabilities=frozenset({"datagram", "exclusive_bind", "wildcard_bind", "ephemeral_port"}),
        max_message_size=8192 - 1 - len(b"kit"),  # one datagram: group length, group, body
        bad_endpoints=[("udp://127.0.0.1", True), ("udp://127.0.0.1:notaport", True)],
    )


class TestUdpConformance(TransportConformance):
    pass
