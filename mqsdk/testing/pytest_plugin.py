"""The ``mqsdk.testing`` pytest plugin (entry point ``pytest11``, installed with mqsdk).

It adds one option and one fixture, and nothing else unless asked:

* ``--mqsdk-transport=MODULE:NAME`` names a
  :class:`~mqsdk.testing.transports.TransportUnderTest` (or a function returning one);
  the transport conformance battery is then added to the collected tests, run against it.
* the ``mqsdk_transport`` fixture returns that object. A ``conftest.py`` can define its own
  ``mqsdk_transport`` fixture instead, and a test module collects the battery with
  ``from mqsdk.testing.transports import TransportConformance as TestConformance``.

This module imports only pytest and the standard library at start-up: the battery is
imported when a test needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

OPTION = "--mqsdk-transport"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mqsdk", "mqsdk transport conformance kit")
    group.addoption(
        OPTION,
        metavar="MODULE:NAME",
        default=None,
        help="run the mqsdk transport conformance battery against the TransportUnderTest "
        "(or the function returning one) named MODULE:NAME",
    )


def _load(spec: str) -> Any:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise pytest.UsageError(f"{OPTION}={spec}: expected MODULE:NAME")
    try:
        target: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"{OPTION}={spec}: cannot load it: {exc}") from None
    if callable(target) and not hasattr(target, "scheme"):
        target = target()
    from mqsdk.testing.transports import TransportUnderTest

    if not isinstance(target, TransportUnderTest):
        raise pytest.UsageError(
            f"{OPTION}={spec} is a {type(target).__name__}, not a TransportUnderTest"
        )
    return target


@pytest.fixture(scope="session")
def mqsdk_transport(pytestconfig: pytest.Config) -> Any:
    """The transport under test, from ``--mqsdk-transport`` (override it in a conftest)."""
    spec = pytestconfig.getoption(OPTION)
    if spec is None:
        pytest.skip(f"no transport under test: give {OPTION}=MODULE:NAME or define the fixture")
    return _load(spec)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With the option, collect the battery as well, as ``mqsdk/testing/transports.py``."""
    spec = config.getoption(OPTION)
    if spec is None:
        return
    under_test = _load(spec)
    from pathlib import Path

    from mqsdk.testing import transports

    module = pytest.Module.from_parent(session, path=Path(transports.__file__))
    battery = type(
        f"Test{under_test.scheme.capitalize()}Conformance",
        (transports.TransportConformance,),
        {"__module__": transports.__name__},
    )
    module.obj.__dict__.setdefault(battery.__name__, battery)
    items.extend(
        item
        for item in session.genitems(module)
        if isinstance(item, pytest.Function) and item.cls is battery
    )
