"""pyzmq's Poller semantics on mqsdk.Poller: registering with no events, membership, and
files reported by their fd number."""

from __future__ import annotations

import os

import mqsdk

TIMEOUT_MS = 5000


def test_register_with_no_events_unregisters_or_does_nothing(ctx: mqsdk.Context) -> None:
    watched = ctx.socket(mqsdk.PAIR)
    never = ctx.socket(mqsdk.PAIR)
    poller = mqsdk.Poller()
    poller.register(watched, mqsdk.POLLIN)
    poller.register(never, 0)  # was KeyError: pyzmq ignores it
    assert watched in poller  # was TypeError
    assert never not in poller
    poller.register(watched, 0)
    assert watched not in poller
    assert poller.sockets == []


def test_a_registered_file_comes_back_as_its_fd() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
        poller = mqsdk.Poller()
        poller.register(reader, mqsdk.POLLIN)
        assert reader in poller
        assert dict(poller.poll(0)) == {}
        writer.write(b"x")
        writer.flush()
        assert dict(poller.poll(TIMEOUT_MS)) == {reader.fileno(): mqsdk.POLLIN}
        # select still answers with the objects it was given, as select.select does.
        assert mqsdk.select([reader], [], [], TIMEOUT_MS / 1000) == ([reader], [], [])
        poller.close()
