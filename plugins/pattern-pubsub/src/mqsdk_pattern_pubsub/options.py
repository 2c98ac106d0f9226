"""The socket options of PUB, XPUB, SUB and XSUB (libzmq's names and numbers).

``subscribe`` and ``unsubscribe`` are actions: setting one runs the pattern's
``on_subscribe``/``on_unsubscribe`` and reading one is EINVAL, as in libzmq. The other
options are values the patterns read as attributes (``self.options.xpub_nodrop``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from mqsdk.plugin import OptionModel, action, option


def _on_off(value: Any) -> int:
    # libzmq reads an int, any non-zero one meaning on; stored (and read back) as 0 or 1.
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise ValueError(f"it takes an int (0 = off, 1 = on), not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"it must be 0 or positive, got {value}")
    return int(value != 0)


def _topic(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        raise ValueError(
            "it takes bytes, not str: encode it (or call socket.subscribe(text), which "
            "encodes it as UTF-8)"
        )
    raise ValueError(f"it takes bytes (a topic prefix), not {type(value).__name__}")


def _welcome(value: Any) -> bytes:
    return b"" if value is None else _topic(value)  # None: no welcome message


OnOff = Annotated[int, BeforeValidator(_on_off)]
Topic = Annotated[bytes, BeforeValidator(_topic)]


class PubOptions(OptionModel):
    """PUB's and XPUB's options."""

    subscribe: Topic = action(
        number=6, doc="XPUB in manual mode: subscribe the peer last heard from."
    )
    unsubscribe: Topic = action(number=7, doc="XPUB in manual mode: cancel that subscription.")
    xpub_verbose: OnOff = option(
        0, number=40, doc="Pass every subscription up, duplicates too (turns xpub_verboser off)."
    )
    xpub_nodrop: OnOff = option(
        0, number=69, doc="At the HWM, wait (or EAGAIN) instead of dropping."
    )
    xpub_manual: OnOff = option(
        0, number=71, doc="Subscriptions are set by the user, not taken from peers."
    )
    xpub_welcome_msg: Annotated[bytes, BeforeValidator(_welcome)] = option(
        b"", number=72, doc="A message sent to each new subscriber (empty: none)."
    )
    xpub_verboser: OnOff = option(
        0, number=78, doc="As xpub_verbose, and pass every unsubscription up."
    )


class SubOptions(OptionModel):
    """SUB's options."""

    subscribe: Topic = action(number=6, doc="Receive messages starting with this prefix.")
    unsubscribe: Topic = action(number=7, doc="Cancel one earlier subscribe.")


class XSubOptions(OptionModel):
    """XSUB's: none of its own. ``subscribe`` is declared only to refuse it with the way
    XSUB subscribes (a ``b"\\x01" + topic`` message)."""

    subscribe: Topic = action(number=6, doc="Refused: send b'\\x01' + topic instead.")
    unsubscribe: Topic = action(number=7, doc="Refused: send b'\\x00' + topic instead.")


__all__ = ["OnOff", "PubOptions", "SubOptions", "Topic", "XSubOptions"]
