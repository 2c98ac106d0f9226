"""Z85 (RFC 32): 4 bytes as 5 printable characters, the text form of CURVE keys.

A 32-byte key becomes 40 characters; libzmq's ZMQ_CURVE_*KEY options and certificate
files use this form.
"""

from __future__ import annotations

from typing import Any

ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_DECODE = {char: index for index, char in enumerate(ALPHABET)}


def z85_encode(data: bytes) -> bytes:
    """Encode ``data`` (its length a multiple of 4) as Z85 text.

    :raises ValueError: the length is not a multiple of 4.
    """
    if len(data) % 4:
        raise ValueError(f"Z85 encodes multiples of 4 bytes; got {len(data)}")
    out = bytearray()
    for offset in range(0, len(data), 4):
        value = int.from_bytes(data[offset : offset + 4], "big")
        chunk = bytearray(5)
        for index in range(4, -1, -1):
            value, digit = divmod(value, 85)
            chunk[index] = ALPHABET[digit]
        out += chunk
    return bytes(out)


def z85_decode(text: bytes | str) -> bytes:
    """Decode Z85 text (its length a multiple of 5) back to bytes.

    :raises ValueError: wrong length, a character outside the alphabet, or a group
        whose value exceeds 32 bits.
    """
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if len(raw) % 5:
        raise ValueError(f"Z85 text has a multiple of 5 characters; got {len(raw)}")
    out = bytearray()
    for offset in range(0, len(raw), 5):
        value = 0
        for char in raw[offset : offset + 5]:
            digit = _DECODE.get(char)
            if digit is None:
                raise ValueError(f"{chr(char)!r} is not a Z85 character")
            value = value * 85 + digit
        if value > 0xFFFFFFFF:
            raise ValueError(f"Z85 group {raw[offset : offset + 5]!r} exceeds 32 bits")
        out += value.to_bytes(4, "big")
    return bytes(out)


def _curve() -> Any:
    """The CURVE mechanism class, found through the plugin registry (never imported by
    name: the kernel does not depend on a plugin)."""
    from mqsdk._kernel.registry import get_registry
    from mqsdk.config import load_config
    from mqsdk.errors import MQError

    registry = get_registry(load_config({}))
    cls = registry.mechanisms.get("CURVE")
    if cls is None:
        info = registry.find_component("mechanism", "CURVE")
        why = f": {info.availability.reason}" if info is not None else ""
        raise MQError(
            "CURVE keys need the CURVE mechanism, which is not installed or not "
            f"available{why}; install the mqsdk-mechanism-curve distribution (and PyNaCl)"
        )
    return cls


def curve_keypair() -> tuple[bytes, bytes]:
    """A new CURVE key pair ``(public, secret)``, 40 Z85 characters each (like pyzmq).

    :raises MQError: the CURVE plugin is not installed.
    """
    return _curve().keypair()  # type: ignore[no-any-return]


def curve_public(secret: bytes | str) -> bytes:
    """The Z85 public key that belongs to a CURVE secret key (Z85 or 32 raw bytes)."""
    return _curve().public_key(secret)  # type: ignore[no-any-return]


__all__ = ["curve_keypair", "curve_public", "z85_decode", "z85_encode"]
