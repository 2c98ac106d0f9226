"""mqsdk.plugin, the import surface for plugin authors: every name it exports is the
kernel's own object (a re-export, never a copy), and its version is a tuple."""

from __future__ import annotations

import importlib

import pytest

import mqsdk.plugin

# Where each exported name lives in the kernel today.
HOMES = {
    "Availability": "mqsdk.component",
    "Component": "mqsdk.component",
    "Distributor": "mqsdk.distributor",
    "EFSM": "mqsdk.errors",
    "ENOCOMPATPROTO": "mqsdk.errors",
    "GROUP_MAX_LENGTH": "mqsdk.frame",
    "IoThread": "mqsdk.handle",
    "Flag": "mqsdk.options",
    "Millis": "mqsdk.options",
    "action": "mqsdk.options",
    "NonNegative": "mqsdk.options",
    "PollerError": "mqsdk.errors",
    "SocketHandle": "mqsdk.handle",
    "TimerHandle": "mqsdk.handle",
    "ZapReply": "mqsdk.mechanism",
    "ZapRequest": "mqsdk.mechanism",
    "check_events": "mqsdk.poller",
    "z85_decode": "mqsdk.z85",
    "z85_encode": "mqsdk.z85",
    "ERROR": "mqsdk.poller",
    "EndpointError": "mqsdk.errors",
    "FairQueue": "mqsdk.routing",
    "FilteringFairQueue": "mqsdk.routing",
    "Publisher": "mqsdk.distributor",
    "Receiver": "mqsdk.routing",
    "Sender": "mqsdk.routing",
    "LoadBalancer": "mqsdk.routing",
    "MQError": "mqsdk.errors",
    "Mechanism": "mqsdk.mechanism",
    "Message": "mqsdk.pipe",
    "MessageTransport": "mqsdk.transport",
    "OptionModel": "mqsdk.options",
    "Pattern": "mqsdk.pattern",
    "PeerInfo": "mqsdk.pipe",
    "Pipe": "mqsdk.pipe",
    "PollerBackend": "mqsdk.poller",
    "ProtocolError": "mqsdk.errors",
    "READ": "mqsdk.poller",
    "Registry": "mqsdk.registry",
    "StreamTransport": "mqsdk.transport",
    "SubscriptionTrie": "mqsdk.subscriptions",
    "Transport": "mqsdk.transport",
    "WRITE": "mqsdk.poller",
    "get_registry": "mqsdk.registry",
    "hookimpl": "mqsdk.hookspecs",
    "option": "mqsdk.options",
    "start_connect": "mqsdk.transport",
}


def test_every_exported_name_has_a_known_home() -> None:
    exported = set(mqsdk.plugin.__all__) - {"API_VERSION"}
    assert exported == set(HOMES), "update HOMES (and the module docstring) with the change"
    assert len(mqsdk.plugin.__all__) == len(set(mqsdk.plugin.__all__)), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(HOMES))
def test_name_is_the_kernel_object(name: str) -> None:
    home = importlib.import_module(HOMES[name])
    assert getattr(mqsdk.plugin, name) is getattr(home, name)


def test_star_import_gives_exactly_the_surface() -> None:
    namespace: dict[str, object] = {}
    exec("from mqsdk.plugin import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(mqsdk.plugin.__all__)


def test_api_version_is_a_tuple_of_ints() -> None:
    version = mqsdk.plugin.API_VERSION
    assert isinstance(version, tuple) and len(version) == 2
    assert all(type(part) is int and part >= 0 for part in version)
    assert version[0] >= 1
