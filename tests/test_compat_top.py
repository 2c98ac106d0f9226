"""pyzmq's top-level names on mqsdk: constants as pyzmq's enums, ZMQError as the root of
mqsdk's errors, versions and ``has()``, ``zmq.utils``, ``zmq.ssh.tunnel`` and
``python -m zmq.curve_keygen``."""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import mqsdk
import mqsdk.compat as zmq
from mqsdk.compat import constants
from mqsdk.compat.ssh import tunnel
from mqsdk.compat.utils import jsonapi, strtypes, win32, z85
from mqsdk.zmtp.constants import ProtocolErrorCode

from .conftest import run_cli

TIMEOUT = 60


def curve_available() -> bool:
    return bool(zmq.has("curve"))


# -- constants ------------------------------------------------------------------------


def test_module_constants_are_the_enum_members() -> None:
    assert zmq.POLLIN is zmq.PollEvent.POLLIN and zmq.POLLIN == mqsdk.POLLIN
    assert zmq.PUSH is zmq.SocketType.PUSH is mqsdk.PUSH
    assert zmq.IDENTITY is zmq.SocketOption.ROUTING_ID
    assert zmq.RECONNECT_STOP_AFTER_DISCONNECT is constants.ReconnectStop.AFTER_DISCONNECT
    assert zmq.NOTIFY_CONNECT is constants.RouterNotify.CONNECT
    assert zmq.EVENT_CONNECTED is zmq.Event.CONNECTED
    assert zmq.XREQ is zmq.DEALER and zmq.SocketType(5).name == "DEALER"
    assert zmq.IDENTITY._opt_type is constants._OptType.bytes
    assert zmq.AFFINITY._opt_type is constants._OptType.int64
    assert zmq.FD._opt_type is constants._OptType.fd
    assert zmq.LINGER._opt_type is constants._OptType.int


def test_event_carries_every_protocol_error_code_mqsdk_reports() -> None:
    for code in ProtocolErrorCode:
        member = getattr(zmq, f"PROTOCOL_ERROR_{code.name}")
        assert member == code.value and isinstance(member, zmq.Event)


def test_errno_constants_are_the_systems_and_libzmqs() -> None:
    assert zmq.EAGAIN == errno.EAGAIN and zmq.ENOTSOCK == errno.ENOTSOCK
    assert zmq.ETERM == mqsdk.errors.ETERM == mqsdk.errors.ZMQ_HAUSNUMERO + 53


def test_constants_match_real_pyzmq() -> None:
    real = pytest.importorskip("zmq.constants")  # real pyzmq, the interop peer
    if real.__name__ != "zmq.constants" or real is constants:
        pytest.skip("zmq resolves to mqsdk in this process")
    assert set(real.__all__) == set(constants.__all__)
    for name in real.__all__:
        ours, theirs = getattr(constants, name), getattr(real, name)
        if isinstance(theirs, int):
            assert int(ours) == int(theirs), name
            assert type(ours).__name__ == type(theirs).__name__, name
    for option in real.SocketOption:
        assert constants.SocketOption(option)._opt_type.value == option._opt_type.value


# -- errors ---------------------------------------------------------------------------


def test_zmqerror_catches_what_mqsdk_raises() -> None:
    with (
        mqsdk.Context() as ctx,
        ctx.socket(mqsdk.PULL) as pull,
        pytest.raises(zmq.ZMQError) as caught,
    ):
        pull.recv(zmq.NOBLOCK)
    assert isinstance(caught.value, zmq.Again) and caught.value.errno == zmq.EAGAIN
    assert issubclass(mqsdk.MQError, zmq.ZMQBaseError)


def test_zmqerror_from_an_errno_says_its_text() -> None:
    error = zmq.ZMQError(zmq.EINVAL)
    assert error.errno == zmq.EINVAL
    assert str(error) == zmq.strerror(zmq.EINVAL) == os.strerror(errno.EINVAL)
    assert str(zmq.ZMQError(zmq.ETERM)) == "Context was terminated"
    assert str(zmq.ZMQError(zmq.EINVAL, "custom")) == "custom"
    assert repr(zmq.Again()) == f"Again({os.strerror(errno.EAGAIN)!r})"


def test_mqsdk_errors_take_pyzmqs_argument_order_too() -> None:
    assert zmq.Again(zmq.EAGAIN).errno == zmq.EAGAIN
    terminated = zmq.ContextTerminated()
    assert terminated.errno == zmq.ETERM and str(terminated) == "Context was terminated"
    # mqsdk's own order is unchanged: message first.
    error = mqsdk.MQError("the socket is closed", errno.ENOTSOCK)
    assert str(error) == "the socket is closed" and error.errno == errno.ENOTSOCK
    assert error.strerror == "the socket is closed"
    again = pickle.loads(pickle.dumps(zmq.Again("timed out")))
    assert str(again) == "timed out" and again.errno == errno.EAGAIN


def test_interrupted_system_call_is_an_interrupted_error() -> None:
    error = zmq.InterruptedSystemCall()
    assert isinstance(error, InterruptedError) and isinstance(error, zmq.ZMQError)
    assert error.errno == errno.EINTR


def test_version_error_names_the_emulated_libzmq() -> None:
    from mqsdk.compat.error import _check_version

    assert str(zmq.ZMQVersionError("5.0", "Thing")) == "Thing requires libzmq >= 5.0, have 4.3.5"
    _check_version((4, 3), "draft sockets")
    with pytest.raises(zmq.ZMQVersionError, match=r"requires libzmq >= 9\.1"):
        _check_version((9, 1), "the future")


# -- versions and capabilities ----------------------------------------------------------


def test_versions() -> None:
    assert zmq.pyzmq_version() == zmq.__version__ == "27.2.0"
    assert zmq.pyzmq_version_info() == (27, 2, 0)
    assert zmq.zmq_version_info() == mqsdk.constants.LIBZMQ_VERSION_INFO
    assert zmq.zmq_version() == ".".join(map(str, zmq.zmq_version_info()))
    assert mqsdk.__version__ != zmq.__version__  # mqsdk keeps its own


def test_has_answers_from_the_plugin_registry() -> None:
    from mqsdk._kernel.registry import get_registry

    registry = get_registry()
    assert zmq.has("curve") == ("CURVE" in registry.mechanisms)
    assert zmq.has("ipc") == ("ipc" in registry.transports)
    assert not zmq.has("something weird")
    assert zmq.has("draft") is zmq.DRAFT_API is False


def test_every_name_in_all_exists_and_star_import_works() -> None:
    assert [name for name in zmq.__all__ if not hasattr(zmq, name)] == []
    namespace: dict[str, object] = {}
    exec("from mqsdk.compat import *", namespace)
    assert namespace["Socket"] is mqsdk.Socket and "install" not in namespace


def test_c_build_helpers_say_why_they_are_missing() -> None:
    with pytest.raises(NotImplementedError, match="pure Python"):
        zmq.get_includes()


def test_backend_and_sugar_names() -> None:
    from mqsdk.compat import backend, sugar

    assert backend.Socket is zmq.Socket is sugar.socket.Socket is mqsdk.Socket
    assert sugar.context.Context is mqsdk.Context and zmq.Message is mqsdk.Frame
    assert backend.zmq_errno() == 0


def test_zmq_poll_and_connect_to_last_endpoint_bytes() -> None:
    with mqsdk.Context() as ctx, ctx.socket(mqsdk.PUSH) as push, ctx.socket(mqsdk.PULL) as pull:
        push.linger = pull.linger = 0
        push.bind("tcp://127.0.0.1:0")
        assert isinstance(push.last_endpoint, bytes)
        pull.connect(push.last_endpoint)  # pyzmq code passes the bytes straight back
        push.send(b"hi")
        ready = zmq.zmq_poll([(pull, zmq.POLLIN)], 10_000)
        assert ready == [(pull, zmq.POLLIN)], "nothing arrived within 10 s"
        assert pull.recv() == b"hi"


# -- utils ----------------------------------------------------------------------------


def test_z85_rfc32_vector_and_buffer_types() -> None:
    raw = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
    assert z85.encode(memoryview(raw)) == b"HelloWorld"
    assert z85.decode("HelloWorld") == z85.decode(bytearray(b"HelloWorld")) == raw
    with pytest.raises(ValueError):
        z85.encode(b"abc")


def test_jsonapi_and_strtypes() -> None:
    assert jsonapi.dumps({"a": "é"}) == b'{"a": "\\u00e9"}'
    assert jsonapi.loads(b'{"a": 1}') == {"a": 1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert strtypes.cast_bytes("é") == "é".encode()
        assert strtypes.cast_unicode(b"x") == "x"
    assert [w.category for w in caught] == [DeprecationWarning, DeprecationWarning]


@pytest.mark.skipif(os.name == "nt", reason="the no-op is the non-Windows behaviour")
def test_allow_interrupt_is_a_no_op_off_windows() -> None:
    called: list[bool] = []
    with win32.allow_interrupt(lambda: called.append(True)):
        pass
    assert called == []


# -- ssh ------------------------------------------------------------------------------


def test_select_random_ports_are_distinct_and_free() -> None:
    ports = tunnel.select_random_ports(20)
    assert len(set(ports)) == 20
    with mqsdk.Context() as ctx, ctx.socket(mqsdk.PULL) as pull:
        pull.bind(f"tcp://127.0.0.1:{ports[0]}")


def test_open_tunnel_runs_openssh_port_forwarding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in `ssh` that records its arguments: no ssh server is contacted.
    record = tmp_path / "argv.json"
    fake = tmp_path / "ssh"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    url, pid = tunnel.open_tunnel("tcp://127.0.0.1:5555", "me@gateway:2222", timeout=7)
    argv = json.loads(record.read_text())
    lport = int(url.rsplit(":", 1)[1])
    assert url.startswith("tcp://127.0.0.1:") and pid > 0
    assert argv[argv.index("-L") + 1] == f"127.0.0.1:{lport}:127.0.0.1:5555"
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[-2:] == ["me@gateway", "sleep 7"] and "-f" in argv
    with pytest.raises(tunnel.SSHException, match="password"):
        tunnel.open_tunnel("tcp://127.0.0.1:5555", "gateway", password="secret")


def stand_in_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str = "") -> Path:
    """Put an `ssh` on PATH that records its arguments (in the returned file), then runs
    ``then``; no ssh server is contacted."""
    record = tmp_path / "argv.json"
    fake = tmp_path / "ssh"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys, time\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n{then}\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return record


@pytest.mark.parametrize(
    "server",
    ["-oProxyCommand=touch pwned", "me@-oProxyCommand=x", "-p22", "[::1", "[::1]x", "gw:ssh"],
)
def test_ssh_server_that_is_an_option_or_malformed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    record = stand_in_ssh(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="ssh server"):
        tunnel.open_tunnel("tcp://127.0.0.1:5555", server)
    with pytest.raises(ValueError, match="ssh server"):
        tunnel.try_passwordless_ssh(server, None)
    assert not record.exists(), "ssh was started with a server it could take as an option"


@pytest.mark.parametrize(
    ("server", "destination", "port"),
    [("me@[::1]:2222", "me@::1", "2222"), ("[::1]", "::1", None), ("::1", "::1", None)],
)
def test_ssh_tunnel_to_an_ipv6_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    destination: str,
    port: str | None,
) -> None:
    record = stand_in_ssh(tmp_path, monkeypatch)
    tunnel.open_tunnel("tcp://127.0.0.1:5555", server, timeout=7)
    argv = json.loads(record.read_text())
    assert argv[-3:] == ["--", destination, "sleep 7"]
    assert (argv[argv.index("-p") + 1] if "-p" in argv else None) == port
    # Reaching the server is bounded: the caller waits for ssh to go to the background.
    assert f"ConnectTimeout={tunnel._CONNECT_TIMEOUT}" in argv


def test_passwordless_probe_gives_up_on_a_server_that_stalls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in "logs in" (exit 0) only after far longer than the probe may take.
    stand_in_ssh(tmp_path, monkeypatch, then="time.sleep(60)")
    monkeypatch.setattr(tunnel, "_CONNECT_TIMEOUT", 1)
    assert tunnel.try_passwordless_ssh("me@gateway", None) is False


# -- python -m zmq.curve_keygen ---------------------------------------------------------


def run_as_zmq(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("run-as-zmq", *args, timeout=TIMEOUT)


def test_child_pythons_of_run_as_zmq_import_mqsdk_as_zmq(tmp_path: Path) -> None:
    script = tmp_path / "spawn.py"
    script.write_text(
        textwrap.dedent(
            """
            import subprocess, sys
            code = "import zmq, zmq.curve_keygen as k; print(zmq.__name__, k.__name__)"
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            print(out.stdout.strip(), out.stderr.strip())
            """
        )
    )
    result = run_as_zmq(str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["mqsdk.compat", "mqsdk.compat.curve_keygen"], result.stdout


@pytest.mark.skipif(not curve_available(), reason="needs the CURVE plugin")
def test_curve_keygen_as_a_module() -> None:
    public, secret = mqsdk.curve_keypair()
    result = run_as_zmq("-m", "zmq.curve_keygen", "--secret", secret.decode(), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"public": public.decode(), "secret": secret.decode()}
    result = run_as_zmq("-m", "zmq.curve_keygen")
    lines = result.stdout.splitlines()
    new_public = lines[lines.index("== CURVE PUBLIC KEY ==") + 1]
    new_secret = lines[lines.index("== CURVE SECRET KEY ==") + 1]
    assert mqsdk.curve_public(new_secret).decode() == new_public


@pytest.mark.skipif(not curve_available(), reason="needs the CURVE plugin")
def test_curve_keygen_takes_a_secret_that_begins_with_a_dash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One Z85 key in 85 begins with "-": argparse alone refuses it as a missing value."""
    from mqsdk.compat import curve_keygen

    secret = next(s for _, s in iter(mqsdk.curve_keypair, None) if s.startswith(b"-"))
    assert curve_keygen.main(["--secret", secret.decode(), "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert keys == {"public": mqsdk.curve_public(secret).decode(), "secret": secret.decode()}


@pytest.mark.parametrize("secret", ["garbage", '"' * 40])
def test_curve_keygen_with_a_secret_that_is_not_a_key_is_a_usage_error(
    secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mqsdk.compat import curve_keygen

    with pytest.raises(SystemExit) as exited:
        curve_keygen.main(["--secret", secret])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "error: --secret:" in err and "Traceback" not in err, err


def test_import_mqsdk_as_zmq_finds_pyzmq_names_too() -> None:
    """A port by hand (``import mqsdk as zmq``) reaches pyzmq's top-level names that
    mqsdk does not define itself, and they are compat's very objects."""
    import mqsdk.compat

    for name in (
        "EAGAIN",
        "ENOTSOCK",
        "PLAIN",
        "MORE",
        "IO_THREADS",
        "SocketOption",
        "ZMQError",
        "zmq_version",
        "has",
        "device",
        "MessageTracker",
    ):
        assert getattr(mqsdk, name) is getattr(mqsdk.compat, name), name
    assert mqsdk.zmq_version() == "4.3.5"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        mqsdk.no_such_name  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'NO_SUCH_NAME'"):
        mqsdk.NO_SUCH_NAME  # noqa: B018
