"""Test kits for mqsdk plugin authors: imported by test suites, never at run time.

* :mod:`mqsdk.testing.transports`: the transport kit, one battery for every transport
  (:class:`~mqsdk.testing.transports.TransportUnderTest` declares a transport and its
  capabilities, :class:`~mqsdk.testing.transports.TransportConformance` runs the checks
  they select); the ``mqsdk.testing`` pytest plugin (:mod:`mqsdk.testing.pytest_plugin`,
  installed with mqsdk) runs it from one option.
* :mod:`mqsdk.testing.poller_conformance`: the poller backend battery.
* :mod:`mqsdk.testing.helpers`: bounded waits, lifecycle observers, endpoint makers.
* :mod:`mqsdk.testing.fixtures`: pytest fixtures for pattern tests (``ctx``, ``make``),
  imported by a suite's ``conftest.py``.
* :mod:`mqsdk.testing.libzmq`: a real libzmq built with its draft API (CLIENT/SERVER,
  RADIO/DISH, SCATTER/GATHER, PEER, CHANNEL, ws), driven through ctypes, for interop
  tests of what pyzmq's wheels lack.
* :mod:`mqsdk.testing.rawzmtp`: a ZMTP peer spoken by hand, for wire-level tests.

The names are loaded on first use, so the pytest plugin stays cheap in test runs that do
not use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mqsdk.testing.transports import TransportConformance, TransportUnderTest

__all__ = ["TransportConformance", "TransportUnderTest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("mqsdk.testing.transports"), name)
    raise AttributeError(f"module 'mqsdk.testing' has no attribute {name!r}")
