"""``zmq.utils.z85``: Z85 text (RFC 32), mqsdk's own codec under pyzmq's names."""

from __future__ import annotations

from mqsdk.z85 import ALPHABET, z85_decode, z85_encode

Z85CHARS = ALPHABET
Z85MAP = {char: index for index, char in enumerate(ALPHABET)}


def encode(rawbytes: bytes | bytearray | memoryview) -> bytes:
    """Z85 text of ``rawbytes`` (a multiple of 4 bytes; ValueError otherwise)."""
    return z85_encode(bytes(rawbytes))


def decode(z85bytes: str | bytes | bytearray | memoryview) -> bytes:
    """The bytes of Z85 text (a multiple of 5 characters; ValueError otherwise)."""
    return z85_decode(z85bytes if isinstance(z85bytes, str) else bytes(z85bytes))


__all__ = ["Z85CHARS", "Z85MAP", "decode", "encode"]
