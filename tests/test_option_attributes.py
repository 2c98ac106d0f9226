"""Options as socket attributes and by number, from the components' declarations.

pyzmq's behaviour is the reference: an unknown attribute name raises AttributeError,
known names set the option (``identity`` is ``routing_id``, ``hwm`` sets both HWMs,
``sub.subscribe = b""`` subscribes), and the shared ``Socket`` class is never changed.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio
from mqsdk._kernel.mechanism import Mechanism
from mqsdk._kernel.options import (
    KernelOptions,
    OptionModel,
    OptionSpec,
    OptionTable,
    option,
    specs_from_model,
)
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk._kernel.transport import StreamTransport
from mqsdk.config import load_config
from mqsdk.errors import EndpointError, MQError
from mqsdk.hookspecs import hookimpl
from mqsdk.testing.helpers import WAIT


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def test_a_typo_raises_attribute_error_naming_it(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PULL)
    with pytest.raises(AttributeError, match="rcvtimout"):
        sock.rcvtimout = 200
    with pytest.raises(AttributeError, match="rcvtimout"):
        sock.rcvtimout  # noqa: B018 - the read is the test
    assert sock.rcvtimeo == -1  # nothing was set
    with pytest.raises(MQError, match="did you mean 'rcvtimeo'") as info:
        sock.set("rcvtimout", 200)
    assert info.value.errno == errno.EINVAL


def test_asyncio_sockets_reject_typos_too(ctx: mqsdk.Context) -> None:
    with mqsdk.asyncio.Context() as actx:
        sock = actx.socket(mqsdk.PULL)
        with pytest.raises(AttributeError, match="lingr"):
            sock.lingr = 0
        sock.linger = 0
        assert sock.linger == 0


def test_pyzmq_aliases_set_the_option(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.DEALER)
    sock.identity = b"w1"
    assert sock.routing_id == b"w1"
    assert sock.get(mqsdk.IDENTITY) == b"w1"
    sock.hwm = 7
    assert (sock.sndhwm, sock.rcvhwm, sock.hwm) == (7, 7, 7)
    sock.SNDHWM = 9  # pyzmq's upper-case spelling
    assert sock.get(mqsdk.SNDHWM) == 9


def test_assigning_subscribe_subscribes(ctx: mqsdk.Context) -> None:
    pub, sub = ctx.socket(mqsdk.PUB), ctx.socket(mqsdk.SUB)
    sub.rcvtimeo = int(WAIT * 1000)
    pub.bind("inproc://assign-subscribe")
    sub.connect("inproc://assign-subscribe")
    sub.subscribe = "news"  # as pyzmq: str is encoded
    assert pub.wait_for_subscribers(1, timeout=WAIT)
    pub.send(b"weather")
    pub.send(b"news: the assignment subscribed")
    assert sub.recv() == b"news: the assignment subscribed"
    sub.subscribe(b"weather")  # still the method too
    sub.unsubscribe = b"news"


def test_options_of_other_socket_types_are_absent(ctx: mqsdk.Context) -> None:
    router, sub = ctx.socket(mqsdk.ROUTER), ctx.socket(mqsdk.SUB)
    assert hasattr(router, "connect_routing_id")
    assert not hasattr(sub, "connect_routing_id")  # was MQError once a ROUTER existed
    assert getattr(sub, "connect_routing_id", "absent") == "absent"
    assert getattr(sub, "no_such_thing", None) is None
    with pytest.raises(AttributeError):
        sub.router_mandatory = 1
    # A write-only option read as an attribute: AttributeError, not MQError.
    assert getattr(sub, "unsubscribe", None) is not None  # the method
    xpub = ctx.socket(mqsdk.XPUB)
    assert hasattr(xpub, "xpub_verbose")


def test_the_shared_class_is_never_modified(ctx: mqsdk.Context) -> None:
    before = dict(vars(mqsdk.Socket))
    for kind in (mqsdk.ROUTER, mqsdk.SUB, mqsdk.XPUB, mqsdk.REQ, mqsdk.STREAM):
        sock = ctx.socket(kind)
        assert isinstance(sock, mqsdk.Socket)
        assert type(sock).__name__ == "Socket"
    assert dict(vars(mqsdk.Socket)) == before
    assert not hasattr(mqsdk.Socket, "sndhwm")


def test_transport_options_are_settable_on_every_socket_and_reach_it(
    ctx: mqsdk.Context,
) -> None:
    for kind in (mqsdk.PUSH, mqsdk.SUB, mqsdk.ROUTER):
        sock = ctx.socket(kind)
        sock.vmci_buffer_size = 1 << 20  # declared by the vmci transport
        sock.rate = 1000  # declared by pgm/epgm
        assert sock.getsockopt(mqsdk.VMCI_BUFFER_SIZE) == 1 << 20
        assert sock.getsockopt(mqsdk.RATE) == 1000
        options = sock.transport_options()
        assert options["vmci_buffer_size"] == 1 << 20
        assert options["rate"] == 1000
        assert options["sndhwm"] == 1000  # and the kernel's
    with pytest.raises(MQError) as info:
        sock.rate = 0
    assert info.value.errno == errno.EINVAL


def test_numbers_and_names_come_from_the_declarations(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.REQ)
    sock.setsockopt(mqsdk.REQ_RELAXED, 1)
    assert sock.getsockopt("req_relaxed") == 1
    assert sock.getsockopt(mqsdk.TYPE) == mqsdk.REQ
    with pytest.raises(MQError) as info:
        sock.setsockopt(mqsdk.TYPE, 3)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(MQError, match="number 9999"):
        sock.getsockopt(9999)
    with pytest.raises(MQError, match="for a REQ socket"):
        sock.setsockopt(mqsdk.SUBSCRIBE, b"")  # SUB's, not REQ's


def test_every_declared_number_matches_libzmq_constants() -> None:
    registry = get_registry()
    for pattern in registry.patterns.values():
        table = registry.option_table(pattern)
        assert table.conflicts == []
        for spec in table.specs.values():
            if spec.number is not None:
                assert getattr(mqsdk, spec.name.upper()) == spec.number, spec


def test_a_conflicting_declaration_is_reported() -> None:
    kernel = specs_from_model(KernelOptions, "kernel", "kernel")
    clash = [OptionSpec("sndhwm", 99, "transport", "other")]
    table = OptionTable.merge([kernel, clash])
    assert table.specs["sndhwm"].number == 23  # the first declaration wins
    assert table.conflicts == ["sndhwm declared by kernel kernel and transport other"]


class _MarkerOptions(OptionModel):
    marker_level: int = option(0, number=None, doc="How loud (a third-party option).", ge=0)


def test_a_third_party_transport_declares_an_option_that_reaches_it() -> None:
    """A transport plugin declares its option; every socket has it, validated, and the
    transport reads the value in the options it gets when the socket binds."""
    seen: list[object] = []

    class MarkerTransport(StreamTransport):
        name = "marker"
        option_model = _MarkerOptions

        def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> Any:
            seen.append(options["marker_level"])
            raise EndpointError("marker:// only records its options")

        def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
            raise AssertionError("never reached")

        def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
            raise AssertionError("never reached")

    @hookimpl
    def mqsdk_transports() -> list[type[StreamTransport]]:
        return [MarkerTransport]

    context = mqsdk.Context()
    context.registry = Registry(
        load_config(environ={}),
        extra_plugins=[("marker", SimpleNamespace(mqsdk_transports=mqsdk_transports))],
    )
    try:
        sock = context.socket(mqsdk.PUSH)
        sock.marker_level = 3
        with pytest.raises(MQError):
            sock.marker_level = -1
        with pytest.raises(EndpointError):
            sock.bind("marker://anything")
        assert seen == [3]
    finally:
        context.destroy(linger=0)


class _ChallengeOptions(OptionModel):
    challenge_user: bytes = option(
        b"",
        number=None,
        doc="A third-party PLAIN's user name (selects it, as the client).",
        selects_mechanism="PLAIN",
        as_server=False,
    )
    plain_challenge: bytes = option(b"", number=None, doc="A third-party PLAIN's extra.")


def test_a_mechanism_declares_an_option_that_reaches_it() -> None:
    """A mechanism plugin (here a stand-in for PLAIN) declares its options, one of them
    selecting it; the socket hands their values to the mechanism it makes for each
    connection. The bundled PLAIN's options are gone with its plugin."""

    class ChallengePlain(Mechanism):
        name = "PLAIN"
        number = 1  # what the mechanism option reads
        option_model = _ChallengeOptions

        def start(self) -> list[bytes]:
            return []

        def on_command(self, command: Any) -> list[bytes]:
            return []

    @hookimpl
    def mqsdk_mechanisms() -> list[type[Mechanism]]:
        return [ChallengePlain]

    context = mqsdk.Context()
    context.registry = Registry(
        load_config({"disable_plugins": ["plain"]}, environ={}),
        extra_plugins=[("challenge", SimpleNamespace(mqsdk_mechanisms=mqsdk_mechanisms))],
    )
    try:
        sock = context.socket(mqsdk.DEALER)
        assert not hasattr(sock, "plain_username")
        sock.challenge_user = b"admin"  # selects PLAIN, now ChallengePlain
        sock.plain_challenge = b"xyzzy"
        assert (sock.mechanism, sock.as_server) == (1, False)
        mechanism = sock.make_mechanism()
        assert isinstance(mechanism, ChallengePlain)
        assert mechanism.options["plain_challenge"] == b"xyzzy"
        assert mechanism.options["challenge_user"] == b"admin"
        sock.challenge_user = b""  # an empty credential goes back to NULL
        assert sock.mechanism == 0
    finally:
        context.destroy(linger=0)
