"""What to install when a poller, transport, pattern or mechanism is missing, or the
plugin that declares an option.

The kernel alone (``pip install .``) has no poller, no transport and no socket type: every
one is a plugin distribution of its own. An error that only says "none usable" leaves a
newcomer guessing, so the errors for a missing component name the bundled distribution
that provides it. tests/test_install_hints.py keeps the table equal to what the bundled
plugins really register.
"""

from __future__ import annotations

from mqsdk._kernel.options import BUNDLED_PLUGIN_OPTIONS

# kind -> component name -> the bundled distribution that provides it. The folder in the
# source tree is the distribution's name without "mqsdk-" (plugins/transport-tcp).
BUNDLED_PROVIDERS: dict[str, dict[str, str]] = {
    "poller": {
        "epoll": "mqsdk-poller-epoll",
        "kqueue": "mqsdk-poller-kqueue",
        "poll": "mqsdk-poller-poll",
        "select": "mqsdk-poller-select",
    },
    "transport": {
        "tcp": "mqsdk-transport-tcp",
        "ipc": "mqsdk-transport-ipc",
        "inproc": "mqsdk-transport-inproc",
        "udp": "mqsdk-transport-udp",
        "pgm": "mqsdk-transport-pgm",
        "epgm": "mqsdk-transport-pgm",
        "tipc": "mqsdk-transport-tipc",
        "vmci": "mqsdk-transport-vmci",
        "ws": "mqsdk-transport-ws",
        "wss": "mqsdk-transport-ws",
    },
    "pattern": {
        "PAIR": "mqsdk-pattern-pair",
        "PUB": "mqsdk-pattern-pubsub",
        "SUB": "mqsdk-pattern-pubsub",
        "XPUB": "mqsdk-pattern-pubsub",
        "XSUB": "mqsdk-pattern-pubsub",
        "REQ": "mqsdk-pattern-reqrep",
        "REP": "mqsdk-pattern-reqrep",
        "DEALER": "mqsdk-pattern-reqrep",
        "ROUTER": "mqsdk-pattern-reqrep",
        "PULL": "mqsdk-pattern-pipeline",
        "PUSH": "mqsdk-pattern-pipeline",
        "STREAM": "mqsdk-pattern-stream",
        "SERVER": "mqsdk-pattern-clientserver",
        "CLIENT": "mqsdk-pattern-clientserver",
        "RADIO": "mqsdk-pattern-radiodish",
        "DISH": "mqsdk-pattern-radiodish",
        "GATHER": "mqsdk-pattern-scattergather",
        "SCATTER": "mqsdk-pattern-scattergather",
        "PEER": "mqsdk-pattern-peer",
        "CHANNEL": "mqsdk-pattern-peer",
    },
    "mechanism": {
        "PLAIN": "mqsdk-mechanism-plain",
        "CURVE": "mqsdk-mechanism-curve",
    },
}

# Where each bundled poller runs, so the no-poller error can say which one to pick.
POLLER_PLATFORMS = {
    "epoll": "Linux",
    "kqueue": "macOS, BSD",
    "poll": "POSIX",
    "select": "anywhere",
}

EVERY_BUNDLED_PLUGIN = "pip install -r requirements.txt installs every bundled plugin"


# A bundled plugin that needs another one: neither is on a package index, so pip can only
# find the other if it is named in the same command (or installed already).
NEEDS = {"mqsdk-transport-ws": ("mqsdk-transport-tcp",)}


def _from_source(distribution: str) -> str:
    folders = [d.removeprefix("mqsdk-") for d in (*NEEDS.get(distribution, ()), distribution)]
    return "pip install " + " ".join(f"plugins/{folder}" for folder in folders)


def install_hint(kind: str, name: str | None) -> str:
    """A sentence naming what to install for a missing component, or ``""`` when no
    bundled distribution provides it (a third-party name: nothing useful to suggest)."""
    if kind == "poller" and name is None:
        choices = ", ".join(
            f"{BUNDLED_PROVIDERS['poller'][poller]} ({where})"
            for poller, where in POLLER_PLATFORMS.items()
        )
        return (
            f"the kernel has no poller of its own: install a poller plugin that runs on "
            f"this system: {choices}; from mqsdk's source tree: "
            f"{_from_source('mqsdk-poller-epoll')} (or another), or {EVERY_BUNDLED_PLUGIN}"
        )
    if name is None:
        return ""
    distribution = BUNDLED_PROVIDERS.get(kind, {}).get(name)
    if distribution is None:
        return ""
    return (
        f"{kind} {name} comes with the plugin distribution {distribution}; from mqsdk's "
        f"source tree: {_from_source(distribution)} (or {EVERY_BUNDLED_PLUGIN})"
    )


# One example of each kind a socket needs, for the note ``mqsdk plugins`` prints when a
# kind is missing: the smallest install that runs a PUSH/PULL over tcp.
SMALLEST_WORKING_SET = {
    "poller": "mqsdk-poller-epoll",
    "transport": "mqsdk-transport-tcp",
    "pattern": "mqsdk-pattern-pipeline",
}


def missing_kinds_hint(missing: list[str]) -> str:
    """What to install when no usable plugin of these kinds (poller, transport, pattern)
    exists: a socket needs one of each."""
    kinds = " or ".join(f"no usable {kind}" for kind in missing)
    example = " ".join(
        f"plugins/{SMALLEST_WORKING_SET[kind].removeprefix('mqsdk-')}" for kind in missing
    )
    return (
        f"{kinds}: a socket needs a poller, a transport and a pattern, each a plugin "
        f"distribution of its own (the kernel alone has none); from mqsdk's source tree: "
        f"{EVERY_BUNDLED_PLUGIN}, or name them, e.g. pip install {example}"
    )


def option_install_hint(name: str) -> str:
    """`` (it is declared by the mqsdk-mechanism-curve plugin, ...)`` for an option of a
    bundled transport or mechanism whose plugin is missing, else ``""``. (A pattern's
    option is missing because the socket is of another type, not because a plugin is.)"""
    for distribution, numbers in BUNDLED_PLUGIN_OPTIONS.items():
        if name in numbers and "-pattern-" not in distribution:
            return (
                f" (it is declared by the {distribution} plugin, which is not installed "
                f"or is disabled; from mqsdk's source tree: {_from_source(distribution)})"
            )
    return ""
