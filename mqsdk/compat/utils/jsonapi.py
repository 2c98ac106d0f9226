"""``zmq.utils.jsonapi``: JSON to and from UTF-8 bytes, as ``send_json`` uses it."""

from __future__ import annotations

import json
from typing import Any

jsonmod = json  # pyzmq keeps the name for old code; it is always the standard library's


def dumps(o: object, **kwargs: Any) -> bytes:
    """``json.dumps`` (keyword arguments passed on), encoded as UTF-8."""
    return json.dumps(o, **kwargs).encode("utf-8")


def loads(s: bytes | str, **kwargs: Any) -> Any:
    """``json.loads`` of UTF-8 bytes or text (keyword arguments passed on)."""
    return json.loads(s.decode("utf-8") if isinstance(s, bytes) else s, **kwargs)


__all__ = ["dumps", "loads"]
