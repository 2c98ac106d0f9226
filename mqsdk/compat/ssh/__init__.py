"""``zmq.ssh``: connect a socket through an ssh tunnel (:mod:`.tunnel`)."""

from __future__ import annotations

from mqsdk.compat.ssh import tunnel as tunnel
from mqsdk.compat.ssh.tunnel import *  # noqa: F403

__all__ = tunnel.__all__
