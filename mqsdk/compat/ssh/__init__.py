"""``zmq.ssh``: connect a socket through an ssh tunnel (:mod:`.tunnel`)."""

from __future__ import annotations

from mqsdk.compat.ssh.tunnel import (
    openssh_tunnel,
    paramiko_tunnel,
    ssh_tunnel,
    try_passwordless_ssh,
    tunnel_connection,
)

__all__ = [
    "openssh_tunnel",
    "paramiko_tunnel",
    "ssh_tunnel",
    "try_passwordless_ssh",
    "tunnel_connection",
]
