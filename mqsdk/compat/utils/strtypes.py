"""``zmq.utils.strtypes``: pyzmq's deprecated str/bytes helpers, for code that still uses
them (each call warns, as in pyzmq)."""

from __future__ import annotations

import warnings

bytes = bytes  # noqa: PLW0127 - the module re-exports the builtin names
unicode = str
basestring = (str,)


def _deprecated() -> None:
    warnings.warn(
        "zmq.utils.strtypes has been deprecated since pyzmq 23: use str.encode/bytes.decode",
        DeprecationWarning,
        stacklevel=3,
    )


def cast_bytes(s: str | bytes, encoding: str = "utf8", errors: str = "strict") -> bytes:
    """``s`` as bytes (text is encoded)."""
    _deprecated()
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode(encoding, errors)
    raise TypeError(f"expected str or bytes, got {s!r}")


def cast_unicode(s: str | bytes, encoding: str = "utf8", errors: str = "strict") -> str:
    """``s`` as text (bytes are decoded)."""
    _deprecated()
    if isinstance(s, str):
        return s
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    raise TypeError(f"expected str or bytes, got {s!r}")


b = asbytes = cast_bytes
u = cast_unicode

__all__ = ["asbytes", "b", "basestring", "bytes", "cast_bytes", "cast_unicode", "u", "unicode"]
