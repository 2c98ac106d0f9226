"""mqsdk.testing.libzmq: finding the draft libzmq, saying why not, and driving it."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from mqsdk.testing import libzmq

DISTRIBUTION_LIBZMQ = Path("/usr/lib/x86_64-linux-gnu/libzmq.so.5")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's environment decides; nothing loaded by another test is reused."""
    monkeypatch.setattr(libzmq, "_loaded", {})
    monkeypatch.delenv("MQSDK_REQUIRE_DRAFT_LIBZMQ", raising=False)


def test_a_missing_library_skips_with_the_reason(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MQSDK_DRAFT_LIBZMQ", "/nonexistent/libzmq.so")
    with pytest.raises(pytest.skip.Exception, match="no draft libzmq at /nonexistent"):
        libzmq.draft_libzmq()


def test_a_missing_library_fails_when_it_is_required(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MQSDK_DRAFT_LIBZMQ", "/nonexistent/libzmq.so")
    monkeypatch.setenv("MQSDK_REQUIRE_DRAFT_LIBZMQ", "1")
    with pytest.raises(pytest.fail.Exception, match="MQSDK_REQUIRE_DRAFT_LIBZMQ=1 but no draft"):
        libzmq.draft_libzmq()


def test_a_libzmq_without_drafts_is_refused_with_the_reason(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not DISTRIBUTION_LIBZMQ.exists():
        pytest.skip(f"no distribution libzmq at {DISTRIBUTION_LIBZMQ} to try")
    monkeypatch.setenv("MQSDK_DRAFT_LIBZMQ", str(DISTRIBUTION_LIBZMQ))
    reason = libzmq.load_draft_libzmq()
    assert isinstance(reason, str) and "built without the draft API" in reason


def test_the_draft_library_leaves_the_soname_to_the_distributions() -> None:
    """Both are named libzmq.so.5: once the draft one is loaded by path, a later load by
    soname (the pgm tests') must still get the distribution's, which has OpenPGM."""
    if not DISTRIBUTION_LIBZMQ.exists():
        pytest.skip(f"no distribution libzmq at {DISTRIBUTION_LIBZMQ} to compare with")
    libzmq.draft_libzmq()  # skips (or fails, where required) without the draft build
    script = (
        "import ctypes\n"
        "from mqsdk.testing import libzmq\n"
        "assert not isinstance(libzmq.load_draft_libzmq(), str)\n"
        "later = ctypes.CDLL('libzmq.so.5')\n"
        "later.zmq_has.argtypes = [ctypes.c_char_p]\n"
        "print(later.zmq_has(b'draft'))\n"
    )
    # A fresh process: which libraries this one has loaded depends on earlier tests.
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "0", "a load by soname got the draft libzmq"


def test_round_trip_with_draft_properties_and_a_timeout() -> None:
    lib = libzmq.draft_libzmq()
    with lib.context() as ctx:
        server, client = ctx.socket(libzmq.SERVER), ctx.socket(libzmq.CLIENT)
        client.connect(server.bind("tcp://127.0.0.1:*"))
        client.send(b"hi")
        request = server.recv()
        assert (request.data, request.more) == (b"hi", False) and request.routing_id
        server.send(b"there", routing_id=request.routing_id)
        assert client.recv().data == b"there"
        with pytest.raises(libzmq.LibzmqTimeout) as waited:
            client.recv(timeout=0.01)
        assert waited.value.errno == errno.EAGAIN
        assert client.try_recv() is None
