"""What every plugin-provided class has in common: a kind, a name, and whether it can run here.

Pollers, transports, patterns and security mechanisms all derive from :class:`Component`.
The registry reads these class attributes once, when plugins are loaded; nothing here is
looked at per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mqsdk._kernel.options import OptionKind, OptionModel, OptionSpec, specs_from_model


@dataclass(frozen=True)
class Availability:
    """Whether a component can run on this host, and if not, why (for people to read)."""

    ok: bool
    """True when it can run here (the object is also true then)."""
    reason: str = ""
    """Why it cannot (empty when it can)."""

    @classmethod
    def yes(cls) -> Availability:
        """It can run here."""
        return cls(True, "")

    @classmethod
    def no(cls, reason: str) -> Availability:
        """It cannot run here, because of ``reason`` (required, for people to read)."""
        if not reason:
            raise ValueError("an unavailable component must say why")
        return cls(False, reason)

    def __bool__(self) -> bool:
        return self.ok


class Component:
    """Base of everything a plugin registers.

    Subclasses set ``kind`` (done by the four interface bases) and ``name`` (done by the
    plugin author), and may override :meth:`available`.
    """

    kind: ClassVar[str] = ""
    """``"poller"``, ``"transport"``, ``"pattern"`` or ``"mechanism"`` (set by the
    interface base class)."""
    name: ClassVar[str] = ""
    """What users select it by: the poller name, the endpoint scheme, the socket type
    name or the mechanism name; unique among the components of its kind."""
    option_model: ClassVar[type[OptionModel] | None] = None
    """The socket options this component owns, as an :class:`~mqsdk._kernel.options.OptionModel`
    whose fields are declared with :func:`~mqsdk._kernel.options.option` (and, for a pattern,
    :func:`~mqsdk._kernel.options.action`). A transport's or a mechanism's options exist on every
    socket while its plugin is installed (``sock.rate = 1000``), a pattern's on the
    sockets of its type; the component reads the socket's values with
    ``socket.component_options(TheModel)``, a transport also in the ``options`` mapping
    its methods get, a mechanism in its ``options``."""

    @classmethod
    def declared_options(cls) -> list[OptionSpec]:
        """The options this component declares (from :attr:`option_model`)."""
        if cls.option_model is None:
            return []
        kind: OptionKind = "mechanism"
        if cls.kind == "transport":
            kind = "transport"
        elif cls.kind == "pattern":
            kind = "pattern"
        return specs_from_model(cls.option_model, kind, cls.name)

    @classmethod
    def available(cls) -> Availability:
        """Say whether this component can run on this host.

        Called once per process (the registry caches the answer), so it may probe the
        OS, for example by opening and closing a socket. It must not raise: return
        ``Availability.no("why")`` instead. The default says yes.
        """
        return Availability.yes()
