"""``mqsdk cat``: a command-line peer of any socket type, in the spirit of nngcat and zmqc.

    mqsdk cat push --connect tcp://127.0.0.1:5555 hello world     # one message, two parts
    mqsdk cat pull --bind tcp://*:5555 --count 1
    mqsdk cat sub --connect tcp://127.0.0.1:5556 --topic weather.
    mqsdk cat req --connect tcp://127.0.0.1:5557 ping              # prints the reply
    mqsdk cat rep --bind tcp://*:5557 --echo

What it sends: the positional arguments after the endpoints as the parts of one message
(``--file PATH`` adds a file's bytes as a part); with no data, PUSH, PUB and REQ send each
line of standard input as a message (``--stdin`` does the same for the other types).
What it prints: every message that arrives, in ``--format`` raw (parts separated by a
tab), hex, repr or json (one object per line), until ``--count`` messages or, with
``--timeout``, until nothing arrived for that many seconds. Types that both send and
receive (PAIR, DEALER...) receive after sending only when there was no data, or with
``--count`` or ``--timeout``.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from mqsdk.errors import Again, MQError

SOCKET_TYPES = [
    "PAIR",
    "PUB",
    "SUB",
    "REQ",
    "REP",
    "DEALER",
    "ROUTER",
    "PULL",
    "PUSH",
    "XPUB",
    "XSUB",
    "STREAM",
]
SEND_ONLY = {"PUSH", "PUB"}
RECEIVE_ONLY = {"PULL", "SUB"}
READS_STDIN_BY_DEFAULT = {"PUSH", "PUB", "REQ"}

# Command-line security option -> socket option name (set by the plain/curve plugins).
SECURITY_OPTIONS = {
    "plain_user": "plain_username",
    "plain_password": "plain_password",
    "plain_server": "plain_server",
    "curve_serverkey": "curve_serverkey",
    "curve_publickey": "curve_publickey",
    "curve_secretkey": "curve_secretkey",
    "curve_server": "curve_server",
}


class UsageError(Exception):
    """Bad command line: printed as ``mqsdk <cmd>: message``, exit status 2."""


# -- socket setup shared with ``mqsdk monitor`` ---------------------------------------------


def add_socket_arguments(parser: argparse.ArgumentParser) -> None:
    """--bind/--connect/--identity/--linger and the security options."""
    parser.add_argument(
        "-b", "--bind", action="append", default=[], metavar="ENDPOINT", help="bind here"
    )
    parser.add_argument(
        "-c", "--connect", action="append", default=[], metavar="ENDPOINT", help="connect here"
    )
    parser.add_argument("--identity", help="the socket's routing id (ZMQ_IDENTITY)")
    parser.add_argument(
        "--linger",
        type=int,
        help="ms to keep delivering queued messages after the end (default: --timeout, "
        "or until delivered)",
    )
    security = parser.add_argument_group("security (PLAIN and CURVE mechanisms)")
    security.add_argument("--plain-user", metavar="NAME", help="PLAIN client user name")
    security.add_argument("--plain-password", metavar="PASSWORD", help="PLAIN client password")
    security.add_argument("--plain-server", action="store_true", help="be the PLAIN server")
    security.add_argument("--curve-serverkey", metavar="Z85", help="the CURVE server's public key")
    security.add_argument("--curve-publickey", metavar="Z85", help="this CURVE client's public key")
    security.add_argument("--curve-secretkey", metavar="Z85", help="this socket's CURVE secret key")
    security.add_argument("--curve-server", action="store_true", help="be the CURVE server")


def socket_type(name: str) -> str:
    upper = name.upper()
    if upper not in SOCKET_TYPES:
        raise UsageError(f"unknown socket type {name!r}; one of: {', '.join(SOCKET_TYPES)}")
    return upper


def open_socket(
    ctx: Any, type_name: str, args: argparse.Namespace, *, bind_connect: bool = True
) -> Any:
    """A socket of ``type_name`` with the options from ``args``, bound and connected."""
    sock = ctx.socket(type_name)
    if args.identity is not None:
        sock.routing_id = args.identity.encode()
    if args.linger is not None:
        sock.linger = args.linger
    elif getattr(args, "timeout", None) is not None:
        sock.linger = int(args.timeout * 1000)
    for flag, option in SECURITY_OPTIONS.items():
        value = getattr(args, flag)
        if value in (None, False):
            continue
        try:
            sock.set(option, 1 if value is True else value.encode())
        except MQError as exc:
            sock.close(linger=0)
            raise UsageError(
                f"--{flag.replace('_', '-')} (socket option {option}): {exc}"
            ) from None
    if bind_connect:
        if not args.bind and not args.connect:
            sock.close(linger=0)
            raise UsageError("give at least one --bind or --connect endpoint")
        for endpoint in args.bind:
            sock.bind(endpoint)
            if "*" in endpoint:  # the OS picked the port: say which, or nobody can connect
                print(f"bound {sock.last_endpoint.decode()}", file=sys.stderr, flush=True)
        for endpoint in args.connect:
            sock.connect(endpoint)
    return sock


# -- formatting -----------------------------------------------------------------------------


def format_message(parts: list[bytes], fmt: str) -> bytes:
    """One received message as one line of output (multipart parts clearly separated)."""
    if fmt == "raw":
        return b"\t".join(parts) + b"\n"
    if fmt == "hex":
        return (" ".join(part.hex() or "-" for part in parts) + "\n").encode()
    if fmt == "repr":
        return (repr(parts) + "\n").encode()
    shown: list[Any] = []
    for part in parts:
        try:
            shown.append(part.decode("utf-8"))
        except UnicodeDecodeError:
            shown.append({"base64": base64.b64encode(part).decode()})
    return (json.dumps({"parts": shown, "time": round(time.time(), 6)}) + "\n").encode()


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# -- what to send ---------------------------------------------------------------------------


def given_message(args: argparse.Namespace) -> list[bytes] | None:
    """The message from positional parts and --file options, or None if none was given."""
    parts = [p.encode() for p in args.parts]
    for path in args.file:
        if path == "-":
            parts.append(sys.stdin.buffer.read())
        else:
            with open(path, "rb") as f:
                parts.append(f.read())
    return parts or None


def stdin_messages() -> Iterator[list[bytes]]:
    for line in sys.stdin.buffer:
        yield [line.rstrip(b"\r\n")]


# -- the command ----------------------------------------------------------------------------


def _split_type(args: argparse.Namespace) -> str:
    """``mqsdk cat push ...`` or ``mqsdk cat --type PUSH ...``."""
    if args.type is None:
        if not args.parts:
            raise UsageError("name the socket type: mqsdk cat TYPE ... or --type TYPE")
        args.type, args.parts = args.parts[0], args.parts[1:]
    return socket_type(args.type)


def cmd_cat(args: argparse.Namespace) -> int:
    import mqsdk

    if args.json:
        args.format = "json"
    try:
        type_name = _split_type(args)
        message = given_message(args)
    except (UsageError, OSError) as exc:
        print(f"mqsdk cat: {exc}", file=sys.stderr)
        return 2
    if type_name == "REP" and not args.echo and message is None:
        print(
            "mqsdk cat: a REP socket answers every request: give --echo or the reply as "
            "arguments or --file",
            file=sys.stderr,
        )
        return 2
    if type_name in RECEIVE_ONLY and message is not None:
        print(f"mqsdk cat: a {type_name} socket cannot send {message!r}", file=sys.stderr)
        return 2
    ctx = mqsdk.Context()
    try:
        sock = open_socket(ctx, type_name, args)
        if args.timeout is not None:
            sock.rcvtimeo = sock.sndtimeo = int(args.timeout * 1000)
        if args.topic and type_name == "SUB":
            for topic in args.topic:
                sock.subscribe(topic.encode())
        elif type_name in ("SUB", "XSUB"):
            sock.subscribe(b"")
        return _run(sock, type_name, message, args)
    except UsageError as exc:
        print(f"mqsdk cat: {exc}", file=sys.stderr)
        return 2
    except Again:
        print(f"mqsdk cat: timed out after {args.timeout:g} s", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.destroy(linger=args.linger)


def _run(sock: Any, type_name: str, message: list[bytes] | None, args: argparse.Namespace) -> int:
    fmt: str = args.format
    count: int | None = args.count
    if type_name == "REP":
        answered = 0
        while count is None or answered < count:
            request = sock.recv_multipart()
            _write(format_message(request, fmt))
            sock.send_multipart(request if args.echo else message or [b""])
            answered += 1
        return 0
    outgoing: Iterator[list[bytes]] | list[list[bytes]] = []
    if message is not None:
        outgoing = [message]
    elif type_name in READS_STDIN_BY_DEFAULT or args.stdin:
        outgoing = stdin_messages()
    if type_name == "PUB":
        topic = [args.topic[0].encode()] if args.topic else []
        if not sock.wait_for_subscribers(1, timeout=args.timeout):
            raise Again("no subscriber")
    else:
        topic = []
    sent = 0
    for parts in outgoing:
        sock.send_multipart(topic + parts)
        sent += 1
        if type_name == "REQ":
            _write(format_message(sock.recv_multipart(), fmt))
    if type_name in SEND_ONLY or type_name == "REQ":
        return 0
    if sent and count is None and args.timeout is None:
        return 0  # a two-way type that was given data: done unless asked to listen
    received = 0
    while count is None or received < count:
        try:
            parts = sock.recv_multipart()
        except Again:
            if count is None:
                return 0  # --timeout without --count: stop when the line goes quiet
            raise
        _write(format_message(parts, fmt))
        received += 1
    return 0


def register(sub: Any) -> None:
    cat = sub.add_parser(
        "cat",
        help="bind or connect a socket of any type; send arguments or stdin, print what arrives",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cat.add_argument(
        "parts",
        nargs="*",
        metavar="[TYPE] PART",
        help="the socket type (unless --type), then the parts of one message to send",
    )
    cat.add_argument("-t", "--type", help=f"socket type: {', '.join(SOCKET_TYPES)}")
    add_socket_arguments(cat)
    cat.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="send this file's bytes as a part ('-' for stdin); repeatable",
    )
    cat.add_argument("--stdin", action="store_true", help="send each line of stdin as a message")
    cat.add_argument("--echo", action="store_true", help="REP: answer each request with itself")
    cat.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC",
        help="SUB: subscribe to this prefix (repeatable; default all); PUB: send it as the "
        "first part",
    )
    cat.add_argument(
        "-n", "--count", type=int, metavar="N", help="stop after receiving (REP: answering) N"
    )
    cat.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up waiting for a message, peer or subscriber after this long",
    )
    cat.add_argument(
        "--format",
        choices=["raw", "hex", "repr", "json"],
        default="raw",
        help="how to print what arrives (default raw: parts separated by a tab)",
    )
    cat.add_argument("--json", action="store_true", help="the same as --format json")
    cat.set_defaults(func=cmd_cat)
