"""Run the poller conformance battery against every bundled poller backend.

The backends are found the way mqsdk finds them in production: through the entry points
of the installed plugin distributions. Entry points are read directly, not through the
registry, so that configuration (MQSDK_DISABLE_PLUGINS...) cannot quietly drop a backend
from the battery, and a broken unrelated plugin cannot stop it from running.
"""

from __future__ import annotations

from importlib import metadata

import pytest

from mqsdk._kernel.poller import PollerBackend
from mqsdk.testing.poller_conformance import PollerConformance

BUNDLED = ("epoll", "kqueue", "poll", "select")

# select() watches only fds below FD_SETSIZE (1024), and the process holds some already.
MANY_FDS = {"select": 500}


def _bundled_backends() -> tuple[dict[str, type[PollerBackend]], list[str]]:
    found: dict[str, type[PollerBackend]] = {}
    missing = []
    entry_points = {ep.name: ep for ep in metadata.entry_points(group="mqsdk.plugins")}
    for name in BUNDLED:
        ep = entry_points.get(name)
        if ep is None:
            missing.append(name)
            continue
        for cls in ep.load().mqsdk_pollers():
            found[cls.name] = cls
    return found, missing


BACKENDS, MISSING = _bundled_backends()


def test_every_bundled_backend_is_installed() -> None:
    assert not MISSING, (
        f"poller plugins not installed: {', '.join(MISSING)}; "
        f"run: pip install -e {' -e '.join(f'plugins/poller-{name}' for name in MISSING)}"
    )
    assert sorted(BACKENDS) == sorted(BUNDLED)


def test_priorities() -> None:
    expected = {"epoll": 40, "kqueue": 30, "poll": 20, "select": 10}
    assert {name: cls.priority for name, cls in BACKENDS.items()} == {
        name: expected[name] for name in BACKENDS
    }


def _conformance_class(cls: type[PollerBackend]) -> type[PollerConformance]:
    availability = cls.available()
    name = f"Test{cls.__name__}Conformance"
    namespace = {
        "backend_class": cls,
        "many_fds": MANY_FDS.get(cls.name, PollerConformance.many_fds),
        "pytestmark": pytest.mark.skipif(not availability, reason=availability.reason),
        "__module__": __name__,
        "__qualname__": name,
    }
    return type(name, (PollerConformance,), namespace)


globals().update({c.__name__: c for c in map(_conformance_class, BACKENDS.values())})
