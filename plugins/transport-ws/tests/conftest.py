"""Fixtures of the ws tests: mqsdk.testing.fixtures' context, and one set of certificates
per test module for wss."""

import pytest
from ws_certs import OPENSSL, Pems, make_pems

from mqsdk.testing.fixtures import ctx

__all__ = ["ctx", "pems"]


@pytest.fixture(scope="module")
def pems() -> Pems:
    if OPENSSL is None:
        pytest.skip("needs the openssl command for certificates")
    return make_pems()
