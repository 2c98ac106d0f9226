"""Discovery, validation, conflicts and resolution, with plugins given in code.

Real installed distributions are exercised in test_plugin_distributions.py; here the
plugins are plain objects so every validation rule can be hit directly.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from importlib import metadata
from types import SimpleNamespace
from typing import Any

import pytest

from mqsdk._kernel.component import Availability
from mqsdk._kernel.pattern import Pattern
from mqsdk._kernel.poller import PollerBackend
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk.config import load_config
from mqsdk.errors import (
    ConfigError,
    PluginConflictError,
    PluginInterfaceError,
    PluginLoadError,
    UnknownPluginError,
    UnsupportedTransport,
)
from mqsdk.hookspecs import hookimpl


class _Backend(PollerBackend):
    name = "fake"
    priority = 5

    def register(self, fd: int, events: int) -> None: ...
    def modify(self, fd: int, events: int) -> None: ...
    def unregister(self, fd: int) -> None: ...
    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        return []

    def close(self) -> None: ...


class _Pattern(Pattern):
    """A complete (if useless) pattern, to test registration rules."""

    def attach(self, pipe: Any) -> bool:
        return True

    def detach(self, pipe: Any) -> None: ...
    def send(self, message: Any) -> bool:
        return False

    def recv(self) -> Any:
        return None


def _poller(name: str, priority: int = 5, available: Availability | None = None) -> type:
    attrs: dict[str, Any] = {"name": name, "priority": priority}
    if available is not None:
        attrs["available"] = classmethod(lambda cls: available)
    return type(f"Poller_{name}", (_Backend,), attrs)


def _plugin(**hooks: Any) -> SimpleNamespace:
    """A plugin object whose hooks return the given lists."""
    namespace = SimpleNamespace()
    for hook_name, value in hooks.items():

        def impl(value: Any = value) -> Any:
            return value

        impl.__name__ = hook_name
        setattr(namespace, hook_name, hookimpl(impl))
    return namespace


def _registry(*plugins: tuple[str, object], strict: bool = True, **config: Any) -> Registry:
    return Registry(
        load_config(config, environ={}), strict=strict, entry_points=[], extra_plugins=plugins
    )


def test_builtin_null_mechanism_is_always_there() -> None:
    reg = _registry()
    assert "NULL" in reg.mechanisms
    assert reg.plugins["null"].essential


def test_essential_plugin_refuses_to_be_disabled() -> None:
    with pytest.raises(ConfigError, match="'null' is essential and cannot be disabled"):
        _registry(disable_plugins=["null"])


def test_pollers_are_resolved_by_name_and_auto_takes_the_highest_priority() -> None:
    low, high = _poller("low", 1), _poller("high", 9)
    reg = _registry(("a", _plugin(mqsdk_pollers=[low])), ("b", _plugin(mqsdk_pollers=[high])))
    assert reg.pollers == {"low": low, "high": high}
    assert reg.choose_poller() is high
    reg = _registry(
        ("a", _plugin(mqsdk_pollers=[low])), ("b", _plugin(mqsdk_pollers=[high])), poller="low"
    )
    assert reg.choose_poller() is low


def test_unavailable_component_is_listed_with_reason_and_not_used() -> None:
    nope = _poller("nope", 99, Availability.no("needs a BSD kernel"))
    ok = _poller("ok", 1)
    reg = _registry(("p", _plugin(mqsdk_pollers=[nope, ok])))
    assert reg.choose_poller() is ok
    info = reg.find_component("poller", "nope")
    assert info is not None and info.availability.reason == "needs a BSD kernel"
    with pytest.raises(ConfigError, match="cannot run here: needs a BSD kernel"):
        _registry(("p", _plugin(mqsdk_pollers=[nope, ok])), poller="nope").choose_poller()


def test_choose_poller_hook_can_override_auto() -> None:
    low, high = _poller("low", 1), _poller("high", 9)

    class Chooser:
        @hookimpl
        def mqsdk_choose_poller(self, candidates: Sequence[type]) -> type:
            assert [c.name for c in candidates] == ["high", "low"]
            return low

    reg = _registry(("p", _plugin(mqsdk_pollers=[low, high])), ("chooser", Chooser()))
    assert reg.choose_poller() is low


def test_two_plugins_claiming_one_poller_name() -> None:
    with pytest.raises(PluginConflictError) as info:
        _registry(
            ("a", _plugin(mqsdk_pollers=[_poller("x")])),
            ("b", _plugin(mqsdk_pollers=[_poller("x")])),
        )
    assert "poller 'x' is claimed by two plugins: 'a'" in str(info.value)
    assert info.value.plugin == "b"


def test_two_patterns_with_one_socket_type_number() -> None:
    one = type("One", (_Pattern,), {"name": "ONE", "socket_type": 42})
    two = type("Two", (_Pattern,), {"name": "TWO", "socket_type": 42})
    with pytest.raises(PluginConflictError, match="socket type number 42"):
        _registry(("p", _plugin(mqsdk_patterns=[one, two])))


@pytest.mark.parametrize(
    ("provided", "message"),
    [
        ("not a class", "is not a class"),
        (int, "is not a subclass of mqsdk._kernel.poller.PollerBackend"),
        (type("Half", (PollerBackend,), {"name": "half"}), "does not implement close, modify"),
        (type("BadName", (_Backend,), {"name": "Bad Name"}), "a poller name must be"),
    ],
)
def test_incomplete_or_wrong_components_are_refused(provided: object, message: str) -> None:
    with pytest.raises(PluginInterfaceError, match=message) as info:
        _registry(("shoddy", _plugin(mqsdk_pollers=[provided])))
    assert "plugin 'shoddy'" in str(info.value)


def test_pattern_without_socket_type_number_is_refused() -> None:
    nameless = type("P", (_Pattern,), {"name": "PX"})
    with pytest.raises(PluginInterfaceError, match="socket_type -1"):
        _registry(("p", _plugin(mqsdk_patterns=[nameless])))


def test_transport_must_be_a_stream_or_message_transport() -> None:
    from mqsdk._kernel.transport import Transport

    bare = type("Bare", (Transport,), {"name": "bare"})
    with pytest.raises(
        PluginInterfaceError, match="neither a StreamTransport nor a MessageTransport"
    ):
        _registry(("t", _plugin(mqsdk_transports=[bare])))


def test_hook_with_a_misspelt_name_is_refused() -> None:
    class Typo:
        @hookimpl
        def mqsdk_poller(self) -> list[type]:
            return []

    with pytest.raises(PluginInterfaceError, match="hooks that do not exist: mqsdk_poller"):
        _registry(("typo", Typo()))


def test_registration_hook_that_raises() -> None:
    class Raising:
        @hookimpl
        def mqsdk_pollers(self) -> list[type]:
            raise OSError("probe failed")

    with pytest.raises(PluginLoadError, match=r"mqsdk_pollers\(\) raised OSError: probe failed"):
        _registry(("raising", Raising()))


def test_non_strict_registry_collects_errors() -> None:
    good = _poller("good")
    reg = _registry(
        ("good", _plugin(mqsdk_pollers=[good])),
        ("shoddy", _plugin(mqsdk_pollers=[int])),
        strict=False,
    )
    assert reg.pollers == {"good": good}
    assert reg.plugins["shoddy"].status == "error"
    assert len(reg.errors) == 1


def test_disabled_and_unselected_plugins_are_not_registered() -> None:
    a, b = _poller("a"), _poller("b")
    plugins = (("pa", _plugin(mqsdk_pollers=[a])), ("pb", _plugin(mqsdk_pollers=[b])))
    reg = _registry(*plugins, disable_plugins=["pa"])
    assert reg.pollers == {"b": b}
    assert reg.plugins["pa"].status == "disabled"
    assert "disable_plugins (code)" in reg.plugins["pa"].why
    reg = _registry(*plugins, plugin_autoload=False, plugins=["pa"])
    assert reg.pollers == {"a": a}
    assert reg.plugins["pb"].status == "not selected"
    assert reg.plugins["null"].status == "loaded"  # built-ins load regardless


def test_unknown_plugin_in_configuration() -> None:
    with pytest.raises(UnknownPluginError, match=r"disable_plugins .* names plugin 'nosuch'"):
        _registry(disable_plugins=["nosuch"])
    with pytest.raises(UnknownPluginError, match=r"plugins .* names plugin 'nosuch'"):
        _registry(plugin_autoload=False, plugins=["nosuch"])


def test_poller_of_a_disabled_plugin_explains_itself() -> None:
    plugins = (("pa", _plugin(mqsdk_pollers=[_poller("a")])),)
    with pytest.raises(ConfigError, match=r"no poller named 'a'.*not loaded by configuration: pa"):
        _registry(*plugins, disable_plugins=["pa"], poller="a").choose_poller()


def test_no_poller_at_all() -> None:
    with pytest.raises(ConfigError, match="no poller backend can run"):
        _registry().choose_poller()


def test_unknown_transport_scheme() -> None:
    with pytest.raises(UnsupportedTransport, match=r"no usable transport for nope://"):
        _registry().transport("nope")


def test_entry_point_that_fails_to_import_names_plugin_and_distribution() -> None:
    ep = metadata.EntryPoint("ghost", "mqsdk_no_such_module_here", "mqsdk.plugins")
    with pytest.raises(PluginLoadError) as info:
        Registry(load_config(environ={}), entry_points=[ep])
    assert "plugin 'ghost'" in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)
    assert "MQSDK_DISABLE_PLUGINS=ghost" in str(info.value)


def test_observer_hooks_are_called_and_failures_contained(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    class Good:
        @hookimpl
        def mqsdk_socket_closed(self, socket: object) -> None:
            seen.append(f"good:{socket}")

    class Bad:
        @hookimpl
        def mqsdk_socket_closed(self) -> None:
            raise RuntimeError("observer failed")

    reg = _registry(("bad", Bad()), ("good", Good()))
    reg.notify("mqsdk_socket_closed", socket="s1")
    assert seen == ["good:s1"]
    assert any("observer failed" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_registry_is_cached_per_configuration() -> None:
    first = get_registry(load_config(environ={}))
    assert get_registry(load_config(environ={})) is first
    other = get_registry(load_config({"disable_plugins": ["select"]}, environ={}))
    assert other is not first


def test_bundled_pollers_are_installed() -> None:
    reg = get_registry(load_config(environ={}))
    names = {c.name for c in reg.components("poller")}
    assert {"epoll", "kqueue", "poll", "select"} <= names
    if hasattr(select, "epoll"):
        assert reg.choose_poller().name == "epoll"
