"""The NULL security mechanism (RFC 37 "NULL Security Mechanism"; protocols.md 1.5, 1.6).

Each side sends READY with its properties (libzmq sends it at once, without waiting for
the peer's) and the handshake is done when READY was both sent and received. The peer
may send ERROR instead, which is fatal.

With a non-empty ``zap_domain`` option, our READY waits for the ZAP handler's verdict,
as in libzmq's ``null_mechanism.cpp``: 200 sends READY, 300 closes silently, 400/500
send ``ERROR`` with the status code as reason, then close.

Not re-exported from :mod:`mqsdk.zmtp` on purpose: it depends on the kernel's
:mod:`mqsdk._kernel.mechanism`, which itself builds on the codec in :mod:`mqsdk.zmtp`.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Mapping
from typing import ClassVar

from mqsdk._kernel.mechanism import HANDSHAKE_FRAME_LIMIT, Mechanism, ZapReply, ZapRequest
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp.commands import PeerError, error, parse_error, ready
from mqsdk.zmtp.constants import ERROR, READY, ProtocolErrorCode
from mqsdk.zmtp.frames import Command


class NullMechanism(Mechanism):
    """NULL: no authentication, no encryption; READY carries the metadata.

    Options read: ``zap_domain`` (bytes or str; non-empty asks ZAP before our READY),
    ``zap_enforce_domain`` (bool; without a ZAP handler, refuse instead of accepting),
    ``peer_types`` (see :class:`~mqsdk._kernel.mechanism.Mechanism`).
    """

    name: ClassVar[str] = "NULL"
    number: ClassVar[int] = 0
    handshake_frame_limit: ClassVar[int] = HANDSHAKE_FRAME_LIMIT
    """64 KiB. libzmq accepts a READY of any size, but what it carries is a Socket-Type,
    an Identity of at most 255 bytes and the application's ``X-`` properties; without a
    bound, a peer that never completes the handshake could make us hold a frame as big
    as it likes."""

    def __init__(
        self,
        as_server: bool,
        own_metadata: Mapping[str, bytes],
        options: Mapping[str, object],
    ) -> None:
        super().__init__(as_server, own_metadata, options)
        self._zap_required = bool(options.get("zap_domain"))
        self._ready_sent = False
        self._ready_received = False
        self._started = False
        self.expecting = "READY"  # names the error for an oversized handshake frame

    def start(self) -> list[bytes]:
        if self._started:
            raise RuntimeError("start() was already called")
        self._started = True
        if self._zap_required:
            self._pending_zap = ZapRequest(b"NULL")
            return []
        return self._send_ready()

    def on_command(self, command: Command) -> list[bytes]:
        if self._ready_received or not self._started:
            raise ProtocolError(
                f"unexpected {command.name!r} command: the NULL handshake "
                + ("is over" if self._ready_received else "has not started"),
                ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
            )
        if command.name == READY:
            self.accept_peer_properties(command.data)
            self._ready_received = True
            self._done = self._ready_sent
            return []
        if command.name == ERROR:
            raise PeerError(parse_error(command.data))
        raise ProtocolError(
            f"unexpected {command.name!r} command during the NULL handshake "
            "(only READY or ERROR may come)",
            ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
        )

    def on_zap_reply(self, reply: ZapReply | None) -> list[bytes]:
        if self._pending_zap is None:
            raise RuntimeError("the NULL mechanism is not waiting for a ZAP reply")
        self._pending_zap = None
        if reply is None:
            if self.options.get("zap_enforce_domain"):
                raise MQError(
                    "ZAP_DOMAIN is set and ZAP_ENFORCE_DOMAIN is on, but no ZAP handler is "
                    "bound at inproc://zeromq.zap.01; start the authenticator first",
                    _errno.EFAULT,
                )
            return self._send_ready()
        if reply.ok:
            self.user_id = reply.user_id
            self.zap_metadata = reply.metadata
            return self._send_ready()
        self.zap_refusal = reply
        if reply.status_code == b"300":
            return []
        return [error(reply.status_code)]

    def _send_ready(self) -> list[bytes]:
        self._ready_sent = True
        self._done = self._ready_received
        return [ready(self.own_metadata)]


__all__ = ["NullMechanism"]
