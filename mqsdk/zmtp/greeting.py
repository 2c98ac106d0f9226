"""The 64-byte ZMTP 3.x greeting: build ours, parse the peer's incrementally.

Layout (RFC 23/37; protocols.md 1.1)::

    0      ff              signature
    1..8   padding         not interpreted; we send BE uint64 (identity size + 1) as libzmq does
    9      7f              signature (bit 0 set = versioned peer, ZMTP >= 2.0)
    10     major           03
    11     minor           01 (3.1); 00 is ZMTP 3.0
    12..31 mechanism       ASCII, NUL-padded to 20 bytes
    32     as-server       00/01 (libzmq always sends 00 and never reads it)
    33..63 filler          zeros

:class:`GreetingParser` accepts the bytes in any chunking, including one at a time and
libzmq's 10 + 1 + 53 pattern, and exposes each fact as soon as the bytes carrying it
have arrived, so an engine can react early (a legacy peer is rejected on its first
byte, before we wait for bytes it will never send).

We always send the full 64 bytes at once (RFC 37 allows it) and do not implement the
downgrade to ZMTP 1.0/2.0 yet: such peers are refused with a :class:`ProtocolError`.
"""

from __future__ import annotations

from mqsdk.errors import ProtocolError
from mqsdk.zmtp.constants import GREETING_SIZE, MECHANISM_NAME_SIZE, ProtocolErrorCode

VERSION_MAJOR = 3
VERSION_MINOR = 1

_NO_DOWNGRADE = "mqsdk does not implement the downgrade to ZMTP 1.0/2.0 yet; upgrade the peer"


def mechanism_field(mechanism: str | bytes) -> bytes:
    """Return the 20-byte greeting field for a mechanism name (``"NULL"`` -> ``b"NULL" + 16 NULs``).

    :raises ValueError: the name is empty, not ASCII, or longer than 20 characters.
    """
    raw = mechanism.encode("ascii") if isinstance(mechanism, str) else bytes(mechanism)
    if not raw or len(raw) > MECHANISM_NAME_SIZE or not raw.isascii() or b"\x00" in raw:
        raise ValueError(f"mechanism name {mechanism!r} must be 1..20 ASCII characters without NUL")
    return raw.ljust(MECHANISM_NAME_SIZE, b"\x00")


def make_greeting(mechanism: str, as_server: bool, *, identity_size: int = 0) -> bytes:
    """Return our full 64-byte ZMTP 3.1 greeting.

    :param mechanism: the greeting mechanism name, e.g. ``"NULL"``, ``"PLAIN"``.
    :param as_server: the as-server byte. RFC 37 requires 0 for NULL, so ``True`` with
        NULL raises. libzmq never reads this byte; roles come from configuration.
    :param identity_size: length of our routing id; the padding carries
        ``identity_size + 1`` as a BE uint64 like libzmq's pseudo-signature, which a
        ZMTP 1.0 peer reads as the length of an identity frame (protocols.md 1.2).
    """
    field = mechanism_field(mechanism)
    if as_server and field.rstrip(b"\x00") == b"NULL":
        raise ValueError("as_server must be False with the NULL mechanism (RFC 37)")
    if not 0 <= identity_size <= 255:
        raise ValueError(f"identity_size {identity_size} is outside 0..255")
    return b"".join(
        (
            b"\xff",
            (identity_size + 1).to_bytes(8, "big"),
            b"\x7f",
            bytes((VERSION_MAJOR, VERSION_MINOR)),
            field,
            b"\x01" if as_server else b"\x00",
            bytes(31),
        )
    )


class GreetingParser:
    """Incremental parser of the peer's greeting.

    ``feed(data)`` consumes at most what is missing of the 64 bytes and returns how many
    bytes it took; the rest of ``data`` belongs to the frame stream. Facts appear as
    soon as possible:

    * byte 0 / after 10 bytes: :attr:`versioned` (a non-``ff`` first byte or bit 0 of
      byte 9 clear means a ZMTP 1.0 peer, refused at once);
    * after 11 bytes: :attr:`major` (``< 3`` is ZMTP 1.0/2.0, refused);
    * after 12 bytes: :attr:`version` ``(major, minor)``; minor 0 is ZMTP 3.0, whose
      peers want subscriptions as data frames; any higher version is accepted (RFC 37);
    * after 64 bytes: :attr:`mechanism` (exactly compared with ours; a mismatch raises
      code ``ZMTP_MECHANISM_MISMATCH``), :attr:`as_server`, :attr:`done`.

    Once it has raised, the parser stays failed and raises an equal error again. The
    fields learnt before the failure stay readable (an engine that later implements
    downgrade can look at :attr:`versioned` and :attr:`major`).
    """

    __slots__ = (
        "_buf",
        "_expected",
        "_failure",
        "as_server",
        "major",
        "mechanism",
        "minor",
        "versioned",
    )

    def __init__(self, mechanism: str | bytes) -> None:
        self._expected = mechanism_field(mechanism)
        self._buf = bytearray()
        self._failure: tuple[str, int] | None = None  # (message, code) once it failed
        self.versioned: bool | None = None
        self.major: int | None = None
        self.minor: int | None = None
        self.mechanism: bytes | None = None
        """The peer's mechanism name without the NUL padding (e.g. ``b"NULL"``)."""
        self.as_server: bool | None = None

    @property
    def received(self) -> int:
        """How many greeting bytes have been consumed so far (0..64)."""
        return len(self._buf)

    @property
    def done(self) -> bool:
        """All 64 bytes arrived and were accepted."""
        return self.as_server is not None

    @property
    def version(self) -> tuple[int, int] | None:
        """``(major, minor)`` once 12 bytes have arrived."""
        if self.major is None or self.minor is None:
            return None
        return (self.major, self.minor)

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Consume greeting bytes from the front of ``data``; return how many were taken.

        :raises ProtocolError: a legacy (ZMTP 1.0/2.0) peer, or a mechanism mismatch
            (``code`` ``ZMTP_MECHANISM_MISMATCH``).
        """
        if self._failure is not None:
            raise ProtocolError(*self._failure)
        buf = self._buf
        have = len(buf)
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        take = min(GREETING_SIZE - have, view.nbytes)
        if take <= 0:
            return 0
        buf += view[:take]
        now = have + take
        try:
            self._check(have, now)
        except ProtocolError as exc:
            # Remember what failed, not the exception: its traceback holds this frame,
            # and the frame holds this parser (and the engine above it), a reference
            # cycle that only the garbage collector would free. A peer sending garbage
            # would then cost a collection's worth of work per connection.
            self._failure = (str(exc), exc.code)
            raise
        return take

    def _check(self, have: int, now: int) -> None:
        buf = self._buf
        if have < 1 <= now and buf[0] != 0xFF:
            self.versioned = False
            raise ProtocolError(
                f"the peer speaks ZMTP 1.0 (its first byte is {buf[0]:#04x}, not 0xff); "
                + _NO_DOWNGRADE,
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
            )
        if have < 10 <= now:
            self.versioned = bool(buf[9] & 1)
            if not self.versioned:
                raise ProtocolError(
                    "the peer speaks ZMTP 1.0 (bit 0 of greeting byte 9 is clear); "
                    + _NO_DOWNGRADE,
                    ProtocolErrorCode.ZMTP_UNSPECIFIED,
                )
        if have < 11 <= now:
            self.major = buf[10]
            if self.major < VERSION_MAJOR:
                legacy = "1.0" if self.major == 0 else "2.0"
                raise ProtocolError(
                    f"the peer speaks ZMTP {legacy} (greeting revision {self.major}); "
                    + _NO_DOWNGRADE,
                    ProtocolErrorCode.ZMTP_UNSPECIFIED,
                )
        if have < 12 <= now:
            self.minor = buf[11]
        if now == GREETING_SIZE:
            field = bytes(buf[12:32])
            self.mechanism = field.rstrip(b"\x00")
            if field != self._expected:
                ours = self._expected.rstrip(b"\x00")
                raise ProtocolError(
                    f"security mechanism mismatch: the peer uses {self.mechanism!r}, "
                    f"this socket uses {ours!r}; "
                    "configure both ends with the same mechanism",
                    ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH,
                )
            self.as_server = bool(buf[32])


__all__ = ["VERSION_MAJOR", "VERSION_MINOR", "GreetingParser", "make_greeting", "mechanism_field"]
