"""pgm and epgm against real libzmq with OpenPGM, both directions, in network namespaces.

pyzmq's own libzmq has no OpenPGM here, so the libzmq side is the system's shared
libzmq (Debian's libzmq5 links libpgm) driven through ctypes (tests/libzmq_pgm.py).
"""

from __future__ import annotations

import pytest
from test_pgm_netns import SCHEMES, run

zmq = pytest.importorskip("zmq")

pytestmark = pytest.mark.interop


def test_pyzmq_epgm() -> None:
    if not zmq.has("pgm"):
        pytest.skip(
            f"the installed pyzmq {zmq.pyzmq_version()} (libzmq {zmq.zmq_version()}) is built "
            "without OpenPGM: zmq.has('pgm') is False (the tests below use the system libzmq)"
        )
    pytest.fail("pyzmq has pgm here: run the interop scenarios with pyzmq too")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_mqsdk_pub_to_libzmq_sub(scheme: str) -> None:
    assert run("interop_to_libzmq", scheme=scheme)["received"] == 2000


@pytest.mark.parametrize("scheme", SCHEMES)
def test_libzmq_pub_to_mqsdk_sub(scheme: str) -> None:
    result = run("interop_from_libzmq", scheme=scheme)
    assert result["received"] == 2000
    assert result["sub"]["pgm_bad_stream"] == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_libzmq_repairs_what_mqsdk_naks(scheme: str) -> None:
    # 5% of data packets dropped on our side: OpenPGM must answer our NAKs.
    result = run("interop_from_libzmq", scheme=scheme, loss=0.05)
    assert result["received"] == 2000
    sub = result["sub"]
    assert sub["pgm_naks_sent"] > 0 and sub["pgm_ncf_received"] > 0, sub
    assert sub["pgm_rdata_received"] > 0 and sub["pgm_lost"] == 0, sub


@pytest.mark.parametrize("scheme", SCHEMES)
def test_mqsdk_repairs_what_libzmq_naks(scheme: str) -> None:
    # 5% of our ODATA never leaves: the OpenPGM receiver NAKs (unicast) and we repair.
    result = run("interop_to_libzmq", scheme=scheme, loss=0.05)
    assert result["received"] == 2000
    pub = result["pub"]
    assert pub["pgm_naks_received"] > 0 and pub["pgm_rdata_sent"] > 0, pub
