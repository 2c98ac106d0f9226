"""The transport conformance kit (mqsdk.testing) run against tls://, with throwaway
certificates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tls_certs import OPENSSL, make_certs

from mqsdk.testing.helpers import short_tmpdir
from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command for certs")


@pytest.fixture(scope="session")
def mqsdk_transport() -> Iterator[TransportUnderTest]:
    with short_tmpdir("tls") as directory:
        from pathlib import Path

        certs = make_certs(Path(directory))
        server = f"cert={certs.server_cert}&key={certs.server_key}"

        def client_side(endpoint: str) -> str:
            # A wildcard bind is reached through loopback; the certificate names 127.0.0.1.
            endpoint = endpoint.replace("tls://0.0.0.0:", "tls://127.0.0.1:")
            return f"{endpoint}?ca={certs.ca}"

        yield TransportUnderTest(
            "tls",
            bind_endpoint=lambda: f"tls://127.0.0.1:*?{server}",
            connect_endpoint=client_side,
            rebind_endpoint=lambda endpoint: f"{endpoint}?{server}",
            wildcard_endpoint=f"tls://*:*?{server}",
            capabilities=DEFAULT_CAPABILITIES | {"stream", "wildcard_bind"},
            bad_endpoints=[
                ("tls://127.0.0.1:5555?colour=blue", False),
                ("tls://127.0.0.1:*", True),  # a server needs its certificate
            ],
        )


class TestTlsConformance(TransportConformance):
    pass
