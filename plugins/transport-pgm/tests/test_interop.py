"""epgm against libzmq (pyzmq), both directions, when the installed libzmq has OpenPGM."""

from __future__ import annotations

import pytest

zmq = pytest.importorskip("zmq")

pytestmark = pytest.mark.interop


def test_epgm_interop_with_libzmq() -> None:
    if not zmq.has("pgm"):
        pytest.skip(
            f"the installed pyzmq {zmq.pyzmq_version()} (libzmq {zmq.zmq_version()}) is built "
            "without OpenPGM: zmq.has('pgm') is False, so there is no libzmq epgm peer"
        )
    pytest.fail("libzmq has pgm here: write the interop scenario (not reachable on this host)")
