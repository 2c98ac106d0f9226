"""Parsing of tipc:// endpoints, last_endpoint text and the availability probe.

None of this needs a TIPC kernel.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest
from mqsdk_transport_tipc import (
    TipcAddress,
    TipcTransport,
    format_last_endpoint,
    format_port_id,
    mqsdk_transports,
    tipc_addr,
)
from mqsdk_transport_tipc.address import ADDR_ID, ADDR_NAME, ADDR_NAMESEQ, ZONE_SCOPE
from mqsdk_transport_tipc.transport import tipc_availability

import mqsdk
from mqsdk.errors import EndpointError, UnsupportedTransport

D100 = tipc_addr(1, 0, 0)


def _parse(address: str, *, bind: bool) -> TipcAddress:
    return TipcTransport().parse(address, bind=bind, options={})


def test_socket_module_constants_are_used() -> None:
    if not hasattr(socket, "AF_TIPC"):
        pytest.skip("no AF_TIPC in this Python's socket module")
    assert (ADDR_NAMESEQ, ADDR_NAME, ADDR_ID, ZONE_SCOPE) == (
        socket.TIPC_ADDR_NAMESEQ,
        socket.TIPC_ADDR_NAME,
        socket.TIPC_ADDR_ID,
        socket.TIPC_ZONE_SCOPE,
    )


def test_tipc_addr() -> None:
    assert tipc_addr(1, 0, 0) == 0x01000000
    assert tipc_addr(1, 2, 3) == (1 << 24) | (2 << 12) | 3
    assert tipc_addr(255, 4095, 4095) == 0xFFFFFFFF


Case = tuple[str, bool, str, tuple[int, ...] | None, dict[str, int]]

VALID: list[Case] = [
    # address, bind, kind, sockaddr, other fields
    ("{5560,0,3}", True, "range", (ADDR_NAMESEQ, 5560, 0, 3, ZONE_SCOPE), {"type": 5560}),
    ("{64,7,7}", True, "range", (ADDR_NAMESEQ, 64, 7, 7, ZONE_SCOPE), {"lower": 7, "upper": 7}),
    ("{5560, 0, 3}", True, "range", (ADDR_NAMESEQ, 5560, 0, 3, ZONE_SCOPE), {}),
    ("{ 5560 ,0 , 3 }", True, "range", (ADDR_NAMESEQ, 5560, 0, 3, ZONE_SCOPE), {}),
    (
        "{4294967295,0,4294967295}",
        True,
        "range",
        (ADDR_NAMESEQ, 0xFFFFFFFF, 0, 0xFFFFFFFF, ZONE_SCOPE),
        {},
    ),
    ("{5560,1}", False, "name", (ADDR_NAME, 5560, 1, 0), {"domain": D100, "lower": 1}),
    ("{65,0}", False, "name", (ADDR_NAME, 65, 0, 0), {"domain": D100}),
    ("{5560, 1}", False, "name", (ADDR_NAME, 5560, 1, 0), {}),
    (
        "{5560,1}@1.2.3",
        False,
        "name",
        (ADDR_NAME, 5560, 1, 0),
        {"domain": tipc_addr(1, 2, 3)},
    ),
    ("{5560,1}@0.0.0", False, "name", (ADDR_NAME, 5560, 1, 0), {"domain": 0}),
    (
        "<1.0.0:2345678>",
        False,
        "port",
        (ADDR_ID, D100, 2345678, 0),
        {"node": D100, "ref": 2345678},
    ),
    (
        "<255.4095.4095:4294967295>",
        False,
        "port",
        (ADDR_ID, 0xFFFFFFFF, 0xFFFFFFFF, 0),
        {"ref": 0xFFFFFFFF},
    ),
    ("< 1.2.3 : 4 >", False, "port", (ADDR_ID, tipc_addr(1, 2, 3), 4, 0), {}),
    ("<*>", True, "random", None, {}),
    ("< * >", True, "random", None, {}),
]


@pytest.mark.parametrize(
    "case", VALID, ids=[f"{c[0]}-{'bind' if c[1] else 'connect'}" for c in VALID]
)
def test_valid_forms(case: Case) -> None:
    address, bind, kind, sockaddr, fields = case
    parsed = _parse(address, bind=bind)
    assert parsed.kind == kind
    assert parsed.sockaddr == sockaddr
    for name, value in fields.items():
        assert getattr(parsed, name) == value, name


def test_parsed_address_is_frozen_and_prints_canonically() -> None:
    parsed = _parse("{5560, 0, 3}", bind=True)
    with pytest.raises(AttributeError):
        parsed.type = 1  # type: ignore[misc]
    assert str(parsed) == "tipc://{5560,0,3}"
    assert str(_parse("{5560,1}", bind=False)) == "tipc://{5560,1}@1.0.0"
    assert str(_parse("<1.2.3:4>", bind=False)) == "tipc://<1.2.3:4>"
    assert str(_parse("<*>", bind=True)) == "tipc://<*>"
    assert _parse("{5560,9}", bind=False).instance == 9


Bad = tuple[str, bool, str]

MALFORMED: list[Bad] = [
    # address, bind, a phrase the message must contain
    ("", True, "empty"),
    ("  ", False, "empty"),
    ("5560", True, "not a tipc address"),
    ("{5560,0,3", True, "not a tipc address"),
    ("{5560,0,3,4}", True, "not a tipc address"),
    ("{5560,-1,3}", True, "not a tipc address"),
    ("{5560,x,3}", True, "not a tipc address"),
    ("{}", False, "not a tipc address"),
    ("{5560}", False, "not a tipc address"),
    ("{5560,0,3}@1.0.0", True, "not a tipc address"),
    ("{5560,1}@1.0", False, "not a tipc address"),
    ("{5560,1}@", False, "not a tipc address"),
    ("<1.0.0>", False, "not a tipc address"),
    ("<1.0:5>", False, "not a tipc address"),
    ("<1.0.0:>", False, "not a tipc address"),
    ("<**>", True, "not a tipc address"),
    ("tipc://{5560,0,3}", True, "not a tipc address"),
    # ranges: bind only, type >= 64, lower <= upper, 32-bit
    ("{5560,0,3}", False, "only valid for bind"),
    ("{63,0,3}", True, "reserved"),
    ("{0,0,0}", True, "reserved"),
    ("{5560,4,3}", True, "lower 4 is above upper 3"),
    ("{4294967296,0,3}", True, "32 bits"),
    ("{5560,0,4294967296}", True, "32 bits"),
    # names: connect only, type > 64
    ("{5560,1}", True, "only valid for connect"),
    ("{64,1}", False, "reserved"),
    ("{1,1}", False, "reserved"),
    ("{5560,4294967296}", False, "32 bits"),
    ("{5560,1}@256.0.0", False, "out of range"),
    ("{5560,1}@1.4096.0", False, "out of range"),
    ("{5560,1}@1.0.4096", False, "out of range"),
    # port ids: connect only
    ("<1.0.0:5>", True, "cannot bind to a port id"),
    ("<1.0.4096:5>", False, "out of range"),
    ("<1.0.0:4294967296>", False, "32 bits"),
    # <*>: bind only
    ("<*>", False, "only valid for bind"),
]


@pytest.mark.parametrize(
    "case", MALFORMED, ids=[f"{c[0]!r}-{'bind' if c[1] else 'connect'}" for c in MALFORMED]
)
def test_malformed_forms(case: Bad) -> None:
    address, bind, phrase = case
    with pytest.raises(EndpointError) as info:
        _parse(address, bind=bind)
    message = str(info.value)
    assert phrase in message
    assert f"tipc://{address}" in message
    # Every message shows the valid forms for the operation.
    assert ("tipc://<*>" if bind else "tipc://<Z.C.N:ref>") in message
    assert info.value.errno == errno.EINVAL


def test_last_endpoint_for_a_range_has_libzmq_spaces() -> None:
    parsed = _parse("{5560,0,3}", bind=True)
    assert format_last_endpoint(parsed) == "tipc://{5560, 0, 3}"
    # and it parses back to the same address
    assert _parse(format_last_endpoint(parsed)[len("tipc://") :], bind=True) == parsed


def test_last_endpoint_for_a_random_port_id_comes_from_getsockname() -> None:
    parsed = _parse("<*>", bind=True)
    sockname = (ADDR_ID, tipc_addr(1, 2, 3), 3141592653, 0, 0)
    text = format_last_endpoint(parsed, sockname)
    assert text == "tipc://<1.2.3:3141592653>"
    again = _parse(text[len("tipc://") :], bind=False)
    assert again.sockaddr == (ADDR_ID, tipc_addr(1, 2, 3), 3141592653, 0)
    # A flat 32-bit node address (kernels since 4.17) still round-trips.
    node = 0xDEADBEEF
    text = format_last_endpoint(parsed, (ADDR_ID, node, 7, 0, 0))
    assert _parse(text[len("tipc://") :], bind=False).node == node


def test_last_endpoint_rejects_what_it_cannot_print() -> None:
    parsed = _parse("<*>", bind=True)
    with pytest.raises(ValueError):
        format_last_endpoint(parsed)
    with pytest.raises(ValueError):
        format_last_endpoint(parsed, (ADDR_NAMESEQ, 5560, 0, 3, 0))


def test_format_port_id() -> None:
    assert format_port_id(tipc_addr(1, 0, 0), 0) == "<1.0.0:0>"
    assert format_port_id(0xFFFFFFFF, 1) == "<255.4095.4095:1>"


def test_plugin_registers_the_transport() -> None:
    assert list(mqsdk_transports()) == [TipcTransport]
    assert TipcTransport.name == "tipc"
    assert TipcTransport.kind == "transport"


def test_listen_and_connect_reject_foreign_or_wrong_addresses() -> None:
    transport = TipcTransport()
    with pytest.raises(TypeError):
        transport.listen("{5560,0,3}", {})
    with pytest.raises(TypeError):
        transport.connect(object(), {})
    with pytest.raises(EndpointError):
        transport.listen(_parse("{5560,1}", bind=False), {})
    with pytest.raises(EndpointError):
        transport.connect(_parse("<*>", bind=True), {})


# --- availability ------------------------------------------------------------------


def test_available_says_why_not_on_this_host() -> None:
    result = TipcTransport.available()
    try:
        socket.socket(socket.AF_TIPC, socket.SOCK_STREAM).close()
    except (OSError, AttributeError):
        assert not result
        assert "TIPC" in result.reason
    else:
        assert result, "AF_TIPC sockets work here, so the transport must say yes"


class _FailingSocketModule:
    AF_TIPC = 30
    SOCK_STREAM = 1

    def __init__(self, exc: OSError) -> None:
        self._exc = exc

    def socket(self, *args: Any) -> Any:
        raise self._exc


def test_reason_for_a_missing_kernel_module() -> None:
    exc = OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
    result = tipc_availability(_FailingSocketModule(exc))
    assert not result
    assert "AF_TIPC" in result.reason
    assert "Address family not supported by protocol" in result.reason
    assert "EAFNOSUPPORT" in result.reason
    assert "tipc kernel module" in result.reason


def test_reason_without_af_tipc() -> None:
    class NoTipc:
        SOCK_STREAM = 1

    result = tipc_availability(NoTipc())
    assert not result
    assert "AF_TIPC" in result.reason and "Linux" in result.reason


def test_probe_closes_its_socket_when_it_works() -> None:
    closed: list[bool] = []

    class Probe:
        def close(self) -> None:
            closed.append(True)

    class Works:
        AF_TIPC = 30
        SOCK_STREAM = 1

        def socket(self, *args: Any) -> Probe:
            return Probe()

    assert tipc_availability(Works())
    assert closed == [True]


def test_sockets_refuse_tipc_with_the_reason_where_the_kernel_lacks_it() -> None:
    availability = TipcTransport.available()
    context = mqsdk.Context()
    try:
        sock = context.socket(mqsdk.PUSH)
        if availability:  # a kernel with TIPC (the VM test): the same calls work
            sock.bind("tipc://{5561,0,0}")
            sock.connect("tipc://{5561,0}")
            return
        for action, endpoint in (
            (sock.bind, "tipc://{5561,0,0}"),
            (sock.connect, "tipc://{5561,0}"),
        ):
            with pytest.raises(UnsupportedTransport) as info:
                action(endpoint)
            assert availability.reason in str(info.value)
            assert info.value.errno == errno.EPROTONOSUPPORT
    finally:
        context.destroy(linger=0)
