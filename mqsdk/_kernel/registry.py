"""Plugin discovery, validation and name resolution.

The registry finds plugins in the ``mqsdk.plugins`` entry-point group (plus the kernel's
built-in ones), applies the configuration (autoload, plugins, disable_plugins), calls
each plugin's registration hooks once, validates what they return, and keeps plain dicts
from names to classes. Sockets resolve a scheme or socket type through those dicts at
``bind``/``connect``/creation time; pluggy is never called per message.
"""

from __future__ import annotations

import errno
import inspect
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from mqsdk import hookspecs
from mqsdk._kernel.component import Availability, Component
from mqsdk._kernel.install_hints import BUNDLED_PROVIDERS, install_hint
from mqsdk._kernel.mechanism import Mechanism
from mqsdk._kernel.options import KERNEL_SPECS, OptionSpec, OptionTable
from mqsdk._kernel.pattern import Pattern
from mqsdk._kernel.poller import PollerBackend
from mqsdk._kernel.security import SECURITY_SPECS
from mqsdk._kernel.transport import MessageTransport, StreamTransport, Transport
from mqsdk.config import Config, LoadedConfig, load_config
from mqsdk.errors import (
    ConfigError,
    PluginConflictError,
    PluginError,
    PluginInterfaceError,
    PluginLoadError,
    UnknownPluginError,
    UnsupportedTransport,
)
from mqsdk.zmtp.constants import SocketType

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mqsdk.plugins"

# kind -> (registration hook, interface base class, rule for names, what the rule says)
_KINDS: dict[str, tuple[str, type[Component], re.Pattern[str], str]] = {
    "poller": (
        "mqsdk_pollers",
        PollerBackend,
        re.compile(r"^[a-z][a-z0-9_]*$"),
        "a lowercase identifier",
    ),
    "transport": (
        "mqsdk_transports",
        Transport,
        re.compile(r"^[a-z][a-z0-9+.-]*$"),
        "a lowercase URL scheme",
    ),
    "pattern": (
        "mqsdk_patterns",
        Pattern,
        re.compile(r"^[A-Z][A-Z0-9_-]*$"),
        "an uppercase Socket-Type",
    ),
    "mechanism": (
        "mqsdk_mechanisms",
        Component,
        re.compile(r"^[A-Z0-9_-]{1,20}$"),
        "1-20 uppercase ASCII characters",
    ),
}

# Built-in plugins: (plugin name, module path, essential). Essential ones refuse to be disabled.
BUILTIN_PLUGINS: tuple[tuple[str, str, bool], ...] = (("null", "mqsdk._kernel.builtin", True),)


@dataclass
class ComponentInfo:
    """One class a plugin registered, and whether it can run here."""

    kind: str
    name: str
    cls: type[Component]
    plugin: PluginInfo
    availability: Availability


@dataclass
class PluginInfo:
    """One plugin: where it came from and what became of it under the configuration."""

    name: str
    distribution: str
    version: str
    target: str
    builtin: bool = False
    essential: bool = False
    status: str = "loaded"  # loaded | disabled | not selected | error
    why: str = ""  # for disabled / not selected / error: the reason, for people
    module: Any = None
    components: list[ComponentInfo] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.version}".strip()


class Registry:
    """Everything the plugins provide under one configuration.

    Build it with :func:`get_registry` (cached per configuration) unless you need a
    fresh one. ``strict=False`` collects plugin errors in :attr:`errors` and the affected
    plugin's ``status`` instead of raising; the CLI uses that to list broken plugins.
    """

    def __init__(
        self,
        loaded: LoadedConfig | None = None,
        *,
        strict: bool = True,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
        extra_plugins: Sequence[tuple[str, object]] = (),
    ) -> None:
        self.loaded = loaded or load_config()
        """The configuration and where each setting came from."""
        self.config: Config = self.loaded.config
        """The effective configuration."""
        self.strict = strict
        """Raise on a plugin error (else collect it in :attr:`errors`)."""
        self.errors: list[PluginError] = []
        """Plugin errors collected when not :attr:`strict`."""
        self.plugins: dict[str, PluginInfo] = {}
        """Every plugin found, loaded or not, by entry point name."""
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        """The pluggy manager calling the hooks of :mod:`mqsdk.hookspecs`."""
        self.manager.add_hookspecs(hookspecs)
        self.pollers: dict[str, type[PollerBackend]] = {}
        """The usable poller backends by name."""
        self.transports: dict[str, type[Transport]] = {}
        """The usable transports by endpoint scheme."""
        self.patterns: dict[str, type[Pattern]] = {}
        """The socket types by name (``"PUSH"``)."""
        self.patterns_by_number: dict[int, type[Pattern]] = {}
        """The socket types by libzmq number."""
        self.mechanisms: dict[str, type[Mechanism]] = {}
        """The usable security mechanisms by name (``"CURVE"``)."""
        self._components: dict[tuple[str, str], ComponentInfo] = {}
        self._option_tables: dict[type[Pattern], OptionTable] = {}
        self._discover(entry_points, extra_plugins)
        self._check_config_names()
        for info in self.plugins.values():
            if info.status == "loaded":
                self._load(info)
        for info in list(self.plugins.values()):
            if info.status == "loaded":
                self._collect(info)

    # -- discovery -------------------------------------------------------------------

    def _fail(self, error: PluginError, info: PluginInfo | None = None) -> None:
        if self.strict:
            raise error
        self.errors.append(error)
        if info is not None:
            info.status, info.why = "error", str(error)

    def _discover(
        self,
        entry_points: Iterable[metadata.EntryPoint] | None,
        extra_plugins: Sequence[tuple[str, object]],
    ) -> None:
        import mqsdk

        for name, target, essential in BUILTIN_PLUGINS:
            self.plugins[name] = PluginInfo(
                name, "mqsdk", mqsdk.__version__, target, builtin=True, essential=essential
            )
        for name, module in extra_plugins:
            info = PluginInfo(name, "(registered in code)", "", repr(module), module=module)
            self.plugins[name] = info
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in entry_points:
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "(unknown distribution)"
            version = dist.version if dist is not None else ""
            info = PluginInfo(ep.name, dist_name, version, ep.value)
            info.module = ep  # loaded later, only if selected
            previous = self.plugins.get(ep.name)
            if previous is not None:
                if previous.distribution == dist_name and previous.target == ep.value:
                    continue  # the same distribution seen twice on sys.path
                self._fail(
                    PluginConflictError(
                        f"two plugins are named {ep.name!r}: one from {previous.origin} "
                        f"({previous.target}) and one from {info.origin} ({ep.value}); "
                        "uninstall one of the distributions",
                        plugin=ep.name,
                        distribution=dist_name,
                    ),
                    info,
                )
                continue
            self.plugins[ep.name] = info

        disabled = set(self.config.disable_plugins)
        selected = set(self.config.plugins)
        for info in self.plugins.values():
            if info.status == "error":
                continue
            if info.name in disabled:
                if info.essential:
                    raise ConfigError(
                        f"plugin {info.name!r} is essential and cannot be disabled "
                        f"(disable_plugins from {self.loaded.source_of('disable_plugins')})"
                    )
                info.status = "disabled"
                info.why = (
                    f"disabled by disable_plugins ({self.loaded.source_of('disable_plugins')})"
                )
            elif not (info.builtin or self.config.plugin_autoload or info.name in selected):
                info.status = "not selected"
                info.why = (
                    "plugin autoload is off "
                    f"({self.loaded.source_of('plugin_autoload')}) and it is not in plugins"
                )

    def _check_config_names(self) -> None:
        known = set(self.plugins)
        for setting in ("plugins", "disable_plugins"):
            for name in getattr(self.config, setting):
                if name not in known:
                    raise UnknownPluginError(
                        f"{setting} (from {self.loaded.source_of(setting)}) names plugin "
                        f"{name!r}, which is not installed; installed plugins: "
                        f"{', '.join(sorted(known))}",
                        plugin=name,
                    )

    def _load(self, info: PluginInfo) -> None:
        try:
            if info.builtin:
                import importlib

                module: Any = importlib.import_module(info.target)
            elif isinstance(info.module, metadata.EntryPoint):
                module = info.module.load()
            else:
                module = info.module
        except Exception as exc:
            self._fail(
                PluginLoadError(
                    f"plugin {info.name!r} from {info.origin} failed to import "
                    f"({info.target}): {type(exc).__name__}: {exc}; fix or uninstall that "
                    f"distribution, or disable the plugin with MQSDK_DISABLE_PLUGINS={info.name}",
                    plugin=info.name,
                    distribution=info.distribution,
                ),
                info,
            )
            return
        info.module = module
        try:
            self.manager.register(module, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._fail(
                PluginInterfaceError(
                    f"plugin {info.name!r} from {info.origin} has invalid hook "
                    f"implementations: {exc}",
                    plugin=info.name,
                    distribution=info.distribution,
                ),
                info,
            )
            return
        unknown = [
            impl.function.__name__
            for hook_caller in self.manager.get_hookcallers(module) or []
            for impl in hook_caller.get_hookimpls()
            if impl.plugin is module and not hook_caller.has_spec()
        ]
        if unknown:
            self.manager.unregister(module)
            self._fail(
                PluginInterfaceError(
                    f"plugin {info.name!r} from {info.origin} implements hooks that do not "
                    f"exist: {', '.join(sorted(unknown))} (see mqsdk.hookspecs for the names)",
                    plugin=info.name,
                    distribution=info.distribution,
                ),
                info,
            )

    # -- registration ----------------------------------------------------------------

    def _collect(self, info: PluginInfo) -> None:
        for kind, (hook_name, base, rule, rule_text) in _KINDS.items():
            hook_caller = getattr(self.manager.hook, hook_name)
            for impl in hook_caller.get_hookimpls():
                if impl.plugin is not info.module:
                    continue
                try:
                    provided = list(impl.function() or ())
                except Exception as exc:
                    self._fail(
                        PluginLoadError(
                            f"plugin {info.name!r} from {info.origin}: {hook_name}() raised "
                            f"{type(exc).__name__}: {exc}",
                            plugin=info.name,
                            distribution=info.distribution,
                        ),
                        info,
                    )
                    return
                for cls in provided:
                    problem = _interface_problem(cls, kind, base, rule, rule_text)
                    if problem:
                        self._fail(
                            PluginInterfaceError(
                                f"plugin {info.name!r} from {info.origin}: {hook_name}() "
                                f"returned {cls!r}, which {problem}",
                                plugin=info.name,
                                distribution=info.distribution,
                            ),
                            info,
                        )
                        continue
                    self._add(kind, cls, info)

    def _add(self, kind: str, cls: type[Component], info: PluginInfo) -> None:
        key = (kind, cls.name)
        other = self._components.get(key)
        if other is not None:
            self._fail(
                PluginConflictError(
                    f"{kind} {cls.name!r} is claimed by two plugins: {other.plugin.name!r} "
                    f"from {other.plugin.origin} and {info.name!r} from {info.origin}; "
                    f"disable one of them (MQSDK_DISABLE_PLUGINS=...)",
                    plugin=info.name,
                    distribution=info.distribution,
                ),
                info,
            )
            return
        if kind == "pattern":
            number = getattr(cls, "socket_type", -1)
            clash = self.patterns_by_number.get(number)
            if clash is not None:
                self._fail(
                    PluginConflictError(
                        f"socket type number {number} is claimed by {clash.name} and "
                        f"{cls.name} (plugin {info.name!r} from {info.origin})",
                        plugin=info.name,
                        distribution=info.distribution,
                    ),
                    info,
                )
                return
        availability = _availability(cls)
        component = ComponentInfo(kind, cls.name, cls, info, availability)
        self._components[key] = component
        info.components.append(component)
        if not availability.ok:
            return
        if issubclass(cls, PollerBackend):
            self.pollers[cls.name] = cls
        elif issubclass(cls, Transport):
            self.transports[cls.name] = cls
        elif issubclass(cls, Pattern):
            self.patterns[cls.name] = cls
            self.patterns_by_number[cls.socket_type] = cls
        elif issubclass(cls, Mechanism):
            self.mechanisms[cls.name] = cls

    # -- resolution --------------------------------------------------------------------

    def components(self, kind: str | None = None) -> list[ComponentInfo]:
        """Every registered component (available or not), optionally of one kind."""
        return [c for c in self._components.values() if kind is None or c.kind == kind]

    def find_component(self, kind: str, name: str) -> ComponentInfo | None:
        """The registered component of ``kind`` named ``name`` (usable here or not), or
        None."""
        return self._components.get((kind, name))

    def choose_poller(self) -> type[PollerBackend]:
        """The poller backend the configuration asks for (``auto``: the best available)."""
        wanted = self.config.poller
        if wanted != "auto":
            cls = self.pollers.get(wanted)
            if cls is not None:
                return cls
            raise ConfigError(
                f"setting poller={wanted!r} (from {self.loaded.source_of('poller')}): "
                f"{self._why_missing('poller', wanted)}"
            )
        candidates = sorted(self.pollers.values(), key=lambda c: (-c.priority, c.name))
        if not candidates:
            raise ConfigError("no poller backend can run: " + self._why_missing("poller", None))
        chosen = self.manager.hook.mqsdk_choose_poller(candidates=candidates)
        if chosen is None:
            return candidates[0]
        if chosen not in candidates:
            raise PluginInterfaceError(
                f"mqsdk_choose_poller returned {chosen!r}, which is not one of the candidates"
            )
        return chosen  # type: ignore[no-any-return]

    def transport(self, scheme: str) -> type[Transport]:
        """The transport class for an endpoint scheme, or UnsupportedTransport saying why."""
        cls = self.transports.get(scheme)
        if cls is None:
            raise UnsupportedTransport(
                f"no usable transport for {scheme}://: {self._why_missing('transport', scheme)}"
            )
        return cls

    def pattern(self, socket_type: int | str) -> type[Pattern]:
        """The pattern class for a socket type number or name, or a clear error."""
        if isinstance(socket_type, str):
            cls = self.patterns.get(socket_type.upper())
        else:
            cls = self.patterns_by_number.get(int(socket_type))
        if cls is None:
            usable = ", ".join(
                f"{c.name} ({c.socket_type})"
                for c in sorted(self.patterns.values(), key=lambda c: c.socket_type)
            )
            name = socket_type if isinstance(socket_type, str) else f"number {socket_type}"
            hint = self._install_hint("pattern", _socket_type_name(socket_type))
            raise PluginError(
                f"no installed pattern plugin provides socket type {name}; "
                f"installed: {usable or 'none'}" + (f"; {hint}" if hint else ""),
                errno=errno.EINVAL,
            )
        return cls

    def option_table(self, pattern: type[Pattern]) -> OptionTable:
        """Every option a socket of this type has: the kernel's (generic security ones
        included), the pattern's, and those of every registered transport and mechanism
        (available here or not, so code that sets ``vmci_buffer_size`` runs on any host;
        selecting a mechanism that cannot run here is refused when set). A name or a
        number declared twice is logged and listed in the table's ``conflicts``."""
        table = self._option_tables.get(pattern)
        if table is None:
            groups: list[Iterable[OptionSpec]] = [KERNEL_SPECS, SECURITY_SPECS]
            groups.append(pattern.declared_options())
            for kind in ("transport", "mechanism"):
                for component in self.components(kind):
                    groups.append(component.cls.declared_options())
            table = OptionTable.merge(groups)
            for conflict in table.conflicts:
                log.warning("socket option conflict (the first declaration wins): %s", conflict)
            self._option_tables[pattern] = table
        return table

    def _why_missing(self, kind: str, name: str | None) -> str:
        if name is not None:
            component = self._components.get((kind, name))
            if component is not None:
                return (
                    f"{kind} {name!r} (plugin {component.plugin.name!r} from "
                    f"{component.plugin.origin}) cannot run here: {component.availability.reason}"
                )
            for info in self.plugins.values():
                if info.name == name and info.status != "loaded":
                    return f"plugin {name!r} is {info.status}: {info.why}"
        usable = sorted(c.name for c in self.components(kind) if c.availability.ok)
        unusable = [
            f"{c.name} ({c.availability.reason})"
            for c in self.components(kind)
            if not c.availability.ok
        ]
        text = f"no {kind} named {name!r} is installed" if name else f"no {kind} is usable"
        text += f"; usable: {', '.join(usable) or 'none'}"
        hint = self._install_hint(kind, name)
        if hint:
            text += f"; {hint}"
        if unusable:
            text += f"; unavailable here: {', '.join(unusable)}"
        inactive = [
            i.name for i in self.plugins.values() if i.status in ("disabled", "not selected")
        ]
        if inactive:
            text += f"; plugins not loaded by configuration: {', '.join(sorted(inactive))}"
        return text

    def _install_hint(self, kind: str, name: str | None) -> str:
        """What to install for a missing component; nothing when its distribution is
        installed already (a plugin the configuration did not load: the error says why)."""
        hint = install_hint(kind, name)
        if hint and name is not None:
            provider = BUNDLED_PROVIDERS.get(kind, {}).get(name)
            for info in self.plugins.values():
                if info.distribution == provider and info.status != "loaded":
                    return f"plugin {info.name!r} ({provider}) is {info.status}: {info.why}"
        return hint

    # -- lifecycle events ------------------------------------------------------------

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook on every plugin; a failing observer is logged, not raised."""
        hook_caller = getattr(self.manager.hook, hook_name)
        for impl in reversed(hook_caller.get_hookimpls()):
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception:
                log.exception("plugin %r failed in %s; ignored", impl.plugin_name, hook_name)

    def register_observer(self, plugin: object, name: str | None = None) -> str:
        """Register an object with lifecycle hook implementations at run time."""
        registered = self.manager.register(plugin, name=name)
        return str(registered)

    def unregister_observer(self, plugin: object) -> None:
        """Stop calling the lifecycle hooks of ``plugin`` (one
        :meth:`register_observer` added)."""
        self.manager.unregister(plugin)


def _socket_type_name(socket_type: int | str) -> str | None:
    """libzmq's name of a socket type number (``7`` -> ``"PULL"``), for install hints."""
    if isinstance(socket_type, str):
        return socket_type.upper()
    try:
        return SocketType(int(socket_type)).name
    except ValueError:
        return None


def _availability(cls: type[Component]) -> Availability:
    try:
        result: object = cls.available()
    except Exception as exc:
        return Availability.no(f"available() raised {type(exc).__name__}: {exc}")
    if not isinstance(result, Availability):
        return Availability.no(f"available() returned {result!r}, not an Availability")
    return result


def _interface_problem(
    cls: object, kind: str, base: type[Component], rule: re.Pattern[str], rule_text: str
) -> str:
    if not isinstance(cls, type):
        return "is not a class"
    if not issubclass(cls, base):
        return f"is not a subclass of {base.__module__}.{base.__qualname__}"
    if kind == "transport" and not issubclass(cls, StreamTransport | MessageTransport):
        return "is neither a StreamTransport nor a MessageTransport"
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        return f"does not implement {missing}"
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not rule.match(name):
        return f"has name {name!r}; a {kind} name must be {rule_text}"
    if kind == "pattern":
        number = getattr(cls, "socket_type", -1)
        if not isinstance(number, int) or number < 0:
            return f"has socket_type {number!r}; it must be libzmq's non-negative number"
    return ""


_cache: dict[str, Registry] = {}
_cache_lock = threading.Lock()


def get_registry(loaded: LoadedConfig | None = None) -> Registry:
    """The registry for a configuration, built once per process and configuration."""
    loaded = loaded or load_config()
    key = loaded.config.key()
    with _cache_lock:
        registry = _cache.get(key)
        if registry is None or registry.loaded.sources != loaded.sources:
            registry = Registry(loaded)
            _cache[key] = registry
        return registry


def clear_cache() -> None:
    """Forget cached registries (after installing plugins at run time, in tests)."""
    with _cache_lock:
        _cache.clear()


def describe_inactive(info: PluginInfo) -> list[tuple[str, str, Availability]]:
    """What a disabled or unselected plugin would provide: ``(kind, name, availability)``.

    Imports the plugin in a scratch plugin manager without registering anything, so
    ``mqsdk plugins`` can show what disabling it took away. Raises what the import raises.
    """
    module = info.module.load() if isinstance(info.module, metadata.EntryPoint) else info.module
    scratch = pluggy.PluginManager(hookspecs.PROJECT)
    scratch.add_hookspecs(hookspecs)
    scratch.register(module, name=info.name)
    rows: list[tuple[str, str, Availability]] = []
    for kind, (hook_name, _base, _rule, _text) in _KINDS.items():
        for impl in getattr(scratch.hook, hook_name).get_hookimpls():
            for cls in impl.function() or ():
                rows.append((kind, str(getattr(cls, "name", "?")), _availability(cls)))
    return rows
