"""``zmq.ssh.tunnel``: reach a ``tcp://`` endpoint through an ssh server.

The tunnel is the OpenSSH client's port forwarding (``ssh -L``): a local port on
127.0.0.1 forwards to the endpoint as the ssh server sees it, and the socket connects to
that local port. Authentication is ssh's own: keys, the agent, ``~/.ssh/config``, or a
prompt on the terminal. pyzmq's pexpect- and paramiko-based password handling is not
provided: ``password=`` raises a clear error saying so.
"""

from __future__ import annotations

import shutil
import socket as _socket
import subprocess
from typing import Any

_SSH_OPTIONS = ("-o", "ExitOnForwardFailure=yes")


class SSHException(Exception):
    """The ssh client could not set up the tunnel (the message says why)."""


class MaxRetryExceeded(SSHException):
    """pyzmq's name for giving up on a tunnel; kept for code that catches it."""


def select_random_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that were free a moment ago (all are held
    open together while choosing, so none repeats)."""
    held: list[_socket.socket] = []
    try:
        for _ in range(n):
            sock = _socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _ssh_command(server: str, keyfile: str | None) -> list[str]:
    ssh = shutil.which("ssh")
    if ssh is None:
        raise SSHException("no `ssh` client on PATH: install OpenSSH to use ssh tunnels")
    command = [ssh, *_SSH_OPTIONS]
    if keyfile:
        command += ["-i", keyfile]
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    if port:
        command += ["-p", port]
    return [*command, host or server]


def _no_password(password: str | None, what: str) -> None:
    if password is not None:
        raise SSHException(
            f"{what}: password= is not supported by mqsdk's ssh tunnel; use a key "
            "(keyfile= or ssh-agent), or leave the password out and let ssh ask on the terminal"
        )


def try_passwordless_ssh(server: str, keyfile: str | None, paramiko: bool | None = None) -> bool:
    """Whether ``ssh server`` logs in without asking anything (keys or agent)."""
    command = _ssh_command(server, keyfile)
    probe = [*command[:-1], "-o", "BatchMode=yes", command[-1], "exit"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def openssh_tunnel(
    lport: int,
    rport: int,
    server: str,
    remoteip: str = "127.0.0.1",
    keyfile: str | None = None,
    password: str | None = None,
    timeout: int = 60,
) -> int:
    """Forward 127.0.0.1:``lport`` here to ``remoteip``:``rport`` as seen from
    ``server`` (``[user@]host[:port]``). ssh goes to the background once the forward is
    up; it stays while connections use it, and exits after ``timeout`` s without one.
    Returns the ssh client's process id."""
    _no_password(password, "openssh_tunnel")
    command = _ssh_command(server, keyfile)
    forward = f"127.0.0.1:{lport}:{remoteip}:{rport}"
    command = [*command[:-1], "-f", "-S", "none", "-L", forward, command[-1], f"sleep {timeout}"]
    process = subprocess.Popen(command)
    if process.wait() != 0:
        raise SSHException(
            f"ssh could not open the tunnel {forward} via {server} (exit {process.returncode})"
        )
    return process.pid


def paramiko_tunnel(*args: Any, **kwargs: Any) -> Any:
    """Not provided: mqsdk tunnels with the OpenSSH client (:func:`openssh_tunnel`)."""
    raise SSHException("paramiko tunnels are not provided by mqsdk; use openssh_tunnel")


def open_tunnel(
    addr: str,
    server: str,
    keyfile: str | None = None,
    password: str | None = None,
    paramiko: bool | None = None,
    timeout: int = 60,
) -> tuple[str, int]:
    """Open a tunnel to ``addr`` (``tcp://host:port`` as the ssh server sees it);
    returns the local endpoint to connect to and the ssh process id."""
    if paramiko:
        paramiko_tunnel()
    scheme, _, rest = addr.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not host or not port.isdigit():
        raise ValueError(f"ssh tunnels carry tcp://host:port endpoints, not {addr!r}")
    lport = select_random_ports(1)[0]
    pid = openssh_tunnel(lport, int(port), server, host, keyfile, password, timeout)
    return f"tcp://127.0.0.1:{lport}", pid


def tunnel_connection(
    socket: Any,
    addr: str,
    server: str,
    keyfile: str | None = None,
    password: str | None = None,
    paramiko: bool | None = None,
    timeout: int = 60,
) -> int:
    """``socket.connect(addr)`` through an ssh tunnel via ``server``; returns the ssh
    process id."""
    url, pid = open_tunnel(addr, server, keyfile, password, paramiko, timeout)
    socket.connect(url)
    return pid


ssh_tunnel = openssh_tunnel

__all__ = [
    "openssh_tunnel",
    "paramiko_tunnel",
    "ssh_tunnel",
    "try_passwordless_ssh",
    "tunnel_connection",
]
