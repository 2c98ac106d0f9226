"""Parsing of tcp:// endpoints: every form libzmq accepts, and the malformed ones."""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

import pytest
from mqsdk_transport_tcp import TcpAddress, TcpTransport

from mqsdk.errors import EndpointError

V4 = socket.AF_INET
V6 = socket.AF_INET6
IPV6: dict[str, Any] = {"ipv6": 1}


def _parse(address: str, *, bind: bool, options: dict[str, Any] | None = None) -> TcpAddress:
    return TcpTransport().parse(address, bind=bind, options=options or {})


def _first_interface() -> tuple[int, str]:
    return socket.if_nameindex()[0]


Case = tuple[str, bool, dict[str, Any], str, int, int, tuple[Any, ...] | None]

VALID: list[Case] = [
    # address, bind, options, host, port, family, sockaddr
    ("*:5555", True, {}, "*", 5555, V4, ("0.0.0.0", 5555)),
    ("*:5555", True, IPV6, "*", 5555, V6, ("::", 5555, 0, 0)),
    ("*:*", True, {}, "*", 0, V4, ("0.0.0.0", 0)),
    ("*:0", True, {}, "*", 0, V4, ("0.0.0.0", 0)),
    ("127.0.0.1:5555", True, {}, "127.0.0.1", 5555, V4, ("127.0.0.1", 5555)),
    ("127.0.0.1:*", True, {}, "127.0.0.1", 0, V4, ("127.0.0.1", 0)),
    ("127.0.0.1:65535", False, {}, "127.0.0.1", 65535, V4, ("127.0.0.1", 65535)),
    ("127.0.0.1:1", False, {}, "127.0.0.1", 1, V4, ("127.0.0.1", 1)),
    ("[::1]:5555", True, {}, "::1", 5555, V6, ("::1", 5555, 0, 0)),
    ("[::1]:5555", False, {}, "::1", 5555, V6, ("::1", 5555, 0, 0)),
    ("::1:5555", False, {}, "::1", 5555, V6, ("::1", 5555, 0, 0)),
    ("[127.0.0.1]:5555", False, {}, "127.0.0.1", 5555, V4, ("127.0.0.1", 5555)),
    ("[fe80::1%7]:5555", False, {}, "fe80::1%7", 5555, V6, ("fe80::1", 5555, 0, 7)),
    ("[::ffff:127.0.0.1]:5", False, {}, "::ffff:127.0.0.1", 5, V6, ("::ffff:127.0.0.1", 5, 0, 0)),
    # DNS names on connect are checked for syntax only and resolved at connect time.
    ("localhost:5555", False, {}, "localhost", 5555, 0, None),
    ("example.com:80", False, {}, "example.com", 80, 0, None),
    ("example.com.:80", False, {}, "example.com.", 80, 0, None),
    ("my_host-1.example:80", False, {}, "my_host-1.example", 80, 0, None),
    ("lo:5555", False, {}, "lo", 5555, 0, None),  # no interface names on connect
]


@pytest.mark.parametrize(
    "case", VALID, ids=[f"{c[0]}-{'bind' if c[1] else 'connect'}" for c in VALID]
)
def test_valid_forms(case: Case) -> None:
    address, bind, options, host, port, family, sockaddr = case
    parsed = _parse(address, bind=bind, options=options)
    assert (parsed.host, parsed.port, parsed.family) == (host, port, family)
    assert parsed.sockaddr == sockaddr
    assert parsed.source is None


def test_ipv6_literal_needs_no_ipv6_option() -> None:
    # libzmq refuses an IPv6 literal unless ipv6=1 (ENODEV); mqsdk takes the literal
    # as the user's explicit choice of family.
    assert _parse("[::1]:1", bind=True, options={"ipv6": 0}).family == V6


def test_zone_id_by_interface_name() -> None:
    index, name = _first_interface()
    parsed = _parse(f"[fe80::1%{name}]:5555", bind=False)
    assert parsed.sockaddr == ("fe80::1", 5555, 0, index)
    assert str(parsed) == f"tcp://[fe80::1%{name}]:5555"


def test_bind_resolves_host_names_now() -> None:
    parsed = _parse("localhost:*", bind=True)
    assert parsed.family == V4
    assert parsed.sockaddr == ("127.0.0.1", 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="'lo' is Linux's name")
def test_bind_interface_name_resolves_to_its_ipv4_address() -> None:
    parsed = _parse("lo:5555", bind=True)
    assert (parsed.family, parsed.sockaddr) == (V4, ("127.0.0.1", 5555))


def test_source_address_forms() -> None:
    parsed = _parse("127.0.0.1:*;127.0.0.1:5555", bind=False)
    assert parsed.sockaddr == ("127.0.0.1", 5555)
    assert parsed.source is not None
    assert parsed.source.sockaddr == ("127.0.0.1", 0)
    assert str(parsed) == "tcp://127.0.0.1:0;127.0.0.1:5555"

    wildcard = _parse("*:0;[::1]:5555", bind=False)
    assert wildcard.source is not None
    assert (wildcard.source.host, wildcard.source.family, wildcard.source.sockaddr) == (
        "*",
        0,
        None,
    )

    # Split on the last ';': the source may itself be an IPv6 literal with ':'s.
    v6 = _parse("[::1]:4000;[::1]:5555", bind=False)
    assert v6.source is not None
    assert v6.source.sockaddr == ("::1", 4000, 0, 0)

    named = _parse("127.0.0.1:0;localhost:5555", bind=False)
    assert (named.host, named.sockaddr) == ("localhost", None)


MALFORMED: list[tuple[str, bool, str]] = [
    # address, bind, what the message must say
    ("localhost:abc", False, "'abc' is not a port"),
    ("localhost:5x", False, "'5x' is not a port"),
    ("*:-1", True, "'-1' is not a port"),
    ("*:+5", True, "'+5' is not a port"),
    ("*: 5", True, "' 5' is not a port"),
    ("*:\uff15", True, "is not a port"),  # FULLWIDTH DIGIT FIVE
    ("*:70000", True, "port 70000 is out of the range 0..65535"),
    ("127.0.0.1:65536", False, "port 65536 is out of the range 0..65535"),
    ("localhost", False, "'localhost' has no ':port'"),
    ("*", True, "'*' has no ':port'"),
    ("", True, "has no ':port'"),
    ("localhost:", False, "the port after ':' is missing"),
    (":5555", True, "the host before ':' is missing"),
    ("127.0.0.1:0", False, "connect needs a real port, not '0'"),
    ("127.0.0.1:*", False, "connect needs a real port, not '*'"),
    ("*:5555", False, "'*' (any address) is only valid for bind"),
    ("[::1:5555", False, "the brackets in '[::1' are not balanced"),
    ("::1]:5555", False, "the brackets in '::1]' are not balanced"),
    ("[:5555", False, "are not balanced"),
    ("[]:5555", False, "the brackets [] hold no address"),
    ("[a[b]:5555", False, "stray bracket"),
    ("[localhost]:5555", False, "'localhost' is not a valid IPv6 address"),
    ("1:2:3:5555", False, "'1:2:3' is not a valid IPv6 address"),
    ("[fe80::1%]:5555", False, "the zone id after '%' in 'fe80::1%' is empty"),
    ("[fe80::1%nosuchif9]:5555", False, "the zone id 'nosuchif9' is not a network interface"),
    ("bad_host!:5555", False, "'bad_host!' is not a valid host name"),
    ("-bad.example:5555", False, "'-bad.example' is not a valid host name"),
    ("a..b:5555", False, "'a..b' is not a valid host name"),
    ("127.0.0.1:1;127.0.0.1:5555", True, "a source address (src;dst) is only valid for connect"),
    (";127.0.0.1:5555", False, "the source address before ';' is empty"),
    ("127.0.0.1:1;", False, "'' has no ':port'"),
    ("127.0.0.1:x;127.0.0.1:5555", False, "'x' is not a port"),
    ("127.0.0.1:1;[::1]:5555", False, "are not the same address family"),
]


@pytest.mark.parametrize(("address", "bind", "problem"), MALFORMED)
def test_malformed_endpoints(address: str, bind: bool, problem: str) -> None:
    with pytest.raises(EndpointError) as info:
        _parse(address, bind=bind)
    message = str(info.value)
    assert message.startswith(f"tcp://{address}: ")
    assert problem in message
    assert "expected tcp://host:port such as tcp://" in message
    assert info.value.errno == errno.EINVAL


def test_unresolvable_bind_name_is_enodev(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(EndpointError) as info:
        _parse("no-such-interface-or-host:5555", bind=True)
    assert "'no-such-interface-or-host' is neither an IP address, a network interface" in str(
        info.value
    )
    assert info.value.errno == errno.ENODEV


def test_connect_parse_does_no_name_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parse must not resolve names for connect")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert _parse("db.example.com:5555", bind=False).sockaddr is None
