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

# Seconds ssh may take to reach the server; without it an unreachable server stalls the
# caller for the system's TCP timeout (minutes). Read at call time.
_CONNECT_TIMEOUT = 20


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


def _split_server(server: str) -> tuple[str, str]:
    """``[user@]host[:port]`` into ssh's destination (``[user@]host``) and the port ("" for
    ssh's default). An IPv6 host takes brackets when a port follows (``me@[::1]:2222``);
    without them, several colons are all host."""
    user, at, hostport = server.rpartition("@")
    if hostport.startswith("["):
        host, closed, after = hostport[1:].partition("]")
        if not closed or (after and not after.startswith(":")):
            raise ValueError(f"ssh server {server!r} is not [user@]host[:port]")
        port = after[1:]
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    # ssh reads an argument that starts with "-" as an option (``-oProxyCommand=...`` runs
    # a command), so a server or host like that is refused rather than passed on.
    if not host or server.startswith("-") or host.startswith("-"):
        raise ValueError(f"ssh server {server!r} is not [user@]host[:port]")
    if port and not port.isdigit():
        raise ValueError(f"ssh server {server!r} has a port that is not a number")
    return f"{user}{at}{host}", port


def _ssh_command(server: str, keyfile: str | None, options: list[str], remote: str) -> list[str]:
    destination, port = _split_server(server)
    ssh = shutil.which("ssh")
    if ssh is None:
        raise SSHException("no `ssh` client on PATH: install OpenSSH to use ssh tunnels")
    command = [ssh, "-o", "ExitOnForwardFailure=yes", "-o", f"ConnectTimeout={_CONNECT_TIMEOUT}"]
    if keyfile:
        command += ["-i", keyfile]
    if port:
        command += ["-p", port]
    # "--" ends ssh's options: nothing after it can be read as one.
    return [*command, *options, "--", destination, remote]


def _no_password(password: str | None, what: str) -> None:
    if password is not None:
        raise SSHException(
            f"{what}: password= is not supported by mqsdk's ssh tunnel; use a key "
            "(keyfile= or ssh-agent), or leave the password out and let ssh ask on the terminal"
        )


def try_passwordless_ssh(server: str, keyfile: str | None, paramiko: bool | None = None) -> bool:
    """Whether ``ssh server`` logs in without asking anything (keys or agent). A server
    that does not answer within a bounded time counts as no."""
    probe = _ssh_command(server, keyfile, ["-o", "BatchMode=yes"], "exit")
    try:
        # ConnectTimeout bounds reaching the server; this bounds a server that accepts the
        # connection and then stalls.
        done = subprocess.run(probe, capture_output=True, check=False, timeout=2 * _CONNECT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


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
    Returns the ssh client's process id. Reaching the server is bounded (ConnectTimeout);
    a password or passphrase prompt on the terminal waits for the user, as ssh does."""
    _no_password(password, "openssh_tunnel")
    forward = f"127.0.0.1:{lport}:{remoteip}:{rport}"
    command = _ssh_command(
        server, keyfile, ["-f", "-S", "none", "-L", forward], f"sleep {int(timeout)}"
    )
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
