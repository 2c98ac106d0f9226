"""The PLAIN handshake (RFC 24; protocols.md 2.1)::

    C: HELLO    = 05 "HELLO" ulen(1) username plen(1) password
    S: WELCOME  = 07 "WELCOME"            (or ERROR, after asking ZAP)
    C: INITIATE = 08 "INITIATE" metadata
    S: READY    = 05 "READY" metadata

The server asks the ZAP handler after HELLO and, like libzmq, refuses every client when
no handler is bound (PLAIN without ZAP would accept any password). Credentials travel in
clear: use PLAIN only on trusted networks, or CURVE.
"""

from __future__ import annotations

import errno
from typing import ClassVar

from mqsdk.plugin import Mechanism, MQError, ProtocolError, ZapReply, ZapRequest
from mqsdk.zmtp.commands import PeerError, error, parse_error, ready
from mqsdk.zmtp.constants import ERROR, HELLO, INITIATE, WELCOME, ProtocolErrorCode
from mqsdk.zmtp.frames import Command, encode_command
from mqsdk_mechanism_plain.options import PlainOptions

_Code = ProtocolErrorCode


def hello(username: bytes, password: bytes) -> bytes:
    """The client's HELLO command frame."""
    return encode_command(
        HELLO, bytes((len(username),)) + username + bytes((len(password),)) + password
    )


def parse_hello(data: bytes) -> tuple[bytes, bytes]:
    """(username, password) from a HELLO body; every length is checked against the body."""
    if not data or 1 + data[0] >= len(data):
        raise ProtocolError(
            "malformed PLAIN HELLO: bad username length", _Code.ZMTP_MALFORMED_COMMAND_HELLO
        )
    username = data[1 : 1 + data[0]]
    rest = data[1 + data[0] :]
    if rest[0] != len(rest) - 1:
        raise ProtocolError(
            "malformed PLAIN HELLO: bad password length", _Code.ZMTP_MALFORMED_COMMAND_HELLO
        )
    return username, rest[1:]


class PlainMechanism(Mechanism):
    """PLAIN. Options read: ``plain_username``, ``plain_password`` (client),
    ``zap_domain`` (server)."""

    name: ClassVar[str] = "PLAIN"
    number: ClassVar[int] = 1
    option_model = PlainOptions
    handshake_frame_limit: ClassVar[int] = 8192
    """HELLO is at most 518 bytes; INITIATE's metadata gets the rest."""

    def start(self) -> list[bytes]:
        if self.as_server:
            self.expecting = "HELLO"
            return []
        self.expecting = "WELCOME"
        return [hello(self._credential("plain_username"), self._credential("plain_password"))]

    def _credential(self, option: str) -> bytes:
        value = self.options.get(option)
        return value if isinstance(value, bytes) else b""

    def on_command(self, command: Command) -> list[bytes]:
        name = command.name
        if self._done or self._pending_zap is not None or self.zap_refusal is not None:
            # `expecting` then holds "" or "ZAP", which are not commands: a peer's
            # command named so would otherwise match it and complete the handshake.
            raise ProtocolError(
                f"unexpected {name!r} command: the PLAIN handshake "
                + ("is over" if self._done else "waits for the ZAP handler's verdict"),
                _Code.ZMTP_UNEXPECTED_COMMAND,
            )
        if name == ERROR and not self.as_server:
            raise PeerError(parse_error(command.data))
        if name != self.expecting.encode():
            raise ProtocolError(
                f"unexpected {name!r} command in the PLAIN handshake (expected {self.expecting})",
                _Code.ZMTP_UNEXPECTED_COMMAND,
            )
        if name == HELLO:
            self._pending_zap = ZapRequest(b"PLAIN", parse_hello(command.data))
            self.expecting = "ZAP"
            return []
        if name == WELCOME:
            if command.data:
                raise ProtocolError("malformed PLAIN WELCOME", _Code.ZMTP_MALFORMED_COMMAND_WELCOME)
            self.expecting = "READY"
            return [encode_command(INITIATE, self.own_properties())]
        if name == INITIATE:
            self.accept_peer_properties(command.data)
            self.expecting = ""
            self._done = True
            return [ready(self.own_metadata)]
        # READY, on the client
        self.accept_peer_properties(command.data)
        self.expecting = ""
        self._done = True
        return []

    def on_zap_reply(self, reply: ZapReply | None) -> list[bytes]:
        self._pending_zap = None
        if reply is None:
            raise MQError(
                "a PLAIN server needs a ZAP handler at inproc://zeromq.zap.01 to check "
                "passwords (start mqsdk.auth.ThreadAuthenticator first); refusing the client",
                errno.EFAULT,
            )
        if not reply.ok:
            self.zap_refusal = reply
            return [] if reply.status_code == b"300" else [error(reply.status_code)]
        self.user_id = reply.user_id
        self.zap_metadata = reply.metadata
        self.expecting = "INITIATE"
        return [encode_command(WELCOME)]


__all__ = ["PlainMechanism", "hello", "parse_hello"]
