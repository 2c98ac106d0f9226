"""Parsing of vmci:// endpoints: every form libzmq accepts, and the malformed ones."""

from __future__ import annotations

import errno

import pytest
from mqsdk_transport_vmci import VmciAddress, VmciTransport
from mqsdk_transport_vmci.address import CID_ANY, CID_LOCAL, PORT_ANY, format_sockaddr

from mqsdk.errors import EndpointError

MAX = 2**32 - 2


def _parse(address: str, *, bind: bool) -> VmciAddress:
    return VmciTransport().parse(address, bind=bind, options={})


def test_constants() -> None:
    assert CID_ANY == 0xFFFFFFFF
    assert PORT_ANY == 0xFFFFFFFF
    assert CID_LOCAL == 1  # VMADDR_CID_LOCAL, whether or not Python names it


Case = tuple[str, bool, tuple[int, int]]

VALID: list[Case] = [
    # address, bind, sockaddr (cid, port)
    ("3:5555", True, (3, 5555)),
    ("3:5555", False, (3, 5555)),
    ("2:1", False, (2, 1)),
    ("0:0", True, (0, 0)),
    ("0:0", False, (0, 0)),
    (f"{MAX}:{MAX}", True, (MAX, MAX)),
    (f"{MAX}:{MAX}", False, (MAX, MAX)),
    ("007:0042", False, (7, 42)),
    ("*:5555", True, (CID_ANY, 5555)),
    ("-1:5555", True, (CID_ANY, 5555)),
    ("@:5555", True, (CID_LOCAL, 5555)),
    ("@:5555", False, (CID_LOCAL, 5555)),
    ("*:*", True, (CID_ANY, PORT_ANY)),
    ("*:-1", True, (CID_ANY, PORT_ANY)),
    ("-1:-1", True, (CID_ANY, PORT_ANY)),
    ("@:*", True, (CID_LOCAL, PORT_ANY)),
    ("3:*", True, (3, PORT_ANY)),
]


@pytest.mark.parametrize(
    "case", VALID, ids=[f"{c[0]}-{'bind' if c[1] else 'connect'}" for c in VALID]
)
def test_valid_forms(case: Case) -> None:
    address, bind, sockaddr = case
    parsed = _parse(address, bind=bind)
    assert isinstance(parsed, VmciAddress)
    assert parsed.sockaddr == sockaddr
    assert (parsed.cid, parsed.port) == sockaddr


@pytest.mark.parametrize(
    ("sockaddr", "text"),
    [
        ((3, 5555), "vmci://3:5555"),
        ((CID_ANY, 5555), "vmci://*:5555"),
        ((CID_ANY, PORT_ANY), "vmci://*:*"),
        ((CID_LOCAL, 7), "vmci://1:7"),
    ],
)
def test_str_round_trips(sockaddr: tuple[int, int], text: str) -> None:
    address = VmciAddress(*sockaddr)
    assert str(address) == text
    assert "vmci://" + format_sockaddr(sockaddr) == text
    assert _parse(text.removeprefix("vmci://"), bind=True) == address


MALFORMED: list[tuple[str, bool, str]] = [
    # address, bind, part of the problem statement
    ("", True, "has no ':port'"),
    ("5555", True, "'5555' has no ':port'"),
    ("3", False, "has no ':port'"),
    (":5555", True, "the CID before ':' is missing"),
    ("3:", True, "the port after ':' is missing"),
    ("x:5555", True, "CID 'x' is not a decimal number, * or -1 or @"),
    ("3:http", False, "port 'http' is not a decimal number, * or -1"),
    ("-2:5555", True, "CID '-2' is not a decimal number"),
    ("3:-5", True, "port '-5' is not a decimal number"),
    ("+3:5555", True, "CID '+3' is not a decimal number"),
    (" 3:5555", True, "CID ' 3' is not a decimal number"),
    ("3:5555 ", True, "port '5555 ' is not a decimal number"),
    ("\u0663:5555", True, "is not a decimal number"),  # Arabic-Indic digit three
    ("0x3:5555", True, "CID '0x3' is not a decimal number"),
    ("@@:5555", True, "CID '@@' is not a decimal number"),
    ("1:2:3", True, "CID '1:2' is not a decimal number"),
    ("[1]:3", True, "CID '[1]' is not a decimal number"),
    (f"{2**32 - 1}:5555", True, "CID 4294967295 is out of the range 0..4294967294"),
    (f"3:{2**32}", True, "port 4294967296 is out of the range 0..4294967294"),
    ("*:5555", False, "connect needs a real CID, not '*' (bind only)"),
    ("-1:5555", False, "connect needs a real CID, not '-1'"),
    ("3:*", False, "connect needs a real port, not '*' (bind only)"),
    ("@:-1", False, "connect needs a real port, not '-1'"),
]


@pytest.mark.parametrize(
    ("address", "bind", "problem"),
    MALFORMED,
    ids=[f"{c[0]!r}-{'bind' if c[1] else 'connect'}" for c in MALFORMED],
)
def test_malformed_endpoints(address: str, bind: bool, problem: str) -> None:
    with pytest.raises(EndpointError) as info:
        _parse(address, bind=bind)
    message = str(info.value)
    assert message.startswith(f"vmci://{address}: ")
    assert problem in message
    example = "vmci://*:5555" if bind else "vmci://2:5555"
    assert f"expected vmci://CID:port such as {example}" in message
    assert info.value.errno == errno.EINVAL
