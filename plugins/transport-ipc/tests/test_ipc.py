"""The ipc transport: endpoint parsing, and real Unix domain sockets.

Waits are select() calls bounded by WAIT seconds; nothing sleeps.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqsdk_transport_ipc import IpcAddress, IpcTransport, mqsdk_transports
from mqsdk_transport_ipc.address import MAX_PATH_BYTES

from mqsdk.errors import EndpointError

pytestmark = pytest.mark.skipif(
    not IpcTransport.available(), reason=IpcTransport.available().reason
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the abstract namespace is Linux-only"
)

WAIT = 10.0
OPTIONS = {"backlog": 16}


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: pytest's tmp_path can exceed sun_path on some hosts."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mq") as name:
        yield Path(name)


@pytest.fixture
def transport() -> IpcTransport:
    return IpcTransport()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        readable, _, _ = select.select([sock], [], [], WAIT)
        assert readable, f"only {len(data)} of {size} bytes arrived"
        chunk = sock.recv(size - len(data))
        assert chunk, "peer closed"
        data += chunk
    return data


def _roundtrip(transport: IpcTransport, listener: socket.socket, endpoint: str) -> None:
    """Connect to ``endpoint`` through the transport, accept, exchange bytes both ways."""
    address = transport.parse(endpoint.removeprefix("ipc://"), bind=False, options=OPTIONS)
    _roundtrip_parsed(transport, listener, address)


def _roundtrip_parsed(
    transport: IpcTransport, listener: socket.socket, address: IpcAddress
) -> None:
    client = transport.connect(address, OPTIONS)
    try:
        _, writable, _ = select.select([], [client], [], WAIT)
        assert writable, "connect did not complete"
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        readable, _, _ = select.select([listener], [], [], WAIT)
        assert readable, "no connection to accept"
        server, _ = listener.accept()
        with server:
            transport.accepted(server, OPTIONS)
            transport.accepted(client, OPTIONS)
            assert not server.getblocking() and not client.getblocking()
            client.send(b"ping")
            assert _recv_exactly(server, 4) == b"ping"
            server.send(b"pong!")
            assert _recv_exactly(client, 5) == b"pong!"
            peer = transport.peer_address(server)
            if hasattr(socket, "SO_PEERCRED"):  # libzmq: localhost:uid:gid:pid
                assert peer == f"localhost:{os.getuid()}:{os.getgid()}:{os.getpid()}"
            else:
                assert peer == ""
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# parse


def test_plugin_hook() -> None:
    assert mqsdk_transports() == [IpcTransport]
    assert (IpcTransport.name, IpcTransport.kind) == ("ipc", "transport")


VALID = [
    # address, bind, target (None: relative, checked separately)
    ("/tmp/feed.sock", True, "/tmp/feed.sock"),
    ("/tmp/feed.sock", False, "/tmp/feed.sock"),
    ("/tmp/dir with space/s", False, "/tmp/dir with space/s"),
    ("*", True, None),
]


@pytest.mark.parametrize(("address", "bind", "target"), VALID)
def test_valid_forms(transport: IpcTransport, address: str, bind: bool, target: str | None) -> None:
    parsed = transport.parse(address, bind=bind, options=OPTIONS)
    assert parsed == IpcAddress(address, target)
    assert str(parsed) == f"ipc://{address}"
    assert not parsed.abstract


def test_relative_path_is_resolved_against_cwd(
    transport: IpcTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    parsed = transport.parse("sub/feed.sock", bind=True, options=OPTIONS)
    assert parsed.written == "sub/feed.sock"
    assert parsed.target == os.path.join(os.getcwd(), "sub/feed.sock")


@linux_only
def test_abstract_form(transport: IpcTransport) -> None:
    parsed = transport.parse("@feed", bind=False, options=OPTIONS)
    assert parsed == IpcAddress("@feed", "\0feed")
    assert parsed.abstract


def test_max_length_is_accepted(transport: IpcTransport) -> None:
    path = "/" + "x" * (MAX_PATH_BYTES - 1)
    assert transport.parse(path, bind=True, options=OPTIONS).target == path


MALFORMED = [
    # address, bind, what the message must say
    ("", True, "the path is empty"),
    ("", False, "the path is empty"),
    ("*", False, "'*' (a fresh temporary path) is only valid for bind"),
    ("/tmp/a\0b", True, "contains a NUL character"),
]
if sys.platform.startswith("linux"):
    MALFORMED.append(("@", True, "the abstract name after '@' is empty"))
else:
    MALFORMED.append(("@feed", True, "the abstract namespace (@name) is Linux-only"))


@pytest.mark.parametrize(("address", "bind", "problem"), MALFORMED)
def test_malformed_endpoints(
    transport: IpcTransport, address: str, bind: bool, problem: str
) -> None:
    with pytest.raises(EndpointError) as info:
        transport.parse(address, bind=bind, options=OPTIONS)
    message = str(info.value)
    assert message.startswith(f"ipc://{address}: ")
    assert problem in message
    assert "expected an endpoint such as ipc://" in message
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("address", ["/tmp/" + "x" * 115, "@" + "y" * 119])
def test_path_too_long_is_enametoolong(transport: IpcTransport, address: str) -> None:
    assert len(address) == 120
    if address.startswith("@") and not sys.platform.startswith("linux"):
        pytest.skip("the abstract namespace is Linux-only")
    with pytest.raises(EndpointError) as info:
        transport.parse(address, bind=True, options=OPTIONS)
    assert info.value.errno == errno.ENAMETOOLONG
    assert f"is 120 bytes long, longer than the limit of {MAX_PATH_BYTES} bytes" in str(info.value)


def test_length_counts_encoded_bytes(transport: IpcTransport) -> None:
    path = "/" + "é" * 60  # 61 characters, 121 bytes in UTF-8
    if sys.getfilesystemencoding().lower().replace("-", "") != "utf8":
        pytest.skip("the file system encoding is not UTF-8")
    with pytest.raises(EndpointError) as info:
        transport.parse(path, bind=True, options=OPTIONS)
    assert info.value.errno == errno.ENAMETOOLONG


# --------------------------------------------------------------------------------------
# sockets


def test_bind_connect_exchange_and_close(transport: IpcTransport, short_tmp: Path) -> None:
    path = str(short_tmp / "feed.sock")
    listener, endpoint = transport.listen(
        transport.parse(path, bind=True, options=OPTIONS), OPTIONS
    )
    assert endpoint == f"ipc://{path}"
    assert not listener.getblocking()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    try:
        _roundtrip(transport, listener, endpoint)
    finally:
        transport.close_listener(listener, None)
    assert listener.fileno() == -1
    assert not os.path.lexists(path)


def test_wildcard_makes_and_removes_a_temp_dir(transport: IpcTransport) -> None:
    address = transport.parse("*", bind=True, options=OPTIONS)
    listener, endpoint = transport.listen(address, OPTIONS)
    path = endpoint.removeprefix("ipc://")
    try:
        assert os.path.isabs(path)
        assert os.path.basename(path) == "socket"
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        _roundtrip(transport, listener, endpoint)
    finally:
        transport.close_listener(listener, address)
    assert not os.path.lexists(path)
    assert not os.path.lexists(os.path.dirname(path))


def test_each_wildcard_bind_gets_its_own_path(transport: IpcTransport) -> None:
    address = transport.parse("*", bind=True, options=OPTIONS)
    first, one = transport.listen(address, OPTIONS)
    second, two = transport.listen(address, OPTIONS)
    transport.close_listener(first, address)
    transport.close_listener(second, address)
    assert one != two


def test_stale_socket_file_is_replaced(transport: IpcTransport, short_tmp: Path) -> None:
    path = str(short_tmp / "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays behind, as after a crash
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    listener, endpoint = transport.listen(
        transport.parse(path, bind=True, options=OPTIONS), OPTIONS
    )
    try:
        _roundtrip(transport, listener, endpoint)
    finally:
        transport.close_listener(listener, None)
    assert not os.path.lexists(path)


@pytest.mark.parametrize("kind", ["regular file", "directory", "symlink"])
def test_non_socket_at_path_is_not_clobbered(
    transport: IpcTransport, short_tmp: Path, kind: str
) -> None:
    path = short_tmp / "taken"
    if kind == "regular file":
        path.write_text("precious")
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(short_tmp / "elsewhere")
    with pytest.raises(OSError) as info:
        transport.listen(transport.parse(str(path), bind=True, options=OPTIONS), OPTIONS)
    assert info.value.errno == errno.EADDRINUSE
    assert "only replaces stale socket files" in str(info.value)
    if kind == "regular file":
        assert path.read_text() == "precious"
    elif kind == "directory":
        assert path.is_dir()
    else:
        assert path.is_symlink()


def test_close_listener_leaves_a_replaced_file_alone(
    transport: IpcTransport, short_tmp: Path
) -> None:
    path = str(short_tmp / "moved.sock")
    address = transport.parse(path, bind=True, options=OPTIONS)
    listener, _ = transport.listen(address, OPTIONS)
    # Another binder took the path over (libzmq semantics): its file is not ours to remove.
    thief = IpcTransport()
    other, _ = thief.listen(address, OPTIONS)
    try:
        transport.close_listener(listener, address)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        thief.close_listener(other, address)
    assert not os.path.lexists(path)


def test_missing_directory_raises_oserror(transport: IpcTransport, short_tmp: Path) -> None:
    address = transport.parse(str(short_tmp / "no" / "such.sock"), bind=True, options=OPTIONS)
    with pytest.raises(FileNotFoundError):
        transport.listen(address, OPTIONS)


def test_connect_without_listener_fails(transport: IpcTransport, short_tmp: Path) -> None:
    address = transport.parse(str(short_tmp / "nobody.sock"), bind=False, options=OPTIONS)
    with pytest.raises(FileNotFoundError):
        transport.connect(address, OPTIONS)


def test_relative_path_bind_and_connect(
    transport: IpcTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    address = transport.parse("rel.sock", bind=True, options=OPTIONS)
    listener, endpoint = transport.listen(address, OPTIONS)
    try:
        assert endpoint == "ipc://rel.sock"  # as written, like libzmq's last_endpoint
        assert stat.S_ISSOCK(os.lstat(tmp_path / "rel.sock").st_mode)
        _roundtrip(transport, listener, endpoint)
    finally:
        transport.close_listener(listener, address)
    assert not os.path.lexists(tmp_path / "rel.sock")


def test_relative_path_survives_chdir(
    transport: IpcTransport, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(short_tmp)
    address = transport.parse("moving.sock", bind=True, options=OPTIONS)
    connect_to = transport.parse("moving.sock", bind=False, options=OPTIONS)
    listener, _ = transport.listen(address, OPTIONS)
    try:
        monkeypatch.chdir(short_tmp.parent)  # parse resolved both against the old cwd
        _roundtrip_parsed(transport, listener, connect_to)
    finally:
        transport.close_listener(listener, address)
    assert not os.path.lexists(short_tmp / "moving.sock")


@linux_only
def test_abstract_namespace(transport: IpcTransport) -> None:
    name = f"@mqsdk-test-{uuid.uuid4().hex}"
    address = transport.parse(name, bind=True, options=OPTIONS)
    listener, endpoint = transport.listen(address, OPTIONS)
    try:
        assert endpoint == f"ipc://{name}"
        assert listener.getsockname() in (f"\0{name[1:]}", f"\0{name[1:]}".encode())
        _roundtrip(transport, listener, endpoint)
    finally:
        transport.close_listener(listener, address)
    assert not os.path.lexists(name)


def test_listen_rejects_foreign_addresses(transport: IpcTransport) -> None:
    with pytest.raises(TypeError, match="IpcAddress"):
        transport.listen("/tmp/x.sock", OPTIONS)
