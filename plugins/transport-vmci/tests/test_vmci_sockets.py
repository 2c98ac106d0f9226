"""The vmci transport on real AF_VSOCK sockets.

Creating, binding and configuring AF_VSOCK sockets works without vsock loopback, so
those tests run wherever the vsock module is loaded. Exchanging data needs a peer: the
local CID through ``vsock_loopback``; without it those tests are skipped with the
plugin's own reason (the VM kernel test, .ci/vm-kernel-tests, runs them on a kernel that
has it and makes a skip a failure there). Waits are bounded (select() for WAIT seconds,
socket timeouts); nothing sleeps.
"""

from __future__ import annotations

import errno
import re
import select
import socket
import time
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from mqsdk_transport_vmci import VmciTransport, mqsdk_transports
from mqsdk_transport_vmci.address import CID_ANY, PORT_ANY
from mqsdk_transport_vmci.transport import PROBE_TIMEOUT, get_connect_timeout, loopback

import mqsdk
from mqsdk.testing.transports import skip_unless_supported

WAIT = 30.0  # generous: these tests also run in an emulated (TCG) VM
AF_VSOCK: int = getattr(socket, "AF_VSOCK", -1)


def _vsock_socket_reason() -> str:
    """Why no AF_VSOCK socket can be created here, or "" if one can."""
    if AF_VSOCK == -1:
        return "socket.AF_VSOCK is missing (needs Linux)"
    try:
        socket.socket(AF_VSOCK, socket.SOCK_STREAM).close()
    except OSError as exc:
        return f"socket(AF_VSOCK) fails here: {exc}"
    return ""


SOCKET_REASON = _vsock_socket_reason()
LOOPBACK = loopback()


@pytest.fixture
def _vsock_socket() -> None:
    skip_unless_supported("vmci", SOCKET_REASON)


@pytest.fixture
def _vsock_loopback() -> None:
    skip_unless_supported("vmci", LOOPBACK.reason if not LOOPBACK else "")


needs_vsock_socket = pytest.mark.usefixtures("_vsock_socket")
needs_loopback = pytest.mark.usefixtures("_vsock_loopback")


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    made: list[socket.socket] = []
    try:
        yield made
    finally:
        for sock in made:
            sock.close()


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def _listen(sockets: list[socket.socket], bind: str, options: dict[str, Any]) -> str:
    transport = VmciTransport()
    listener, endpoint = transport.listen(transport.parse(bind, bind=True, options={}), options)
    sockets.append(listener)
    return endpoint


def test_plugin_hook() -> None:
    assert mqsdk_transports() == [VmciTransport]
    assert VmciTransport.name == "vmci"
    assert VmciTransport.kind == "transport"


def test_loopback_probe_says_what_is_missing() -> None:
    from mqsdk_transport_vmci.transport import _probe

    started = time.monotonic()
    result = _probe()
    assert time.monotonic() - started < PROBE_TIMEOUT + 5  # bounded (slack for emulated VMs)
    assert loopback() == result
    assert loopback() is loopback()  # probed once
    if result:
        return
    reason = result.reason
    if AF_VSOCK == -1:
        assert "AF_VSOCK is missing" in reason
    elif SOCKET_REASON:
        assert reason.startswith("socket(AF_VSOCK) fails: ")
    else:
        assert reason.startswith("AF_VSOCK exists but connecting to the local CID fails: ")
        assert "vsock loopback (vsock_loopback module) is needed" in reason


def test_available_is_cheap_and_cached() -> None:
    started = time.monotonic()
    first = VmciTransport.available()
    # no connect probe (it takes PROBE_TIMEOUT without loopback): every process asks
    assert time.monotonic() - started < PROBE_TIMEOUT * 0.9
    assert VmciTransport.available() is first
    if SOCKET_REASON:
        assert not first
    else:
        assert first  # sockets work: other CIDs are reachable in principle
        if not LOOPBACK:
            assert "vsock_loopback" in first.reason


def test_no_af_vsock_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from mqsdk_transport_vmci.transport import _probe

    monkeypatch.delattr(socket, "AF_VSOCK", raising=False)
    result = _probe()
    assert not result
    assert "AF_VSOCK is missing" in result.reason


def test_socket_creation_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from mqsdk_transport_vmci.transport import _probe

    def no_module(*args: Any, **kwargs: Any) -> socket.socket:
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    monkeypatch.setattr(socket, "AF_VSOCK", 40, raising=False)
    monkeypatch.setattr(socket, "socket", no_module)
    result = _probe()
    assert result.reason.startswith(
        "socket(AF_VSOCK) fails: Address family not supported by protocol"
    )


@needs_vsock_socket
def test_wildcard_listen_reports_real_port(sockets: list[socket.socket]) -> None:
    endpoint = _listen(sockets, "*:*", {"backlog": 4})
    port = _port(endpoint)
    assert endpoint == f"vmci://*:{port}"
    assert port != PORT_ANY
    listener = sockets[0]
    assert listener.getsockname() == (CID_ANY, port)
    assert not listener.getblocking()
    with pytest.raises(BlockingIOError):
        listener.accept()


@needs_vsock_socket
def test_bind_to_port_in_use_raises_eaddrinuse(sockets: list[socket.socket]) -> None:
    endpoint = _listen(sockets, "*:*", {})
    with pytest.raises(OSError) as info:
        _listen(sockets, f"*:{_port(endpoint)}", {})
    assert info.value.errno == errno.EADDRINUSE


@needs_vsock_socket
def test_buffer_options_applied_and_read_back(sockets: list[socket.socket]) -> None:
    options = {
        "vmci_buffer_size": 65536,
        "vmci_buffer_min_size": 4096,
        "vmci_buffer_max_size": 1 << 20,
        "vmci_connect_timeout": 1500,
    }
    _listen(sockets, "*:*", options)
    sock = sockets[0]
    assert sock.getsockopt(AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_SIZE) == 65536
    assert sock.getsockopt(AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_MIN_SIZE) == 4096
    assert sock.getsockopt(AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_MAX_SIZE) == 1 << 20
    # The kernel keeps the timeout in ticks (HZ is 100..1000): allow 10 ms.
    assert get_connect_timeout(sock) == pytest.approx(1.5, abs=0.01)


@needs_vsock_socket
def test_absent_or_negative_options_leave_defaults(sockets: list[socket.socket]) -> None:
    plain = socket.socket(AF_VSOCK, socket.SOCK_STREAM)
    sockets.append(plain)
    defaults = [plain.getsockopt(AF_VSOCK, opt) for opt in (0, 1, 2)]
    default_timeout = get_connect_timeout(plain)
    for options in ({}, dict.fromkeys(("vmci_buffer_size", "vmci_connect_timeout"), -1)):
        transport = VmciTransport()
        sock = transport.connect(transport.parse("@:5555", bind=False, options={}), options)
        sockets.append(sock)
        assert [sock.getsockopt(AF_VSOCK, opt) for opt in (0, 1, 2)] == defaults
        assert get_connect_timeout(sock) == default_timeout


@needs_vsock_socket
def test_connect_applies_options_and_timeout_is_honoured(sockets: list[socket.socket]) -> None:
    # Nothing listens on this port: with loopback the connect is refused at once,
    # without it the kernel gives up after vmci_connect_timeout (ETIMEDOUT).
    endpoint = _listen(sockets, "*:*", {})
    unused = _port(endpoint) + 1
    transport = VmciTransport()
    options = {"vmci_buffer_size": 32768, "vmci_connect_timeout": 100}
    client = transport.connect(transport.parse(f"@:{unused}", bind=False, options={}), options)
    sockets.append(client)
    assert not client.getblocking()
    assert client.getsockopt(AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_SIZE) == 32768
    assert get_connect_timeout(client) == pytest.approx(0.1, abs=0.01)
    _, writable, _ = select.select([], [client], [], WAIT)
    assert writable, "the connect timeout did not end the connect"
    # The connect ended in failure; that it was the configured 100 ms and not the
    # kernel's 2 s default is shown by the option read back above, not by a clock.
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0


def test_listen_and_connect_reject_foreign_addresses() -> None:
    transport = VmciTransport()
    with pytest.raises(TypeError, match="VmciAddress"):
        transport.listen("*:5555", {})
    with pytest.raises(TypeError, match="VmciAddress"):
        transport.connect((1, 5555), {})


@needs_loopback
def test_raw_exchange_over_local_cid(sockets: list[socket.socket]) -> None:
    transport = VmciTransport()
    options = {"vmci_buffer_size": 65536}
    endpoint = _listen(sockets, "*:*", options)
    client = transport.connect(
        transport.parse(f"@:{_port(endpoint)}", bind=False, options={}), options
    )
    sockets.append(client)
    _, writable, _ = select.select([], [client], [], WAIT)
    assert writable
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    readable, _, _ = select.select([sockets[0]], [], [], WAIT)
    assert readable
    server, _ = sockets[0].accept()
    sockets.append(server)
    transport.accepted(server, options)
    assert not server.getblocking()
    assert transport.peer_address(server).endswith(f":{client.getsockname()[1]}")
    client.send(b"ping")
    readable, _, _ = select.select([server], [], [], WAIT)
    assert readable and server.recv(4) == b"ping"


@needs_loopback
def test_options_through_mqsdk_sockets() -> None:
    context = mqsdk.Context()
    try:
        pull, push = context.socket(mqsdk.PULL), context.socket(mqsdk.PUSH)
        for sock in (pull, push):
            sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
            sock.vmci_buffer_size = 1 << 20
            sock.vmci_connect_timeout = 5000
        assert push.vmci_buffer_size == 1 << 20
        assert push.vmci_connect_timeout == 5000
        pull.bind("vmci://@:*")  # the local CID, any port
        endpoint = pull.last_endpoint.decode()
        assert re.fullmatch(r"vmci://1:\d+", endpoint), endpoint
        push.connect(endpoint)
        payload = b"\x00" * (1 << 20)
        push.send(payload)
        assert pull.recv() == payload
    finally:
        context.destroy(linger=0)


class _RecordingSocket:
    """Stands in for an AF_VSOCK socket: records the options set on it."""

    calls: ClassVar[list[tuple[int, int, object]]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def setsockopt(self, level: int, optname: int, value: object) -> None:
        self.calls.append((level, optname, value))

    def setblocking(self, flag: bool) -> None:
        pass

    def connect_ex(self, sockaddr: object) -> int:
        return errno.EINPROGRESS

    def fileno(self) -> int:
        return -1

    def detach(self) -> int:
        return -1

    def close(self) -> None:
        pass


def test_socket_options_reach_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sock.vmci_*`` set on an mqsdk socket are what the transport applies to the OS
    socket it connects with (runs anywhere: the AF_VSOCK socket is a recording stand-in)."""
    from mqsdk_transport_vmci import transport as vmci

    family = 40  # AF_VSOCK on Linux
    fake_module = types.SimpleNamespace(
        socket=_RecordingSocket,
        AF_VSOCK=family,
        AF_UNIX=socket.AF_UNIX,
        SOCK_STREAM=socket.SOCK_STREAM,
    )
    _RecordingSocket.calls = []
    context = mqsdk.Context()
    try:
        push = context.socket(mqsdk.PUSH)
        push.vmci_buffer_size = 1 << 20
        push.setsockopt(mqsdk.VMCI_BUFFER_MAX_SIZE, 1 << 21)
        push.vmci_connect_timeout = 1500
        assert push.getsockopt(mqsdk.VMCI_BUFFER_SIZE) == 1 << 20
        with pytest.raises(AttributeError, match="vmci_bufer_size"):
            push.vmci_bufer_size = 1  # type: ignore[attr-defined]
        options = push.transport_options()  # what the kernel hands the transport
        monkeypatch.setattr(vmci, "socket", fake_module)
        transport = VmciTransport()
        transport.connect(transport.parse("2:5555", bind=False, options=options), options)
    finally:
        context.destroy(linger=0)
    set_options = {(optname, value) for level, optname, value in _RecordingSocket.calls}
    assert all(level == family for level, _, _ in _RecordingSocket.calls)
    assert (vmci._BUFFER_OPTIONS[0][1], 1 << 20) in set_options
    assert (vmci._BUFFER_OPTIONS[2][1], 1 << 21) in set_options
    assert (vmci.CONNECT_TIMEOUT_OPT, vmci._TIMEVAL.pack(1, 500_000)) in set_options
    assert not any(optname == vmci._BUFFER_OPTIONS[1][1] for optname, _ in set_options)
