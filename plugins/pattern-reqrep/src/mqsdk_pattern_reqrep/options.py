"""The socket options of REQ, DEALER and ROUTER (libzmq's names and numbers).

The patterns read them as attributes of their socket's option values
(``self.options.req_relaxed``); the kernel validates every value when it is set.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, field_validator

from mqsdk.plugin import OptionModel, option


def _on_off(value: Any) -> int:
    # libzmq takes an int 0 or 1 here and refuses anything else; a bool is one.
    if isinstance(value, bool):
        return int(value)
    if type(value) is not int or value not in (0, 1):
        raise ValueError("it takes the int 0 (off) or 1 (on)")
    return value


OnOff = Annotated[int, BeforeValidator(_on_off)]
"""An on/off option: the int 0 or 1 (a bool is taken as one); "1", 1.0, 2 are refused."""

_PROBE_DOC = "Send an empty message on each new connection (a ROUTER peer learns our id)."


class DealerOptions(OptionModel):
    """DEALER's options."""

    probe_router: OnOff = option(0, number=51, doc=_PROBE_DOC)


class ReqOptions(OptionModel):
    """REQ's options."""

    probe_router: OnOff = option(0, number=51, doc=_PROBE_DOC)
    req_correlate: OnOff = option(0, number=52, doc="Number requests; drop replies to older ones.")
    req_relaxed: OnOff = option(
        0, number=53, doc="Allow a new request before the reply to the last one."
    )


class RouterOptions(OptionModel):
    """ROUTER's options."""

    router_mandatory: OnOff = option(
        0,
        number=33,
        doc="EHOSTUNREACH for an unknown peer, and block at a full one, instead of dropping.",
    )
    probe_router: OnOff = option(0, number=51, doc=_PROBE_DOC)
    router_handover: OnOff = option(
        0, number=56, doc="A new peer with a routing id in use takes it over."
    )
    connect_routing_id: bytes = option(
        b"",
        number=61,
        doc="The routing id given to the peer of the next connect() (1 to 255 bytes; "
        "used up by that connect).",
    )

    @field_validator("connect_routing_id", mode="before")
    @classmethod
    def _routing_id(cls, value: Any) -> bytes:
        if isinstance(value, bytearray | memoryview):
            value = bytes(value)
        if not isinstance(value, bytes):
            raise ValueError("it takes bytes (encode a str first, e.g. b'peer-1')")
        if not 1 <= len(value) <= 255:
            raise ValueError(f"it takes 1 to 255 bytes, got {len(value)}")
        return value


__all__ = ["DealerOptions", "OnOff", "ReqOptions", "RouterOptions"]
