"""Options declared by the components that own them, merged per socket type.

Mechanisms declare their security options (and which of them select the mechanism),
patterns declare their values and their write-only actions, and the merged table
refuses a libzmq number or a name claimed twice.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

import mqsdk
from mqsdk._kernel.options import BUNDLED_PLUGIN_OPTIONS, OptionSpec, OptionTable
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk.config import load_config
from mqsdk.plugin import (
    Availability,
    Flag,
    Mechanism,
    Message,
    OptionModel,
    Pattern,
    Pipe,
    action,
    hookimpl,
    option,
)


def _context(
    config: dict[str, Any] | None = None, plugins: Sequence[tuple[str, object]] = ()
) -> mqsdk.Context:
    context = mqsdk.Context()
    context.registry = Registry(load_config(config or {}, environ={}), extra_plugins=plugins)
    return context


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


# -- mechanisms --------------------------------------------------------------------------


def test_mechanism_options_are_in_the_table_only_with_their_mechanism() -> None:
    registry = get_registry()
    table = registry.option_table(registry.pattern("DEALER"))
    serverkey = table.specs["curve_serverkey"]
    assert (serverkey.kind, serverkey.owner, serverkey.number) == ("mechanism", "CURVE", 50)
    assert (serverkey.selects_mechanism, serverkey.as_server) == ("CURVE", False)
    assert table.specs["plain_server"].owner == "PLAIN"
    assert table.specs["zap_domain"].owner == "kernel"

    without_curve = Registry(load_config({"disable_plugins": ["curve"]}, environ={}))
    table = without_curve.option_table(without_curve.pattern("DEALER"))
    assert not [name for name in table.specs if name.startswith("curve_")]
    assert not {47, 48, 49, 50} & set(table.by_number)
    assert "plain_username" in table.specs
    assert {"zap_domain", "zap_enforce_domain", "mechanism"} <= set(table.specs)


class _ToyOptions(OptionModel):
    toy_server: Flag = option(
        0, number=None, doc="Be the TOY server.", selects_mechanism="TOY", as_server=True
    )
    toy_key: bytes = option(b"", number=None, doc="A TOY key.", selects_mechanism="TOY")


class _Toy(Mechanism):
    name = "TOY"
    number = 7
    option_model = _ToyOptions

    def start(self) -> list[bytes]:
        return []

    def on_command(self, command: Any) -> list[bytes]:
        return []


def _toy_plugin(cls: type[Mechanism]) -> tuple[str, object]:
    @hookimpl
    def mqsdk_mechanisms() -> list[type[Mechanism]]:
        return [cls]

    return ("toy", SimpleNamespace(mqsdk_mechanisms=mqsdk_mechanisms))


def test_a_third_partys_options_select_its_mechanism_by_declaration() -> None:
    """libzmq's rule (the last security option set picks the mechanism and the role)
    applies to any mechanism's declared options, not to a list in the kernel."""
    context = _context(plugins=[_toy_plugin(_Toy)])
    try:
        sock = context.socket(mqsdk.DEALER)
        sock.toy_server = 1
        assert (sock.mechanism, sock.mechanism_name, sock.as_server) == (7, "TOY", True)
        assert sock.toy_server == 1
        sock.toy_key = b"k"  # declared without a role: the role stays
        assert (sock.mechanism_name, sock.as_server) == ("TOY", True)
        mechanism = sock.make_mechanism()
        assert isinstance(mechanism, _Toy)
        assert mechanism.options["toy_key"] == b"k"
        sock.curve_serverkey = mqsdk.curve_keypair()[0]  # the last one set wins
        assert (sock.mechanism_name, sock.as_server) == ("CURVE", False)
        assert (sock.toy_server, sock.curve_server) == (0, 0)  # server flags read the state
        sock.toy_server = 1
        assert (sock.mechanism_name, sock.curve_server, sock.toy_server) == ("TOY", 0, 1)
        sock.toy_server = 0  # a false value goes back to NULL
        assert (sock.mechanism, sock.as_server) == (0, False)
    finally:
        context.destroy(linger=0)


def test_selecting_a_mechanism_that_cannot_run_here_changes_nothing() -> None:
    class BoxlessToy(_Toy):
        @classmethod
        def available(cls) -> Availability:
            return Availability.no("needs a toy box")

    context = _context(plugins=[_toy_plugin(BoxlessToy)])
    try:
        sock = context.socket(mqsdk.DEALER)
        sock.toy_key = b""  # clearing selects nothing: allowed
        with pytest.raises(mqsdk.MQError, match="needs a toy box") as info:
            sock.toy_server = 1
        assert info.value.errno == errno.EINVAL
        assert (sock.toy_server, sock.mechanism) == (0, 0)
    finally:
        context.destroy(linger=0)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"short", "32 raw bytes or 40 Z85 characters (see mqsdk.curve_keypair()), got 5 bytes"),
        (b"#" * 40, "not a valid Z85 key"),
        (42, "32 raw bytes or 40 Z85 characters (see mqsdk.curve_keypair()), got int"),
    ],
)
def test_a_bad_curve_key_gets_a_clear_error(ctx: mqsdk.Context, bad: object, why: str) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    with pytest.raises(mqsdk.MQError) as info:
        sock.curve_serverkey = bad
    assert info.value.errno == errno.EINVAL
    message = str(info.value)
    assert message.startswith(f"invalid value {bad!r} for socket option curve_serverkey: ")
    assert why in message
    assert sock.curve_serverkey == mqsdk.z85_encode(bytes(32))  # unchanged
    assert sock.mechanism == 0


def test_zap_enforce_domain_is_the_kernels_and_reaches_the_mechanism(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PULL)
    assert mqsdk.ZAP_ENFORCE_DOMAIN == 93
    sock.zap_domain = "global"
    sock.setsockopt(mqsdk.ZAP_ENFORCE_DOMAIN, 1)
    options = sock.make_mechanism().options  # NULL's
    assert (options["zap_domain"], options["zap_enforce_domain"]) == (b"global", 1)
    with pytest.raises(mqsdk.MQError, match="at most 255 bytes"):
        sock.zap_domain = b"d" * 256


# -- patterns ----------------------------------------------------------------------------


def test_a_patterns_option_round_trips_through_its_model(ctx: mqsdk.Context) -> None:
    from mqsdk_pattern_reqrep.options import RouterOptions

    router = ctx.socket(mqsdk.ROUTER)
    values = router.component_options(RouterOptions)
    assert router.pattern.options is values  # what the pattern reads per message
    router.setsockopt(mqsdk.ROUTER_MANDATORY, 1)
    assert values.router_mandatory == 1
    assert router.router_mandatory == 1
    router.connect_routing_id = bytearray(b"peer")
    assert values.connect_routing_id == b"peer"
    spec = ctx.registry.option_table(type(router.pattern)).specs["router_mandatory"]
    assert (spec.kind, spec.owner, spec.number, spec.model) == (
        "pattern",
        "ROUTER",
        33,
        RouterOptions,
    )


def test_an_action_is_write_only_and_runs_the_patterns_handler(ctx: mqsdk.Context) -> None:
    sub = ctx.socket(mqsdk.SUB)
    spec = ctx.registry.option_table(type(sub.pattern)).specs["subscribe"]
    assert (spec.write_only, spec.handler, spec.number) == (True, "on_subscribe", 6)
    sub.subscribe = b"news"  # the attribute, as in pyzmq
    assert sub.pattern.trie.matches(b"news: today")
    sub.setsockopt(mqsdk.UNSUBSCRIBE, b"news")
    assert not sub.pattern.trie.matches(b"news: today")
    with pytest.raises(mqsdk.MQError, match="write-only") as info:
        sub.getsockopt(mqsdk.SUBSCRIBE)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError, match="encode"):
        sub.setsockopt(mqsdk.SUBSCRIBE, "text")  # validated by the declared type


class _PokeOptions(OptionModel):
    poke: bytes = action(number=None, doc="Poke the peers.")


class _Poker(Pattern):
    name = "POKER"
    socket_type = 99
    option_model = _PokeOptions

    def attach(self, pipe: Pipe) -> bool:
        return True

    def detach(self, pipe: Pipe) -> None:
        pass

    def send(self, message: Message) -> bool:
        return True

    def recv(self) -> Message | None:
        return None


def test_an_action_without_its_handler_is_refused() -> None:
    with pytest.raises(TypeError, match="on_poke"):
        _Poker.declared_options()

    class HandledPoker(_Poker):
        def on_poke(self, value: bytes) -> None:
            pass

    assert [s.handler for s in HandledPoker.declared_options()] == ["on_poke"]


# -- the merged table --------------------------------------------------------------------


def test_a_number_or_name_declared_twice_is_a_conflict() -> None:
    first = [OptionSpec("rate", 8, "transport", "pgm")]
    same_number = [OptionSpec("speed", 8, "transport", "other")]
    same_name = [OptionSpec("rate", 1234, "mechanism", "third")]
    table = OptionTable.merge([first, same_number, same_name])
    assert table.by_number == {8: "rate"}  # the first declaration keeps both
    assert set(table.specs) == {"rate"}
    assert table.conflicts == [
        "number 8 declared for rate by transport pgm and for speed by transport other",
        "rate declared by transport pgm and mechanism third",
    ]


def test_every_bundled_table_has_each_number_and_name_once() -> None:
    registry = get_registry()
    for pattern in registry.patterns.values():
        table = registry.option_table(pattern)
        assert table.conflicts == [], pattern.name
        numbers = {s.name: s.number for s in table.specs.values() if s.number is not None}
        assert len(set(numbers.values())) == len(numbers), pattern.name
        assert {number: name for name, number in numbers.items()} == table.by_number


def test_the_module_constants_list_agrees_with_the_declarations() -> None:
    """``BUNDLED_PLUGIN_OPTIONS`` (the constants and the missing-plugin hint) names, per
    distribution, exactly what its components declare with a number."""
    declared: dict[str, dict[str, int]] = {}
    for component in get_registry().components():
        numbers = declared.setdefault(component.plugin.distribution, {})
        for spec in component.cls.declared_options():
            if spec.number is not None:
                numbers[spec.name] = spec.number
    for distribution, numbers in BUNDLED_PLUGIN_OPTIONS.items():
        if distribution in declared:
            assert declared[distribution] == numbers, distribution


def test_transports_get_no_mechanisms_options(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    sock.curve_secretkey = mqsdk.curve_keypair()[1]
    sock.plain_password = b"secret"
    options = sock.transport_options()
    assert options["sndhwm"] == 1000 and "vmci_buffer_size" in options
    assert not {"curve_secretkey", "plain_password", "zap_domain"} & set(options)
