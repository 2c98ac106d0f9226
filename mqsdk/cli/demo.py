"""``mqsdk demo``: every seed pattern over every transport this host has, as a table.

Each cell (pattern x transport) gets a fresh context, binds one socket on a loopback
endpoint of that transport, connects its peer to the bound ``last_endpoint``, moves
``--count`` messages and checks every one arrived, in order and unchanged. A cell has a
deadline (``--timeout``): its sockets time out by then, and a cell still running after it
(a transport stuck in ``bind``) is abandoned in its daemon thread and reported as failed.

Outcomes: ``ok``; ``failed`` (should have worked and did not: exit status 1);
``unavailable`` (the transport or pattern cannot run on this host, with the plugin's
reason); ``n/a`` (the transport cannot carry this pattern, e.g. a datagram transport).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mqsdk import kernel_info
from mqsdk.errors import ENOCOMPATPROTO, MQError, UnsupportedTransport

# The seed patterns: (label, binding type, connecting type).
PATTERNS: list[tuple[str, str, str]] = [
    ("REQ/REP", "REP", "REQ"),
    ("PUB/SUB", "PUB", "SUB"),
    ("PUSH/PULL", "PULL", "PUSH"),
    ("PAIR", "PAIR", "PAIR"),
]


@dataclass
class Cell:
    pattern: str
    transport: str
    outcome: str = "ok"  # ok | failed | unavailable | n/a
    reason: str = ""
    sent: int = 0
    received: int = 0
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return self.outcome if not self.reason else f"{self.outcome}: {self.reason}"


def _host_blocker(transport_cls: type[Any]) -> str:
    """Why this host cannot talk to itself over a transport that is otherwise available.

    A transport module may offer ``loopback() -> Availability`` for that (vmci does: a
    guest can reach its host without being able to reach itself).
    """
    probe = getattr(sys.modules.get(transport_cls.__module__), "loopback", None)
    if callable(probe):
        try:
            answer = probe()
        except Exception as exc:  # a probe must not take the demo down
            return f"loopback probe failed: {exc}"
        if hasattr(answer, "ok") and not answer.ok:
            return str(answer.reason)
    return ""


def _exchange(
    cell: Cell,
    bind_type: str,
    connect_type: str,
    endpoint: str,
    to_connect: Callable[[str], str],
    count: int,
    deadline: float,
) -> None:
    import mqsdk

    ctx = mqsdk.Context()
    try:
        millis = max(1, int((deadline - time.monotonic()) * 1000))
        server, client = ctx.socket(bind_type), ctx.socket(connect_type)
        for sock in (server, client):
            sock.set("linger", 0)
            sock.set("rcvtimeo", millis)
            sock.set("sndtimeo", millis)
            if cell.pattern == "PUB/SUB":  # a PUB drops above its HWM: leave room for all
                sock.set("sndhwm", count + 10)
                sock.set("rcvhwm", count + 10)
        try:
            server.bind(endpoint)
            if connect_type == "SUB":
                client.subscribe(b"")
            client.connect(to_connect(server.last_endpoint.decode()))
        except MQError as exc:
            if exc.errno == ENOCOMPATPROTO:  # the endpoint differs per cell: keep one note
                cell.outcome, cell.reason = (
                    "n/a",
                    str(exc).replace(endpoint, f"{cell.transport}://"),
                )
                return
            raise
        messages = [b"demo %d" % n for n in range(count)]
        if cell.pattern == "PUB/SUB" and not server.wait_for_subscribers(
            1, timeout=max(0.0, deadline - time.monotonic())
        ):
            raise MQError("no subscriber arrived before the timeout")
        start = time.perf_counter()
        got: list[bytes] = []
        if cell.pattern == "REQ/REP":
            for message in messages:
                client.send(message)
                cell.sent += 1
                server.send(server.recv())
                got.append(client.recv())
                cell.received += 1
        elif cell.pattern == "PAIR":  # both directions, count messages each way
            got = _one_way(cell, client, server, messages) + _one_way(
                cell, server, client, messages
            )
            messages = messages * 2
        elif cell.pattern == "PUB/SUB":
            got = _one_way(cell, server, client, messages)
        else:
            got = _one_way(cell, client, server, messages)
        cell.seconds = time.perf_counter() - start
        if got != messages:
            raise MQError("messages arrived changed or out of order")
    finally:
        ctx.destroy(linger=0)


def _one_way(cell: Cell, sender: Any, receiver: Any, messages: list[bytes]) -> list[bytes]:
    """Send every message, then receive as many; counted in the cell as they go."""
    for message in messages:
        sender.send(message)
        cell.sent += 1
    got = []
    for _ in messages:
        got.append(receiver.recv())
        cell.received += 1
    return got


def run_cell(
    pattern: tuple[str, str, str],
    scheme: str,
    registry: Any,
    count: int,
    timeout: float,
    tmp: str,
    n: int,
) -> Cell:
    label, bind_type, connect_type = pattern
    cell = Cell(label, scheme)
    component = registry.find_component("transport", scheme)
    if component is None:
        cell.outcome, cell.reason = "unavailable", f"no {scheme} transport plugin is loaded"
        return cell
    if not component.availability.ok:
        cell.outcome, cell.reason = "unavailable", component.availability.reason
        return cell
    transport = component.cls
    for type_name in {bind_type, connect_type}:
        if type_name not in registry.patterns:
            cell.outcome, cell.reason = "unavailable", f"no pattern plugin for {type_name}"
            return cell
    types = getattr(transport, "socket_types", None)  # a transport may declare what it carries
    if types is not None and not {bind_type, connect_type} <= {str(t).upper() for t in types}:
        cell.outcome = "n/a"
        cell.reason = f"{scheme} carries {', '.join(sorted(map(str, types)))} only"
        return cell
    template = transport.loopback_endpoint
    if template is None:
        cell.outcome = "n/a"
        cell.reason = (
            f"{scheme}:// declares no loopback_endpoint (it needs a network, such as "
            "multicast, or settings the demo lacks); its own plugin tests it"
        )
        return cell
    blocker = _host_blocker(transport)
    if blocker:
        cell.outcome, cell.reason = "unavailable", blocker
        return cell
    endpoint = template.format(tmp=tmp, n=n)
    deadline = time.monotonic() + timeout
    failure: list[str] = []

    def work() -> None:
        try:
            _exchange(
                cell,
                bind_type,
                connect_type,
                endpoint,
                transport.loopback_connect_endpoint,
                count,
                deadline,
            )
        except UnsupportedTransport as exc:
            failure.append(f"unavailable:{exc}")
        except Exception as exc:  # reported in the table, never a traceback
            failure.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=work, name=f"demo {label} {scheme}", daemon=True)
    worker.start()
    worker.join(timeout + 2.0)  # sockets time out at the deadline; 2 s more to clean up
    if worker.is_alive():
        cell.outcome, cell.reason = "failed", f"still running after {timeout:g} s"
    elif failure:
        reason = failure[0]
        if reason.startswith("unavailable:"):
            cell.outcome, cell.reason = "unavailable", reason.removeprefix("unavailable:")
        else:
            cell.outcome, cell.reason = "failed", reason
    return cell


def cmd_demo(args: argparse.Namespace) -> int:
    from mqsdk._kernel.registry import Registry
    from mqsdk.cli.output import print_table, progress
    from mqsdk.config import load_config

    registry = Registry(load_config(), strict=False)
    schemes = sorted(c.name for c in registry.components("transport"))
    patterns = PATTERNS
    if args.transport:
        unknown = sorted(set(args.transport) - set(schemes))
        if unknown:
            print(
                f"mqsdk demo: no transport named {', '.join(unknown)}; installed: "
                f"{', '.join(schemes)}",
                file=sys.stderr,
            )
            return 2
        schemes = [s for s in schemes if s in args.transport]
    if args.pattern:
        wanted = {p.upper() for p in args.pattern}
        patterns = [p for p in PATTERNS if p[0] in wanted or p[1] in wanted or p[2] in wanted]
    cells: list[Cell] = []
    with (
        tempfile.TemporaryDirectory(prefix="mqsdk-demo-") as tmp,
        progress("demo", len(patterns) * len(schemes)) as bar,
    ):
        for pattern in patterns:
            for scheme in schemes:
                bar.describe(f"{pattern[0]} over {scheme}")
                cells.append(
                    run_cell(pattern, scheme, registry, args.count, args.timeout, tmp, len(cells))
                )
                bar.advance()
    failed = [c for c in cells if c.outcome == "failed"]
    if args.json:
        print(json.dumps([{**asdict(c), "status": c.status} for c in cells], indent=2))
    else:
        notes: list[str] = []  # a reason shared by many cells is printed once, below

        def result(c: Cell) -> str:
            if c.outcome in ("ok", "failed"):
                return c.status
            if c.reason not in notes:
                notes.append(c.reason)
            return f"{c.outcome} [{notes.index(c.reason) + 1}]"

        rows = [
            {
                "pattern": c.pattern,
                "transport": c.transport,
                "sent": c.sent if c.outcome in ("ok", "failed") else "-",
                "received": c.received if c.outcome in ("ok", "failed") else "-",
                "time": f"{c.seconds * 1000:.1f} ms" if c.outcome == "ok" else "",
                "result": result(c),
            }
            for c in cells
        ]
        print_table(
            rows,
            ["pattern", "transport", "sent", "received", "time", "result"],
            styles={"ok": "green", "failed": "bold red", "n/a": "dim", "unavailable": "yellow"},
        )
        for number, note in enumerate(notes, 1):
            print(f"[{number}] {note}")
        ok = sum(c.outcome == "ok" for c in cells)
        skipped = len(cells) - ok - len(failed)
        # Whether the install carries the compiled kernel is the first thing to know
        # about the numbers above (and what .ci/quickstart checks).
        print(f"kernel: {kernel_info().detail}")
        print(f"{ok} ok, {len(failed)} failed, {skipped} not run here (n/a or unavailable)")
    for error in registry.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if failed or registry.errors else 0


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run every seed pattern over every transport this host has",
        description="Run each seed pattern (REQ/REP, PUB/SUB, PUSH/PULL, PAIR) over every "
        "transport installed and show pattern, transport, messages sent and received, time, "
        "and ok or why not. Exit status 1 if anything that should work did not.",
    )
    demo.add_argument("--count", type=int, default=200, help="messages per cell (default 200)")
    demo.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per cell before it fails (default 10)"
    )
    demo.add_argument(
        "--transport", action="append", metavar="SCHEME", help="only this transport (repeatable)"
    )
    demo.add_argument(
        "--pattern", action="append", metavar="NAME", help="only this pattern, e.g. PUB/SUB or REQ"
    )
    demo.add_argument("--json", action="store_true", help="print a JSON list of cells")
    demo.set_defaults(func=cmd_demo)
