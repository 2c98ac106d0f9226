"""mqsdk.plugin, the import surface for plugin authors: every name it exports is the
kernel's own object (a re-export, never a copy), and its version is a tuple."""

from __future__ import annotations

import importlib

import pytest

import mqsdk.plugin

# Where each exported name lives in the kernel today.
HOMES = {
    "Availability": "mqsdk._kernel.component",
    "Component": "mqsdk._kernel.component",
    "Distributor": "mqsdk._kernel.distributor",
    "EFSM": "mqsdk.errors",
    "ENOCOMPATPROTO": "mqsdk.errors",
    "GROUP_MAX_LENGTH": "mqsdk._kernel.frame",
    "IoThread": "mqsdk._kernel.handle",
    "Flag": "mqsdk._kernel.options",
    "Millis": "mqsdk._kernel.options",
    "action": "mqsdk._kernel.options",
    "NonNegative": "mqsdk._kernel.options",
    "PollerError": "mqsdk.errors",
    "SocketHandle": "mqsdk._kernel.handle",
    "TimerHandle": "mqsdk._kernel.handle",
    "ZapReply": "mqsdk._kernel.mechanism",
    "ZapRequest": "mqsdk._kernel.mechanism",
    "check_events": "mqsdk._kernel.poller",
    "z85_decode": "mqsdk.z85",
    "z85_encode": "mqsdk.z85",
    "ERROR": "mqsdk._kernel.poller",
    "EndpointError": "mqsdk.errors",
    "FairQueue": "mqsdk._kernel.routing",
    "FilteringFairQueue": "mqsdk._kernel.routing",
    "Publisher": "mqsdk._kernel.distributor",
    "Receiver": "mqsdk._kernel.routing",
    "Sender": "mqsdk._kernel.routing",
    "LoadBalancer": "mqsdk._kernel.routing",
    "MQError": "mqsdk.errors",
    "Mechanism": "mqsdk._kernel.mechanism",
    "Message": "mqsdk._kernel.pipe",
    "MemoryPipe": "mqsdk._kernel.memory_pipe",
    "join_memory_pipes": "mqsdk._kernel.memory_pipe",
    "QueuedMessage": "mqsdk._kernel.pipe",
    "as_frames": "mqsdk._kernel.pipe",
    "MessageTransport": "mqsdk._kernel.transport",
    "OptionModel": "mqsdk._kernel.options",
    "Pattern": "mqsdk._kernel.pattern",
    "PeerInfo": "mqsdk._kernel.pipe",
    "Pipe": "mqsdk._kernel.pipe",
    "PollerBackend": "mqsdk._kernel.poller",
    "ProtocolError": "mqsdk.errors",
    "READ": "mqsdk._kernel.poller",
    "Registry": "mqsdk._kernel.registry",
    "StreamTransport": "mqsdk._kernel.transport",
    "SubscriptionTrie": "mqsdk._kernel.subscriptions",
    "Transport": "mqsdk._kernel.transport",
    "SingleFrameQueue": "mqsdk._kernel.routing",
    "RoutingIdTable": "mqsdk._kernel.routing",
    "TrafficCodec": "mqsdk._kernel.mechanism",
    "UpstreamPipes": "mqsdk._kernel.subscriptions",
    "WRITE": "mqsdk._kernel.poller",
    "get_registry": "mqsdk._kernel.registry",
    "hookimpl": "mqsdk.hookspecs",
    "option": "mqsdk._kernel.options",
    "start_connect": "mqsdk._kernel.transport",
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
