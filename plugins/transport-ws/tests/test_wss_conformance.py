"""The transport conformance kit (mqsdk.testing) run against wss://, with throw-away
certificates given as libzmq's wss_* options."""

from __future__ import annotations

import socket

import pytest
from ws_certs import OPENSSL, make_pems

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command for certs")


def _unused_endpoint() -> str:
    """A loopback port nobody listens on (the kit's own probe would bind without the
    certificate options)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"wss://127.0.0.1:{probe.getsockname()[1]}/"


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    pems = make_pems()
    return TransportUnderTest(
        "wss",
        bind_endpoint=lambda: "wss://127.0.0.1:*",
        # A wildcard bind is reached through loopback, which the certificate names.
        connect_endpoint=lambda endpoint: endpoint.replace("wss://0.0.0.0:", "wss://127.0.0.1:"),
        wildcard_endpoint="wss://*:*/",
        unused_endpoint=_unused_endpoint,
        capabilities=DEFAULT_CAPABILITIES | {"wildcard_bind"},
        # Every test socket can both bind and connect: it gets both sides' options.
        options={
            "wss_cert_pem": pems.cert,
            "wss_key_pem": pems.key,
            "wss_trust_pem": pems.ca,
            "wss_hostname": b"127.0.0.1",
        },
        bad_endpoints=[("wss://127.0.0.1:notaport", True), ("wss://*:5555", False)],
    )


class TestWssConformance(TransportConformance):
    pass
