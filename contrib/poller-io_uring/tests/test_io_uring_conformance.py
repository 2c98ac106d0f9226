"""The shared poller battery, run against the io_uring backend."""

from __future__ import annotations

from mqsdk_poller_io_uring import IoUringPoller

from mqsdk.testing.poller_conformance import PollerConformance


class TestIoUringPollerConformance(PollerConformance):
    backend_class = IoUringPoller
    # More fds than the completion ring holds (1024): the overflow list is exercised.
    many_fds = 2500
