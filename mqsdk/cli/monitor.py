"""``mqsdk monitor ENDPOINT``: watch a socket's lifecycle events as they happen.

A socket of ``--type`` (default DEALER) connects to ENDPOINT (or binds it, with
``--bind``) and every monitor event is printed: time, event name, endpoint, value
(an fd, errno or interval, as in libzmq). It runs until interrupted, or until
``--count`` events or ``--timeout`` seconds without one.

    mqsdk monitor tcp://127.0.0.1:5555                  # connect, watch (re)connections
    mqsdk monitor --bind tcp://*:5555 --type PULL       # watch peers come and go
    mqsdk monitor tcp://127.0.0.1:5555 --json           # one JSON object per line
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from mqsdk.cli.cat import UsageError, add_socket_arguments, open_socket, socket_type
from mqsdk.errors import Again


def cmd_monitor(args: argparse.Namespace) -> int:
    import mqsdk
    from mqsdk.monitor import Event, recv_monitor_message

    ctx = mqsdk.Context()
    try:
        type_name = socket_type(args.type)
        sock = open_socket(ctx, type_name, args, bind_connect=False)
        monitor = sock.get_monitor_socket()
        if args.timeout is not None:
            monitor.rcvtimeo = int(args.timeout * 1000)
        for endpoint in args.bind:
            sock.bind(endpoint)
        for endpoint in [*args.endpoint, *args.connect]:
            sock.connect(endpoint)
        if not args.bind and not args.endpoint and not args.connect:
            raise UsageError("give the ENDPOINT to connect to, or --bind ENDPOINT")
        seen = 0
        while args.count is None or seen < args.count:
            try:
                event = recv_monitor_message(monitor)
            except Again:
                return 0 if args.count is None else 1
            if event.event is Event.MONITOR_STOPPED:
                return 0
            seen += 1
            now = time.time()
            name = event.event.name or str(int(event.event))
            if args.json:
                line = json.dumps(
                    {
                        "time": round(now, 6),
                        "event": name,
                        "endpoint": event.endpoint,
                        "value": event.value,
                    }
                )
            else:
                stamp = (
                    time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
                )
                line = f"{stamp}  {name:<26} {event.endpoint}  {event.value}"
            print(line, flush=True)
        return 0
    except UsageError as exc:
        print(f"mqsdk monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.destroy(linger=0)


def register(sub: Any) -> None:
    monitor = sub.add_parser(
        "monitor",
        help="print a socket's connection events as they happen",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    monitor.add_argument("endpoint", nargs="*", metavar="ENDPOINT", help="connect here")
    monitor.add_argument("-t", "--type", default="DEALER", help="socket type (default DEALER)")
    add_socket_arguments(monitor)
    monitor.add_argument("-n", "--count", type=int, metavar="N", help="stop after N events")
    monitor.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop after this long without an event"
    )
    monitor.add_argument("--json", action="store_true", help="one JSON object per event")
    monitor.set_defaults(func=cmd_monitor)
