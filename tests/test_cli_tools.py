"""``mqsdk demo``, ``mqsdk cat`` and ``mqsdk monitor``, run as a user would (a fresh
interpreter per call), talking over real sockets; ``cat`` and ``monitor`` against pyzmq."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zmq

from mqsdk._kernel.registry import Registry
from mqsdk.config import load_config

from .conftest import REPO, run_cli

WAIT = 30  # seconds: the longest any step may take on a loaded machine before we fail
ZSocket = Callable[..., tuple[zmq.Socket[Any], str]]
SEED_PATTERNS = {"REQ/REP", "PUB/SUB", "PUSH/PULL", "PAIR"}


def _transports() -> dict[str, Any]:
    return {c.name: c for c in Registry(load_config(environ={})).components("transport")}


# -- demo ---------------------------------------------------------------------------------------


def test_demo_runs_every_pattern_over_every_transport() -> None:
    from mqsdk.cli.demo import ALL_PATTERNS

    result = run_cli("demo", "--json", "--count", "50", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    cells = json.loads(result.stdout)
    transports = _transports()
    assert {(c["pattern"], c["transport"]) for c in cells} == {
        (p[0], t) for p in ALL_PATTERNS for t in transports
    }
    assert {p[0] for p in ALL_PATTERNS} >= SEED_PATTERNS
    for cell in cells:
        assert cell["outcome"] in ("ok", "unavailable", "n/a"), cell
        if cell["outcome"] != "ok":
            assert cell["reason"], f"{cell} gives no reason"
        else:
            expected = 100 if cell["pattern"] in ("PAIR", "CHANNEL") else 50  # both ways
            assert cell["sent"] == cell["received"] == expected, cell
    for name in ("tcp", "ipc", "inproc"):  # always usable here: must really have run
        seeds = [c for c in cells if c["transport"] == name and c["pattern"] in SEED_PATTERNS]
        assert all(c["outcome"] == "ok" for c in seeds), name
    for name, component in transports.items():
        if not component.availability.ok:
            reasons = {c["reason"] for c in cells if c["transport"] == name}
            assert reasons == {component.availability.reason}


def test_demo_table_lists_every_transport_and_a_summary() -> None:
    result = run_cli("demo", "--count", "5", "--pattern", "PUSH/PULL", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["PATTERN", "TRANSPORT"]
    for name in _transports():
        assert any(line.split()[:2] == ["PUSH/PULL", name] for line in lines), name
    assert "0 failed" in lines[-1]


def test_demo_fails_when_a_cell_fails(tmp_path: Path) -> None:
    # ipc works here, but not in a folder whose path is too long for a unix socket
    # address: the cell must fail with the transport's reason, and the exit status say so.
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    result = run_cli("demo", "--transport", "ipc", "--pattern", "PAIR", env={"TMPDIR": str(deep)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed: EndpointError:" in result.stdout
    assert "1 failed" in result.stdout


def test_demo_rejects_an_unknown_transport() -> None:
    result = run_cli("demo", "--transport", "carrier-pigeon")
    assert result.returncode == 2
    assert "carrier-pigeon" in result.stderr


# -- cat against pyzmq ------------------------------------------------------------------------


def cat(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mqsdk", "cat", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=WAIT * 2,
        check=False,
    )


@pytest.fixture
def zsocket() -> Iterator[Callable[..., tuple[zmq.Socket[Any], str]]]:
    """Make pyzmq sockets: bound to a free loopback port, or connected to ``connect``."""
    ctx: zmq.Context[Any] = zmq.Context()
    made: list[zmq.Socket[Any]] = []

    def make(kind: int, connect: str | None = None, **options: Any) -> tuple[zmq.Socket[Any], str]:
        sock = ctx.socket(kind)
        made.append(sock)
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = WAIT * 1000
        for name, value in options.items():  # before bind/connect, where libzmq reads them
            setattr(sock, name, value)
        if connect is not None:
            sock.connect(connect)
            return sock, connect
        return sock, f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"

    yield make
    for sock in made:
        sock.close(linger=0)
    ctx.term()


@contextmanager
def spawn(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m mqsdk ARGS`` running in the background; killed and reaped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQSDK_")}
    with subprocess.Popen(
        [sys.executable, "-m", "mqsdk", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    ) as proc:
        try:
            yield proc
        finally:
            proc.kill()


@pytest.mark.interop
def test_cat_push_multipart_arguments_to_pyzmq_pull(zsocket: ZSocket) -> None:
    pull, endpoint = zsocket(zmq.PULL)
    result = cat("push", "--connect", endpoint, "--timeout", str(WAIT), "hello", "world")
    assert result.returncode == 0, result.stderr
    assert pull.recv_multipart() == [b"hello", b"world"]


@pytest.mark.interop
def test_cat_push_sends_stdin_lines_and_files(zsocket: ZSocket, tmp_path: Any) -> None:
    pull, endpoint = zsocket(zmq.PULL)
    result = cat("--type", "PUSH", "-c", endpoint, "--timeout", str(WAIT), stdin="one\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert [pull.recv(), pull.recv()] == [b"one", b"two"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    result = cat("push", "-c", endpoint, "--timeout", str(WAIT), "head", "--file", str(blob))
    assert result.returncode == 0, result.stderr
    assert pull.recv_multipart() == [b"head", bytes(range(256))]


@pytest.mark.interop
def test_pyzmq_pub_to_cat_sub_with_topic(zsocket: ZSocket) -> None:
    # An XPUB is a PUB that shows us the subscription: we publish only once it arrived.
    pub, endpoint = zsocket(zmq.XPUB)
    with spawn(
        "cat",
        "sub",
        "-c",
        endpoint,
        "--topic",
        "weather.",
        "--count",
        "1",
        "--timeout",
        str(WAIT),
        "--json",
    ) as proc:
        assert pub.recv() == b"\x01weather."
        pub.send_multipart([b"sports.final", b"3-1"])  # filtered out by the subscription
        pub.send_multipart([b"weather.paris", b"\xff sunny"])
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    message = json.loads(line)
    assert message["parts"] == ["weather.paris", {"base64": "/yBzdW5ueQ=="}]


@pytest.mark.interop
def test_cat_req_round_trip_with_pyzmq_rep(zsocket: ZSocket) -> None:
    rep, endpoint = zsocket(zmq.REP)
    with spawn(
        "cat", "req", "-c", endpoint, "ping", "--format", "repr", "--timeout", str(WAIT)
    ) as proc:
        request = rep.recv_multipart()
        rep.send_multipart([b"pong", *request])
        out, err = proc.communicate(timeout=WAIT)
    assert request == [b"ping"]
    assert proc.returncode == 0, err
    assert out == "[b'pong', b'ping']\n"


@pytest.mark.interop
def test_cat_rep_echoes_pyzmq_req(zsocket: ZSocket) -> None:
    req, endpoint = zsocket(zmq.REQ)
    with spawn(
        "cat",
        "rep",
        "-c",
        endpoint,
        "--echo",
        "--count",
        "2",
        "--format",
        "hex",
        "--timeout",
        str(WAIT),
    ) as proc:
        replies = []
        for request in ([b"a", b""], [b"\x00\x01"]):
            req.send_multipart(request)
            replies.append(req.recv_multipart())
        out, err = proc.communicate(timeout=WAIT)
    assert replies == [[b"a", b""], [b"\x00\x01"]]
    assert proc.returncode == 0, err
    assert out.splitlines() == ["61 -", "0001"]


@pytest.mark.interop
def test_cat_pull_binds_a_wildcard_and_says_where(zsocket: ZSocket) -> None:
    with spawn(
        "cat", "pull", "--bind", "tcp://127.0.0.1:*", "-n", "1", "--timeout", str(WAIT)
    ) as proc:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("bound tcp://127.0.0.1:"), line
        push, _ = zsocket(zmq.PUSH, connect=line.split()[1])
        push.send_multipart([b"x", b"y"])
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert out == "x\ty\n"


def test_cat_usage_errors_are_clear() -> None:
    result = cat()
    assert result.returncode == 2
    assert "socket type" in result.stderr
    result = cat("shout", "-c", "tcp://127.0.0.1:1")
    assert result.returncode == 2
    assert "unknown socket type 'shout'" in result.stderr
    result = cat("rep", "-c", "tcp://127.0.0.1:1")
    assert result.returncode == 2
    assert "--echo" in result.stderr


def test_cat_times_out_with_status_1() -> None:
    result = cat("pull", "--bind", "tcp://127.0.0.1:*", "--count", "1", "--timeout", "0.2")
    assert result.returncode == 1
    assert "timed out after 0.2 s" in result.stderr


def test_security_options_without_the_mechanism_fail_clearly() -> None:
    env = {**os.environ, "MQSDK_DISABLE_PLUGINS": "plain"}
    result = subprocess.run(
        [sys.executable, "-m", "mqsdk", "cat", "push", "-c", "tcp://127.0.0.1:1", "x",
         "--plain-user", "admin"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO, env=env,
        timeout=WAIT * 2, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--plain-user (socket option plain_username): " in result.stderr
    assert "mqsdk-mechanism-plain" in result.stderr


@pytest.mark.interop
def test_cat_plain_client_to_pyzmq_plain_server(zsocket: ZSocket) -> None:
    from zmq.auth.thread import ThreadAuthenticator

    server, endpoint = zsocket(zmq.PULL, plain_server=True)
    auth = ThreadAuthenticator(server.context)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"admin": "s3cret"})
        result = cat("push", "-c", endpoint, "--plain-user", "admin", "--plain-password",
                     "s3cret", "--timeout", str(WAIT), "authenticated")  # fmt: skip
        assert result.returncode == 0, result.stderr
        frame = server.recv(copy=False)
        assert frame.bytes == b"authenticated"
        assert frame.get("User-Id") == "admin"  # the ZAP handler checked these credentials
    finally:
        auth.stop()


@pytest.mark.interop
def test_cat_curve_client_to_pyzmq_curve_server(zsocket: ZSocket) -> None:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    server, endpoint = zsocket(zmq.PULL, curve_server=True, curve_secretkey=server_secret)
    result = cat(
        "push", "-c", endpoint, "--timeout", str(WAIT), "encrypted",
        f"--curve-serverkey={server_public.decode()}",
        f"--curve-publickey={client_public.decode()}",
        f"--curve-secretkey={client_secret.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert server.recv() == b"encrypted"


@pytest.mark.interop
def test_pyzmq_curve_client_to_cat_curve_server(zsocket: ZSocket) -> None:
    # Keys go as --option=KEY: a Z85 key may start with "-", which argparse would
    # otherwise take for an option (a usage error about once in 85 keys).
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    with spawn("cat", "pull", "--bind", "tcp://127.0.0.1:*", "--curve-server",
               f"--curve-secretkey={server_secret.decode()}", "-n", "1",
               "--timeout", str(WAIT)) as proc:  # fmt: skip
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("bound tcp://127.0.0.1:"), line
        push, _ = zsocket(
            zmq.PUSH,
            connect=line.split()[1],
            curve_serverkey=server_public,
            curve_publickey=client_public,
            curve_secretkey=client_secret,
        )
        push.send_multipart([b"sealed", b"message"])
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert out == "sealed\tmessage\n"


# -- monitor -----------------------------------------------------------------------------------


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines as they come (a thread reads, so waits stay bounded)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.put(line)
        except (ValueError, OSError):
            pass  # the test ended and spawn() closed the pipe under this reader
        lines.put("")  # end of output

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], event: str, seen: list[str]) -> dict[str, Any]:
    while True:
        try:
            line = lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no {event} event within {WAIT} s; saw {seen}")
        if not line:
            pytest.fail(f"monitor ended before {event}; saw {seen}")
        seen.append(line)
        record: dict[str, Any] = json.loads(line)
        if record["event"] == event:
            return record


@pytest.mark.interop
def test_monitor_prints_connected_and_disconnected(zsocket: ZSocket) -> None:
    pull, endpoint = zsocket(zmq.PULL)
    seen: list[str] = []
    with spawn("monitor", endpoint, "--type", "PUSH", "--json", "--timeout", str(WAIT)) as proc:
        lines = _lines(proc)
        connected = _wait_for(lines, "CONNECTED", seen)
        assert connected["endpoint"] == endpoint
        assert isinstance(connected["value"], int)
        assert isinstance(connected["time"], float)
        _wait_for(lines, "HANDSHAKE_SUCCEEDED", seen)
        pull.close(linger=0)  # the peer goes away
        disconnected = _wait_for(lines, "DISCONNECTED", seen)
        assert disconnected["endpoint"] == endpoint


def test_monitor_plain_output_has_time_event_endpoint_value() -> None:
    result = run_cli("monitor", "--bind", "tcp://127.0.0.1:*", "--type", "PULL", "--count", "1")
    assert result.returncode == 0, result.stderr
    stamp, event, endpoint, value = result.stdout.split()
    assert event == "LISTENING"
    assert endpoint.startswith("tcp://127.0.0.1:")
    assert stamp.count(":") == 2 and value.isdigit()


def test_demo_shows_a_transport_that_cannot_carry_a_pattern_as_not_applicable() -> None:
    # A datagram transport declares the socket types it carries; the demo must not try
    # the others, nor count them as failures.
    from types import SimpleNamespace

    from mqsdk import hookimpl
    from mqsdk._kernel.transport import MessageTransport
    from mqsdk.cli.demo import PATTERNS, run_cell

    class Datagrams(MessageTransport):
        name = "dgram"
        socket_types = frozenset({"RADIO", "DISH"})

        def bind(self, socket: Any, address: str) -> str:
            raise AssertionError("the demo must not bind a transport that cannot carry it")

        def connect(self, socket: Any, address: str) -> None:
            raise AssertionError("the demo must not connect it either")

        def close(self, socket: Any) -> None:
            pass

    @hookimpl
    def mqsdk_transports() -> list[type[MessageTransport]]:
        return [Datagrams]

    registry = Registry(
        load_config(environ={}),
        extra_plugins=[("dgram", SimpleNamespace(mqsdk_transports=mqsdk_transports))],
    )
    for pattern in PATTERNS:
        cell = run_cell(pattern, "dgram", registry, 1, 1.0, "/nonexistent", 0)
        assert cell.outcome == "n/a", cell
        assert cell.reason == "dgram carries DISH, RADIO only"
