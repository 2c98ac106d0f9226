"""The generic part of socket security: which mechanism a socket uses, and ZAP.

Each mechanism plugin declares its own options (PLAIN its credentials, CURVE its keys)
in its ``option_model``, marking those that select it with
``option(..., selects_mechanism="CURVE", as_server=...)``. The kernel applies libzmq's
rule (options.cpp) to every option so marked, whoever declared it: the last one set
decides the mechanism and our role; a false value (``plain_server=0``, an empty
username) goes back to NULL. Selecting a mechanism that cannot run here (CURVE without
PyNaCl) is refused at once instead of silently staying on NULL. A mechanism whose plugin
is not loaded declares nothing: its options are unknown, like any unknown option.

The kernel declares only what every mechanism shares: ``zap_domain``,
``zap_enforce_domain`` and the read-only ``mechanism``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from mqsdk._kernel.options import Flag, OptionModel, OptionSpec, option, specs_from_model
from mqsdk.errors import MQError

if TYPE_CHECKING:
    from mqsdk._kernel.registry import Registry


def short_bytes(name: str, value: Any, limit: int = 255) -> bytes:
    """``value`` as bytes (str as UTF-8, None as empty) of at most ``limit`` bytes, the
    form libzmq's string options take; a ValueError says what is wrong."""
    if value is None:
        return b""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{name} takes bytes or str, got {type(value).__name__}")
    data = bytes(value)
    if len(data) > limit:
        raise ValueError(f"{name} is at most {limit} bytes, got {len(data)}")
    return data


class KernelSecurityOptions(OptionModel):
    """The security options every socket has, whichever mechanisms are installed."""

    zap_domain: bytes = option(
        b"", number=55, doc="ZAP domain sent to the handler (at most 255 bytes)."
    )
    zap_enforce_domain: Flag = option(
        0, number=93, doc="With a zap_domain and no ZAP handler, refuse NULL peers."
    )

    @field_validator("zap_domain", mode="before")
    @classmethod
    def _zap_domain(cls, value: Any) -> bytes:
        return short_bytes("zap_domain", value)


MECHANISM_SPEC = OptionSpec(
    "mechanism",
    43,
    "read-only",
    "kernel",
    "The mechanism selected: NULL 0, PLAIN 1, CURVE 2.",
    value_type="int",
)
SECURITY_SPECS = (*specs_from_model(KernelSecurityOptions, "security", "kernel"), MECHANISM_SPEC)


class MechanismSelection:
    """Which mechanism a socket uses and its role (set and read in the user's thread),
    following the options that select one (see the module docstring)."""

    __slots__ = ("_registry", "as_server", "mechanism")

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self.mechanism = "NULL"
        self.as_server = False

    def check(self, spec: OptionSpec, value: Any) -> None:
        """Refuse a value of a selecting option that would select a mechanism that
        cannot run here (before the value is stored)."""
        mechanism = spec.selects_mechanism
        if mechanism is None or not value or mechanism in self._registry.mechanisms:
            return
        component = self._registry.find_component("mechanism", mechanism)
        why = component.availability.reason if component is not None else "it is not installed"
        raise MQError(
            f"{spec.name} selects the {mechanism} security mechanism, which cannot run "
            f"here: {why} (`mqsdk doctor` lists the mechanisms available)",
            errno.EINVAL,
        )

    def apply(self, spec: OptionSpec, value: Any) -> None:
        """The option ``spec`` was set to ``value`` (validated): select accordingly."""
        mechanism = spec.selects_mechanism
        if mechanism is None:
            return
        if not value:
            self.mechanism, self.as_server = "NULL", False
            return
        self.mechanism = mechanism
        if spec.as_server is not None:
            self.as_server = spec.as_server

    def read(self, spec: OptionSpec, stored: Any) -> Any:
        """What ``getsockopt`` gives for a selecting option: a server flag reads
        whether we are that mechanism's server now, as in libzmq."""
        if spec.as_server is True:
            return int(self.as_server and self.mechanism == spec.selects_mechanism)
        return stored

    @property
    def number(self) -> int:
        """The ``mechanism`` option: the selected mechanism's number (its class's
        ``number``, libzmq's ZMQ_MECHANISM value)."""
        selected = self._registry.mechanisms.get(self.mechanism)
        return selected.number if selected is not None else -1


__all__ = [
    "MECHANISM_SPEC",
    "SECURITY_SPECS",
    "KernelSecurityOptions",
    "MechanismSelection",
    "short_bytes",
]
