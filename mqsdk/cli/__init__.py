"""The ``mqsdk`` command: the parser and dispatch, ``mqsdk plugins``, ``mqsdk doctor``.

Larger subcommands live in their own modules (``mqsdk/cli/<name>.py``), each with a
``register(subparsers)`` function called from :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import mqsdk
from mqsdk.cli import bench
from mqsdk.cli import cat as cli_cat
from mqsdk.cli import demo as cli_demo
from mqsdk.cli import monitor as cli_monitor
from mqsdk.cli import run_as_zmq as cli_run_as_zmq
from mqsdk.cli.output import plain_table as _table
from mqsdk.errors import MQError

if TYPE_CHECKING:
    from mqsdk._kernel.registry import Registry

# The registry and the configuration (pluggy, pydantic) are imported by the subcommands
# that need them, so ``mqsdk --version`` and ``mqsdk --help`` start at once.


def plugin_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per component (or per plugin that provides none we could see)."""
    rows: list[dict[str, Any]] = []
    for info in sorted(registry.plugins.values(), key=lambda i: (not i.builtin, i.name)):
        base = {
            "plugin": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "enabled": info.status == "loaded",
            "status": info.status,
        }
        described: list[tuple[str, str, Any]] = []
        if info.status == "loaded":
            described = [(c.kind, c.name, c.availability) for c in info.components]
        elif info.status in ("disabled", "not selected"):
            try:
                from mqsdk._kernel.registry import describe_inactive

                described = describe_inactive(info)
            except Exception as exc:
                rows.append(
                    {
                        **base,
                        "kind": "plugin",
                        "name": info.name,
                        "available": False,
                        "reason": f"{info.why}; import failed: {type(exc).__name__}: {exc}",
                    }
                )
                continue
        if not described:
            rows.append(
                {
                    **base,
                    "kind": "plugin",
                    "name": info.name,
                    "available": info.status != "error",
                    "reason": info.why,
                }
            )
            continue
        for kind, name, availability in described:
            reasons = [r for r in (availability.reason, info.why) if r]
            rows.append(
                {
                    **base,
                    "kind": kind,
                    "name": name,
                    "available": availability.ok,
                    "reason": "; ".join(reasons),
                }
            )
    kinds = ["mechanism", "poller", "transport", "pattern", "plugin"]
    rows.sort(key=lambda r: (kinds.index(r["kind"]) if r["kind"] in kinds else 9, r["plugin"]))
    return rows


def cmd_plugins(args: argparse.Namespace) -> int:
    from mqsdk._kernel.registry import Registry
    from mqsdk.config import load_config

    registry = Registry(load_config(), strict=False)
    rows = plugin_rows(registry)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        shown = [
            {
                **row,
                "available": "yes" if row["available"] else "no",
                "enabled": "enabled" if row["enabled"] else row["status"],
            }
            for row in rows
        ]
        print(
            _table(
                shown,
                [
                    "kind",
                    "name",
                    "plugin",
                    "distribution",
                    "version",
                    "available",
                    "enabled",
                    "reason",
                ],
            )
        )
    missing = [
        kind
        for kind in ("poller", "transport", "pattern")
        if not any(c.availability.ok for c in registry.components(kind))
    ]
    if missing:
        from mqsdk._kernel.install_hints import missing_kinds_hint

        # stderr: --json output stays machine-readable.
        print(f"note: {missing_kinds_hint(missing)}", file=sys.stderr)
    for error in registry.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if registry.errors else 0


def _host_features() -> dict[str, bool]:
    return {
        "ipv6": socket.has_ipv6,
        "unix_sockets": hasattr(socket, "AF_UNIX"),
        "abstract_unix_namespace": sys.platform.startswith("linux"),
        "eventfd": hasattr(os, "eventfd"),
        "af_tipc_constant": hasattr(socket, "AF_TIPC"),
        "af_vsock_constant": hasattr(socket, "AF_VSOCK"),
    }


def cmd_doctor(args: argparse.Namespace) -> int:
    from mqsdk._kernel.registry import Registry
    from mqsdk.config import load_config

    loaded = load_config()
    registry = Registry(loaded, strict=False)
    kernel = mqsdk.kernel_info()
    report: dict[str, Any] = {
        "mqsdk": mqsdk.__version__,
        "kernel": {
            "compiled": kernel.compiled,
            "detail": kernel.detail,
            "path": os.path.dirname(mqsdk.__file__),
        },
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "config_file": str(loaded.file) if loaded.file else None,
        "settings": {
            name: {"value": getattr(loaded.config, name), "from": loaded.source_of(name)}
            for name in type(loaded.config).model_fields
        },
        "host": _host_features(),
        "errors": [str(e) for e in registry.errors],
    }
    auto = sorted(registry.pollers.values(), key=lambda c: (-c.priority, c.name))
    try:
        chosen = registry.choose_poller().name
        poller_error = None
    except MQError as exc:
        chosen, poller_error = None, str(exc)
    report["poller"] = {
        "configured": loaded.config.poller,
        "from": loaded.source_of("poller"),
        "selected": chosen,
        "auto_would_pick": auto[0].name if auto else None,
        "error": poller_error,
    }
    kinds: dict[str, dict[str, Any]] = {}
    for component in registry.components():
        entry = kinds.setdefault(component.kind, {"usable": [], "unavailable": {}})
        if component.availability.ok:
            entry["usable"].append(component.name)
        else:
            entry["unavailable"][component.name] = component.availability.reason
    report["components"] = kinds
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(
            f"mqsdk {report['mqsdk']} on {report['implementation']} {report['python']}, "
            f"{report['platform']}"
        )
        # Which kernel runs decides how fast everything is: the compiled modules or the
        # .py sources, and why (MQSDK_PURE_PYTHON, nothing compiled installed, stale).
        print(f"kernel: {kernel.detail} ({report['kernel']['path']})")
        print(f"configuration file: {report['config_file'] or 'none'}")
        poller = report["poller"]
        if chosen:
            print(
                f"poller: {chosen} (setting poller={poller['configured']!r} from "
                f"{poller['from']}; auto picks {poller['auto_would_pick']})"
            )
        else:
            print(f"poller: none usable: {poller_error}")
        for kind, entry in sorted(kinds.items()):
            print(f"{kind}s usable: {', '.join(sorted(entry['usable'])) or 'none'}")
            for name, reason in sorted(entry["unavailable"].items()):
                print(f"  {name}: unavailable: {reason}")
        features = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in report["host"].items())
        print(f"host: {features}")
        for error in report["errors"]:
            print(f"error: {error}")
    return 1 if registry.errors or poller_error else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqsdk",
        description="mqsdk: brokerless messaging in pure Python, wire-compatible with ZeroMQ.",
        epilog="'mqsdk COMMAND --help' shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"mqsdk {mqsdk.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list every discovered plugin and its state")
    plugins.add_argument("--json", action="store_true", help="print a JSON list")
    plugins.set_defaults(func=cmd_plugins)
    doctor = sub.add_parser("doctor", help="what this host supports and what would be used")
    doctor.add_argument("--json", action="store_true", help="print a JSON object")
    doctor.set_defaults(func=cmd_doctor)
    # Subcommands with their own module: one line each.
    cli_demo.register(sub)
    cli_cat.register(sub)
    cli_monitor.register(sub)
    bench.register(sub)
    cli_run_as_zmq.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run-as-zmq"] and argv[1:2] not in (["-h"], ["--help"]):
        # Everything after the script or module belongs to the program, options included.
        return cli_run_as_zmq.run(argv[1:])
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `mqsdk cat push --connect EP part1 part2`: positionals after options are more parts.
    if extra and hasattr(args, "parts") and not any(e.startswith("-") for e in extra):
        args.parts += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if threading.current_thread() is threading.main_thread():
        # `kill` ends cat/monitor like Ctrl-C: sockets closed, ipc files removed.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args))
    except MQError as exc:
        print(f"mqsdk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
