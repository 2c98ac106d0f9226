"""The kernel alone says what to install: its errors for a missing poller, transport or
socket type name the bundled distribution that provides it, and the table behind those
hints stays equal to what the bundled plugins really register.

(tests/install_paths runs the same errors in a venv that has only the kernel.)
"""

from __future__ import annotations

import tomllib

import pytest

import mqsdk
from mqsdk._kernel.install_hints import BUNDLED_PROVIDERS, POLLER_PLATFORMS
from mqsdk._kernel.registry import Registry
from mqsdk.config import load_config

from .conftest import REPO

BUNDLED = {
    tomllib.loads(path.read_text())["project"]["name"]: path.parent.name
    for path in REPO.glob("plugins/*/pyproject.toml")
}


def kernel_alone() -> Registry:
    """A registry that found no plugin distribution: what ``pip install .`` gives."""
    return Registry(load_config(environ={}), entry_points=[])


def test_hint_table_is_what_the_bundled_plugins_register() -> None:
    registry = Registry(load_config(environ={}), strict=False)
    registered = {
        (component.kind, component.name): component.plugin.distribution
        for component in registry.components()
        if component.plugin.distribution in BUNDLED
    }
    assert set(BUNDLED) <= set(registered.values()), "a bundled plugin is not installed here"
    table = {
        (kind, name): distribution
        for kind, providers in BUNDLED_PROVIDERS.items()
        for name, distribution in providers.items()
    }
    assert table == registered
    assert set(POLLER_PLATFORMS) == set(BUNDLED_PROVIDERS["poller"])


def test_no_poller_names_the_poller_distributions_and_the_bundled_set() -> None:
    with pytest.raises(mqsdk.ConfigError) as caught:
        kernel_alone().choose_poller()
    message = str(caught.value)
    assert message.startswith("no poller backend can run")
    for distribution in BUNDLED_PROVIDERS["poller"].values():
        assert distribution in message
    assert "pip install plugins/poller-epoll" in message
    assert "pip install -r requirements.txt" in message


def test_missing_socket_type_names_its_distribution() -> None:
    with pytest.raises(mqsdk.PluginError) as caught:
        kernel_alone().pattern(mqsdk.PULL)
    assert "mqsdk-pattern-pipeline" in str(caught.value)
    assert "pip install plugins/pattern-pipeline" in str(caught.value)
    with pytest.raises(mqsdk.PluginError) as caught:
        kernel_alone().pattern("dish")
    assert "mqsdk-pattern-radiodish" in str(caught.value)


def test_missing_transport_names_its_distribution_and_what_it_needs() -> None:
    with pytest.raises(mqsdk.UnsupportedTransport) as caught:
        kernel_alone().transport("epgm")
    assert "mqsdk-transport-pgm" in str(caught.value)
    with pytest.raises(mqsdk.UnsupportedTransport) as caught:
        kernel_alone().transport("wss")
    # Neither is on a package index: pip finds transport-tcp only if it is named too.
    assert "pip install plugins/transport-tcp plugins/transport-ws" in str(caught.value)


def test_a_name_no_bundled_plugin_provides_gets_no_hint() -> None:
    with pytest.raises(mqsdk.UnsupportedTransport) as caught:
        kernel_alone().transport("carrier-pigeon")
    assert "pip install" not in str(caught.value)
    with pytest.raises(mqsdk.PluginError) as caught:
        kernel_alone().pattern(99)
    assert "pip install" not in str(caught.value)


def test_getting_started_lists_every_bundled_plugin_folder() -> None:
    page = (REPO / "docs" / "getting-started.md").read_text()
    missing = sorted(folder for folder in BUNDLED.values() if f"`{folder}`" not in page)
    assert not missing, f"docs/getting-started.md does not list {missing}"


def test_a_disabled_plugin_is_not_sent_to_be_installed() -> None:
    """Its distribution is installed: the error says the configuration left it out."""
    registry = Registry(load_config(environ={"MQSDK_DISABLE_PLUGINS": "pipeline,ws"}))
    with pytest.raises(mqsdk.PluginError) as caught:
        registry.pattern(mqsdk.PUSH)
    assert "plugin 'pipeline' (mqsdk-pattern-pipeline) is disabled" in str(caught.value)
    assert "pip install" not in str(caught.value)
    with pytest.raises(mqsdk.UnsupportedTransport) as caught:
        registry.transport("wss")
    assert "plugin 'ws' (mqsdk-transport-ws) is disabled" in str(caught.value)
    assert "pip install" not in str(caught.value)
