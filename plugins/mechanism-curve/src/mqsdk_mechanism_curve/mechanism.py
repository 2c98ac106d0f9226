"""The CurveZMQ handshake and MESSAGE boxes (RFC 25/26; protocols.md 2.2).

Keys: C/c the client's long-term pair, S/s the server's, C'/c' and S'/s' per
connection. Command bodies (offsets after the command name)::

    HELLO    (200) version 01 00, 72 zeros, C', nonce(8), Box[64 zeros](C'->S)
    WELCOME  (168) nonce(16), Box[S' + cookie](S->C')
    INITIATE (>=257) cookie(96), nonce(8), Box[C + vouch + metadata](C'->S')
    READY    (>=30) nonce(8), Box[metadata](S'->C')
    MESSAGE  (>=33) nonce(8), Box[flags + payload](C'<->S')   in a ZMTP *message* frame

Every size is checked against the exact or minimum layout before anything is decrypted,
and a frame is never bigger than :attr:`CurveMechanism.handshake_frame_limit` during the
handshake (the engine checks the declared size before allocating). Short nonces of
received MESSAGEs must strictly increase (a replayed or reordered box is refused with
ZMTP_INVALID_SEQUENCE); a box that does not open is ZMTP_CRYPTOGRAPHIC. The shared key
of the transient pairs is computed once per connection (``crypto_box_beforenm``) and
each MESSAGE uses ``crypto_box_afternm``.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Mapping, Sequence
from typing import ClassVar

from mqsdk.plugin import (
    Availability,
    Mechanism,
    MQError,
    ProtocolError,
    ZapReply,
    ZapRequest,
    z85_decode,
    z85_encode,
)
from mqsdk.zmtp.commands import PeerError, error, parse_error
from mqsdk.zmtp.constants import (
    ERROR,
    HELLO,
    INITIATE,
    READY,
    WELCOME,
    ProtocolErrorCode,
)
from mqsdk.zmtp.frames import Buffer, Command, Item, encode_command, encode_message
from mqsdk_mechanism_curve.options import CurveOptions

try:
    from nacl import bindings as _nacl
    from nacl.exceptions import CryptoError
    from nacl.utils import random as _random

    _IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - reported by available()
    _IMPORT_ERROR = str(exc)

_Code = ProtocolErrorCode
_NONCE = struct.Struct(">Q")
_MESSAGE_PREFIX = b"\x07MESSAGE"
_HELLO_SIZE = 200 - 6
_WELCOME_SIZE = 168 - 8
_INITIATE_MIN = 257 - 9
_READY_MIN = 30 - 6
_MESSAGE_MIN = 33
_FLAG_MORE = 0x01
_FLAG_COMMAND = 0x02


def curve_keypair() -> tuple[bytes, bytes]:
    """A new long-term key pair as Z85 (40 characters each): ``(public, secret)``,
    like ``zmq.curve_keypair()``."""
    public, secret = _nacl.crypto_box_keypair()
    return z85_encode(public), z85_encode(secret)


def curve_public(secret: bytes | str) -> bytes:
    """The Z85 public key of a Z85 (or 32-byte raw) secret key, like ``zmq.curve_public``."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) == 40:
        raw = z85_decode(raw)
    if len(raw) != 32:
        raise ValueError("a CURVE secret key is 32 bytes or 40 Z85 characters")
    return z85_encode(_nacl.crypto_scalarmult_base(raw))


def _crypto_failure(what: str) -> ProtocolError:
    return ProtocolError(
        f"CURVE: {what} does not decrypt (wrong key, or tampered)", _Code.ZMTP_CRYPTOGRAPHIC
    )


def _open(box: bytes, nonce: bytes, public: bytes, secret: bytes, what: str) -> bytes:
    try:
        return bytes(_nacl.crypto_box_open(box, nonce, public, secret))
    except CryptoError:
        raise _crypto_failure(what) from None


def _following_nonce(nonce: bytes, last: int) -> int:
    """The short nonce's value, which must follow ``last`` (each box's is larger than
    the one before: a replayed or reordered box is refused)."""
    value: int = _NONCE.unpack(nonce)[0]
    if value <= last:
        raise ProtocolError(
            f"CURVE: nonce {value} does not follow {last} (replayed or reordered box)",
            _Code.ZMTP_INVALID_SEQUENCE,
        )
    return value


class CurveMechanism(Mechanism):
    """CURVE. Options read: ``curve_publickey``, ``curve_secretkey`` (both roles),
    ``curve_serverkey`` (client), ``zap_domain``; keys as 32 raw bytes."""

    name: ClassVar[str] = "CURVE"
    number: ClassVar[int] = 2
    option_model = CurveOptions
    handshake_frame_limit: ClassVar[int] = 8192
    """HELLO and WELCOME have fixed sizes; INITIATE and READY carry metadata."""

    def __init__(
        self, as_server: bool, own_metadata: Mapping[str, bytes], options: Mapping[str, object]
    ) -> None:
        super().__init__(as_server, own_metadata, options)
        self._secret = self._key("curve_secretkey")
        public = self.options.get("curve_publickey")
        # Servers often set only their secret key (libzmq examples do): derive the rest.
        self._public = (
            public
            if isinstance(public, bytes) and len(public) == 32
            else bytes(_nacl.crypto_scalarmult_base(self._secret))
        )
        self._server_key = b"" if as_server else self._key("curve_serverkey")
        self._send_nonce = 0  # last short nonce we used; libzmq starts at 1 as well
        self._recv_nonce = 0  # last short nonce received (must grow strictly)
        self._shared = b""  # beforenm(peer transient, own transient secret)
        self._send_prefix = b"CurveZMQMESSAGES" if as_server else b"CurveZMQMESSAGEC"
        self._recv_prefix = b"CurveZMQMESSAGEC" if as_server else b"CurveZMQMESSAGES"
        self._codec: CurveCodec | None = None
        self._transient_public, self._transient_secret = _nacl.crypto_box_keypair()
        self._peer_transient = b""
        self._cookie_key = b""
        self.client_key = b""
        """The client's long-term public key (server side, after INITIATE)."""

    @classmethod
    def available(cls) -> Availability:
        if _IMPORT_ERROR:
            return Availability.no(
                f"PyNaCl is not importable ({_IMPORT_ERROR}); pip install pynacl"
            )
        return Availability.yes()

    @staticmethod
    def keypair() -> tuple[bytes, bytes]:
        """What ``mqsdk.curve_keypair()`` returns."""
        return curve_keypair()

    @staticmethod
    def public_key(secret: bytes | str) -> bytes:
        """What ``mqsdk.curve_public()`` returns."""
        return curve_public(secret)

    def _key(self, option: str) -> bytes:
        value = self.options.get(option)
        if not isinstance(value, bytes) or len(value) != 32:
            role = "server" if self.as_server else "client"
            raise MQError(
                f"a CURVE {role} needs the {option} option (see mqsdk.curve_keypair())",
                errno.EINVAL,
            )
        return value

    def _next_nonce(self) -> bytes:
        self._send_nonce += 1
        return _NONCE.pack(self._send_nonce)

    def _take_nonce(self, nonce: bytes) -> None:
        self._recv_nonce = _following_nonce(nonce, self._recv_nonce)

    # -- handshake -----------------------------------------------------------------------

    def start(self) -> list[bytes]:
        if self.as_server:
            self.expecting = "HELLO"
            return []
        self.expecting = "WELCOME"
        nonce = self._next_nonce()
        box = _nacl.crypto_box(
            bytes(64), b"CurveZMQHELLO---" + nonce, self._server_key, self._transient_secret
        )
        data = b"\x01\x00" + bytes(72) + self._transient_public + nonce + box
        return [encode_command(HELLO, data)]

    def on_command(self, command: Command) -> list[bytes]:
        name = command.name
        if self._done or self._pending_zap is not None or self.zap_refusal is not None:
            # `expecting` then holds "" or "ZAP", which are not commands: a client's
            # command named so would reach _on_ready, and a READY boxed with the session
            # key (which the client knows) would complete the handshake without ZAP.
            raise ProtocolError(
                f"unexpected {name!r} command: the CURVE handshake "
                + ("is over" if self._done else "waits for the ZAP handler's verdict"),
                _Code.ZMTP_UNEXPECTED_COMMAND,
            )
        if name == ERROR and not self.as_server and self.expecting in ("WELCOME", "READY"):
            raise PeerError(parse_error(command.data))
        if name != self.expecting.encode():
            raise ProtocolError(
                f"unexpected {name!r} command in the CURVE handshake (expected {self.expecting})",
                _Code.ZMTP_UNEXPECTED_COMMAND,
            )
        data = command.data
        if name == HELLO:
            return self._on_hello(data)
        if name == INITIATE:
            return self._on_initiate(data)
        if name == WELCOME:
            return self._on_welcome(data)
        return self._on_ready(data)

    def _on_hello(self, data: bytes) -> list[bytes]:
        if len(data) != _HELLO_SIZE or data[0] != 1:
            raise ProtocolError(
                f"malformed CURVE HELLO: {len(data) + 6} bytes (must be 200) or unknown version",
                _Code.ZMTP_MALFORMED_COMMAND_HELLO,
            )
        self._peer_transient = data[74:106]
        nonce = data[106:114]
        plain = _open(
            data[114:], b"CurveZMQHELLO---" + nonce, self._peer_transient, self._secret, "HELLO"
        )
        if plain != bytes(64):
            raise _crypto_failure("HELLO")
        self._take_nonce(nonce)
        # The cookie lets a stateless server recognise its WELCOME; we keep the state but
        # check the cookie anyway, as libzmq does, with a fresh key per connection.
        self._cookie_key = _random(32)
        cookie_nonce = _random(16)
        cookie = cookie_nonce + _nacl.crypto_secretbox(
            self._peer_transient + self._transient_secret,
            b"COOKIE--" + cookie_nonce,
            self._cookie_key,
        )
        welcome_nonce = _random(16)
        box = _nacl.crypto_box(
            self._transient_public + cookie,
            b"WELCOME-" + welcome_nonce,
            self._peer_transient,
            self._secret,
        )
        self.expecting = "INITIATE"
        return [encode_command(WELCOME, welcome_nonce + box)]

    def _on_welcome(self, data: bytes) -> list[bytes]:
        if len(data) != _WELCOME_SIZE:
            raise ProtocolError(
                f"malformed CURVE WELCOME: {len(data) + 8} bytes (must be 168)",
                _Code.ZMTP_MALFORMED_COMMAND_WELCOME,
            )
        plain = _open(
            data[16:], b"WELCOME-" + data[:16], self._server_key, self._transient_secret, "WELCOME"
        )
        self._peer_transient = plain[:32]
        cookie = plain[32:128]
        self._shared = bytes(
            _nacl.crypto_box_beforenm(self._peer_transient, self._transient_secret)
        )
        vouch_nonce = _random(16)
        vouch = vouch_nonce + _nacl.crypto_box(
            self._transient_public + self._server_key,
            b"VOUCH---" + vouch_nonce,
            self._peer_transient,
            self._secret,
        )
        nonce = self._next_nonce()
        box = _nacl.crypto_box_afternm(
            self._public + vouch + self.own_properties(), b"CurveZMQINITIATE" + nonce, self._shared
        )
        self.expecting = "READY"
        return [encode_command(INITIATE, cookie + nonce + box)]

    def _on_initiate(self, data: bytes) -> list[bytes]:
        if len(data) < _INITIATE_MIN:
            raise ProtocolError(
                f"malformed CURVE INITIATE: {len(data) + 9} bytes (at least 257)",
                _Code.ZMTP_MALFORMED_COMMAND_INITIATE,
            )
        cookie = data[:96]
        try:
            inside = _nacl.crypto_secretbox_open(
                cookie[16:], b"COOKIE--" + cookie[:16], self._cookie_key
            )
        except CryptoError:
            raise _crypto_failure("INITIATE cookie") from None
        if inside != self._peer_transient + self._transient_secret:
            raise _crypto_failure("INITIATE cookie")
        nonce = data[96:104]
        self._shared = bytes(
            _nacl.crypto_box_beforenm(self._peer_transient, self._transient_secret)
        )
        try:
            plain = bytes(
                _nacl.crypto_box_open_afternm(data[104:], b"CurveZMQINITIATE" + nonce, self._shared)
            )
        except CryptoError:
            raise _crypto_failure("INITIATE") from None
        self._take_nonce(nonce)
        client_key, vouch, metadata = plain[:32], plain[32:128], plain[128:]
        inside = _open(
            vouch[16:], b"VOUCH---" + vouch[:16], client_key, self._transient_secret, "vouch"
        )
        if inside != self._peer_transient + self._public:
            raise ProtocolError(
                "CURVE: the vouch does not match this connection's keys",
                _Code.ZMTP_KEY_EXCHANGE,
            )
        self.client_key = client_key
        self.accept_peer_properties(metadata)
        self.expecting = "ZAP"
        self._pending_zap = ZapRequest(b"CURVE", (client_key,))
        return []

    def on_zap_reply(self, reply: ZapReply | None) -> list[bytes]:
        self._pending_zap = None
        if reply is not None and not reply.ok:
            self.zap_refusal = reply
            return [] if reply.status_code == b"300" else [error(reply.status_code)]
        if reply is not None:  # no handler bound: every client is accepted (libzmq)
            self.user_id = reply.user_id
            self.zap_metadata = reply.metadata
        nonce = self._next_nonce()
        box = _nacl.crypto_box_afternm(
            self.own_properties(), b"CurveZMQREADY---" + nonce, self._shared
        )
        self.expecting = ""
        self._done = True
        return [encode_command(READY, nonce + box)]

    def _on_ready(self, data: bytes) -> list[bytes]:
        if len(data) < _READY_MIN:
            raise ProtocolError(
                f"malformed CURVE READY: {len(data) + 6} bytes (at least 30)",
                _Code.ZMTP_MALFORMED_COMMAND_READY,
            )
        nonce = data[:8]
        try:
            plain = bytes(
                _nacl.crypto_box_open_afternm(data[8:], b"CurveZMQREADY---" + nonce, self._shared)
            )
        except CryptoError:
            raise _crypto_failure("READY") from None
        self._take_nonce(nonce)
        self.accept_peer_properties(plain)
        self.expecting = ""
        self._done = True
        return []

    # -- traffic -------------------------------------------------------------------------

    def traffic_codec(self) -> CurveCodec:
        """Every frame after the handshake goes in a MESSAGE box (see :class:`CurveCodec`)."""
        if not self._done:
            raise RuntimeError("the CURVE handshake is not done: no session key yet")
        if self._codec is None:
            self._codec = CurveCodec(
                self._shared,
                self._send_prefix,
                self._recv_prefix,
                self._send_nonce,
                self._recv_nonce,
            )
        return self._codec


class CurveCodec:
    """One connection's CURVE traffic after the handshake: each frame boxed with the
    session key into a MESSAGE (a ZMTP *message* frame, flags ``00``, MORE never set),
    with an inner flags byte (``01`` MORE, ``02`` COMMAND). Received short nonces must
    grow strictly; the send nonces go on from the handshake's."""

    __slots__ = (
        "_parts",
        "_recv_nonce",
        "_recv_prefix",
        "_send_nonce",
        "_send_prefix",
        "_shared",
        "decoded_before_error",
    )

    def __init__(
        self,
        shared: bytes,
        send_prefix: bytes,
        recv_prefix: bytes,
        send_nonce: int,
        recv_nonce: int,
    ) -> None:
        self._shared = shared
        self._send_prefix = send_prefix
        self._recv_prefix = recv_prefix
        self._send_nonce = send_nonce
        self._recv_nonce = recv_nonce
        self._parts: list[bytes] = []  # a multipart message being received
        self.decoded_before_error: list[Item] = []

    def _box(self, flags: int, payload: Buffer, out: list[Buffer]) -> int:
        self._send_nonce += 1
        nonce = _NONCE.pack(self._send_nonce)
        box = _nacl.crypto_box_afternm(
            bytes((flags,)) + payload, self._send_prefix + nonce, self._shared
        )
        # A message frame (flags 00/02), never a command frame: what libzmq sends.
        return encode_message((_MESSAGE_PREFIX + nonce + box,), out)

    def encode_message(self, frames: Sequence[Buffer], out: list[Buffer]) -> int:
        last = len(frames) - 1
        return sum(
            self._box(_FLAG_MORE if index < last else 0, frame, out)
            for index, frame in enumerate(frames)
        )

    def encode_command(self, name: bytes, data: bytes = b"") -> bytes:
        out: list[Buffer] = []
        self._box(_FLAG_COMMAND, bytes((len(name),)) + name + data, out)
        return b"".join(out)

    def _take_nonce(self, nonce: bytes) -> None:
        self._recv_nonce = _following_nonce(nonce, self._recv_nonce)

    def decode_items(self, items: list[Item]) -> list[Item]:
        result: list[Item] = []
        self.decoded_before_error = result
        parts = self._parts
        prefix = self._recv_prefix
        shared = self._shared
        for item in items:
            if type(item) is not list:
                raise ProtocolError(
                    f"CURVE: unencrypted {item[0]!r} command after the handshake",
                    _Code.ZMTP_UNEXPECTED_COMMAND,
                )
            for body in item:
                if len(body) < _MESSAGE_MIN or not body.startswith(_MESSAGE_PREFIX):
                    raise ProtocolError(
                        f"malformed CURVE MESSAGE ({len(body)} bytes)",
                        _Code.ZMTP_MALFORMED_COMMAND_MESSAGE,
                    )
                nonce = body[8:16]
                if _NONCE.unpack(nonce)[0] <= self._recv_nonce:
                    self._take_nonce(nonce)  # raises INVALID_SEQUENCE
                try:
                    plain = _nacl.crypto_box_open_afternm(body[16:], prefix + nonce, shared)
                except CryptoError:
                    raise _crypto_failure("MESSAGE") from None
                self._take_nonce(nonce)  # only once the box proved authentic
                flags = plain[0]
                if flags & _FLAG_COMMAND:
                    if len(plain) < 2 or plain[1] >= len(plain) - 1:
                        raise ProtocolError(
                            "malformed command in a CURVE MESSAGE",
                            _Code.ZMTP_MALFORMED_COMMAND_MESSAGE,
                        )
                    end = 2 + plain[1]
                    result.append(Command(plain[2:end], plain[end:]))
                    continue
                parts.append(plain[1:])
                if not flags & _FLAG_MORE:
                    result.append(parts)
                    parts = self._parts = []
        return result


__all__ = ["CurveCodec", "CurveMechanism", "curve_keypair", "curve_public"]
