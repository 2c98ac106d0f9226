"""``mqsdk.compat.install()`` and ``mqsdk run-as-zmq``: ``import zmq`` resolves to mqsdk.

Each case runs in a fresh interpreter: install() changes the whole process, and this
suite's interop tests import real pyzmq.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import run_cli

TIMEOUT = 60


def run_python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)]
        if not args or args[0] != "-m"
        else [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )


def test_import_zmq_resolves_to_the_same_mqsdk_modules() -> None:
    result = run_python(
        """
        import mqsdk, mqsdk.compat, mqsdk.asyncio
        mqsdk.compat.install()
        import zmq, zmq.asyncio
        from zmq import Context, Socket
        assert zmq is mqsdk.compat, zmq
        assert zmq.asyncio is mqsdk.compat.asyncio
        assert Context is mqsdk.Context and Socket is mqsdk.Socket
        assert zmq.asyncio.Context is mqsdk.asyncio.Context
        print("ok", zmq.__name__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok mqsdk.compat" in result.stdout


def test_install_refuses_when_real_pyzmq_was_imported_first() -> None:
    pytest.importorskip("zmq")  # real pyzmq, the test environment's interop peer
    result = run_python(
        """
        import zmq
        import mqsdk.compat
        try:
            mqsdk.compat.install()
        except mqsdk.compat.PyzmqAlreadyImported as exc:
            print("refused:", exc)
        else:
            print("installed")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "before anything imports zmq" in result.stdout


def test_a_module_mqsdk_lacks_is_not_taken_from_real_pyzmq() -> None:
    result = run_python(
        """
        import mqsdk.compat
        mqsdk.compat.install()
        try:
            import zmq.no_such_module
        except ModuleNotFoundError as exc:
            print("missing:", exc.name, exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "missing: zmq.no_such_module" in result.stdout
    assert "mqsdk.compat" in result.stdout


def test_uninstall_gives_real_pyzmq_back() -> None:
    pytest.importorskip("zmq")
    result = run_python(
        """
        import mqsdk.compat
        mqsdk.compat.install()
        import zmq
        assert zmq is mqsdk.compat
        mqsdk.compat.uninstall()
        import zmq
        print(zmq.__name__, hasattr(zmq, "backend"), mqsdk.compat.installed())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["zmq", "True", "False"]


PYZMQ_PROGRAM = """
import sys
import zmq                       # a pyzmq program, unchanged
import thirdparty                # and a library of its own that imports zmq too

ctx = zmq.Context.instance()
rep = ctx.socket(zmq.REP)
port = rep.bind_to_random_port("tcp://127.0.0.1")
req = thirdparty.client(ctx, port)
req.send_string(sys.argv[1])
rep.send(rep.recv().upper())
print(zmq.__name__, req.recv_string(), sys.argv[1:])
req.close(); rep.close(); ctx.term()
"""

THIRDPARTY = """
import zmq

def client(ctx, port):
    sock = ctx.socket(zmq.REQ)
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock
"""


def test_run_as_zmq_runs_a_pyzmq_script_unchanged(tmp_path: Path) -> None:
    (tmp_path / "program.py").write_text(PYZMQ_PROGRAM)
    (tmp_path / "thirdparty.py").write_text(THIRDPARTY)
    result = run_cli("run-as-zmq", str(tmp_path / "program.py"), "hello", "--flag")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mqsdk.compat HELLO ['hello', '--flag']"


def test_run_as_zmq_runs_a_module_with_its_options(tmp_path: Path) -> None:
    (tmp_path / "program.py").write_text(PYZMQ_PROGRAM)
    (tmp_path / "thirdparty.py").write_text(THIRDPARTY)
    result = run_cli("run-as-zmq", "-m", "program", "hi", "-x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mqsdk.compat HI ['hi', '-x']"


def test_the_mqsdk_command_runs_a_module_of_the_current_directory(tmp_path: Path) -> None:
    """Started as the ``mqsdk`` console script, sys.path[0] is the script's bin folder:
    ``-m`` must look in the current directory first, as ``python -m`` does."""
    command = Path(sys.executable).parent / "mqsdk"
    if not command.exists():
        pytest.skip(f"no mqsdk console script beside {sys.executable}")
    (tmp_path / "program.py").write_text(PYZMQ_PROGRAM)
    (tmp_path / "thirdparty.py").write_text(THIRDPARTY)
    result = subprocess.run(
        [str(command), "run-as-zmq", "-m", "program", "hey"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mqsdk.compat HEY ['hey']"


def test_run_as_zmq_talks_to_real_pyzmq(tmp_path: Path) -> None:
    """The program under run-as-zmq is a REQ client; the server is real pyzmq (libzmq)."""
    zmq = pytest.importorskip("zmq")
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.linger = 0
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    (tmp_path / "client.py").write_text(
        "import sys, zmq\n"
        "s = zmq.Context.instance().socket(zmq.REQ)\n"
        "s.rcvtimeo = 20000\n"
        "s.connect(sys.argv[1])\n"
        "s.send(b'ping')\n"
        "print(zmq.__name__, s.recv().decode())\n"
    )
    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mqsdk",
            "run-as-zmq",
            str(tmp_path / "client.py"),
            f"tcp://127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert rep.poll(TIMEOUT * 1000), "the client under run-as-zmq never sent"
        assert rep.recv() == b"ping"
        rep.send(b"pong")
        out, err = client.communicate(timeout=TIMEOUT)
    finally:
        client.kill()
        rep.close()
        ctx.term()
    assert client.returncode == 0, err
    assert out.strip() == "mqsdk.compat pong"


def test_run_as_zmq_without_a_program_says_how() -> None:
    result = run_cli("run-as-zmq")
    assert result.returncode == 2
    assert "usage: mqsdk run-as-zmq" in result.stderr


MULTIPROCESSING_PROGRAM = """
import multiprocessing
import sys


def report(queue):
    import zmq

    queue.put(zmq.__name__)


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    queue = context.Queue()
    child = context.Process(target=report, args=(queue,))
    child.start()
    print(queue.get(timeout=60))
    child.join(60)
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_multiprocessing_children_of_run_as_zmq_import_mqsdk_as_zmq(
    tmp_path: Path, start_method: str
) -> None:
    """spawn and forkserver children take the parent's sys.path, not PYTHONPATH: with
    real pyzmq installed they would import it unless sys.path leads them to mqsdk too."""
    (tmp_path / "program.py").write_text(MULTIPROCESSING_PROGRAM)
    result = run_cli("run-as-zmq", str(tmp_path / "program.py"), start_method)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mqsdk.compat", (
        f"a {start_method} child imported {result.stdout.strip()!r} as zmq"
    )


def test_run_as_zmq_with_a_missing_script_says_so_as_python_does(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_program.py"
    result = run_cli("run-as-zmq", str(missing), "arg")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"mqsdk run-as-zmq: can't open file {str(missing)!r}: [Errno 2] No such file or directory"
    )


def test_run_as_zmq_with_a_missing_module_says_so_as_python_does(tmp_path: Path) -> None:
    result = run_cli("run-as-zmq", "-m", "no_such_module_here", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "mqsdk run-as-zmq: No module named 'no_such_module_here'"
    # A name under mqsdk's zmq that mqsdk lacks is missing too (never real pyzmq's).
    result = run_cli("run-as-zmq", "-m", "zmq.no_such_submodule", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "mqsdk run-as-zmq: No module named 'zmq.no_such_submodule' (mqsdk.compat"
    ), result.stderr
    result = run_cli("run-as-zmq", "-m", "no_such_package.module", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "mqsdk run-as-zmq: No module named 'no_such_package'"
