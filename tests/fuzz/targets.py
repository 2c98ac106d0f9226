"""The fuzz targets: one ``generate`` and one ``execute`` function per component.

``generate(rng)`` builds one input as plain data (bytes, ints, strings, lists, tuples,
dicts), so that it can be written to a reproducer file and read back with
``ast.literal_eval``; it runs before the input's memory is measured. ``execute(input)``
runs the component on it and returns a short outcome label. It raises the component's
documented error (:attr:`Target.expected`) for input it refuses, and
:class:`InvariantViolation` when an oracle finds a wrong result: the same stream split
differently must decode the same way, a clean round trip must give back what was sent,
a handshake must not complete without its ZAP verdict.

Documented errors:

* ``decoder``, ``greeting``, ``commands``: :class:`mqsdk.errors.ProtocolError`.
* mechanisms: ``on_command`` raises :class:`~mqsdk.errors.ProtocolError`, and
  ``on_zap_reply`` :class:`~mqsdk.errors.MQError` where no handler is a refusal (see
  ``mqsdk/_kernel/mechanism.py``); the handshake driver catches exactly those.
* ``pgm_packet``: :class:`mqsdk_transport_pgm.packets.PacketError`.
* ``subscriptions``, ``udp_datagram``, ``pgm_stream``, ``pgm_session``: none at all;
  they drop or count bad input (nothing in their callers catches an exception).

Not a target: the raw engine (``mqsdk/_kernel/raw_engine.py``) hands every read to the user
as one frame, with no parsing, and the udp transport parses inside its reader (driven
here with a fake socket and owner).
"""

from __future__ import annotations

import hashlib
import random
import socket
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mqsdk._kernel.mechanism import ZapReply
from mqsdk._kernel.subscriptions import SubscriptionTrie
from mqsdk.errors import ProtocolError
from mqsdk.zmtp.commands import (
    PeerError,
    cancel,
    encode_metadata,
    error,
    join,
    leave,
    parse_error,
    parse_metadata,
    parse_ping,
    parse_ready,
    ping,
    pong,
    ready,
    subscribe,
)
from mqsdk.zmtp.constants import (
    CANCEL,
    ERROR,
    JOIN,
    LEAVE,
    PING,
    PONG,
    READY,
    SUBSCRIBE,
    ProtocolErrorCode,
)
from mqsdk.zmtp.frames import Command, FrameDecoder, Item, encode_command, encode_message
from mqsdk.zmtp.greeting import GreetingParser, make_greeting
from tests.zmtp import zmtp_vectors as vectors

from .handshakes import (
    InvariantViolation,
    random_plan,
    random_traffic,
    run_plan,
    run_traffic,
)
from .mutate import (
    HUGE_SIZES,
    apply_ops,
    chunks,
    mutate,
    random_bytes,
    random_ops,
    random_splits,
    skewed_length,
)

Input = dict[str, Any]


@dataclass(frozen=True)
class Target:
    name: str
    about: str
    generate: Callable[[random.Random], Input]
    execute: Callable[[Input], str]
    expected: tuple[type[BaseException], ...] = ()
    requires: tuple[str, ...] = field(default=())
    """Modules the target imports (a plugin that may not be installed)."""

    def unavailable(self) -> str:
        """Why the target cannot run here, or ``""``."""
        import importlib

        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return f"{module} is not importable ({exc})"
        return ""


# -- decoder -------------------------------------------------------------------------------

BUFSIZES = (1024, 1024, 4096, 65536)
MAXMSGSIZES = (-1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 254, 255, 256, 8192, 65536)
VECTOR_STREAMS = tuple(wire for wire, _ in vectors.DECODE_VECTORS.values())
STREAM_COMMANDS = (READY, ERROR, PING, PONG, SUBSCRIBE, CANCEL, JOIN, LEAVE, b"HELLO", b"X")


def random_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.7:
        return rng.randbytes(skewed_length(rng, 300))
    if roll < 0.93:
        # Around the short/long boundary and the decoder's direct-receive thresholds
        # (bufsize // 4 for each bufsize).
        size = rng.choice((255, 256, 257, 1023, 1024, 4095, 4096, 16383, 16384, 16385))
        return rng.randbytes(size)
    return rng.randbytes(rng.randint(0, 100_000))


def valid_stream(rng: random.Random) -> bytes:
    """A valid frame stream: libzmq's vectors, messages, and commands, in any order."""
    pieces: list[bytes] = []
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if roll < 0.3:
            pieces.append(rng.choice(VECTOR_STREAMS))
        elif roll < 0.75:
            out: list[Any] = []
            encode_message([random_body(rng) for _ in range(rng.randint(1, 4))], out)
            pieces.append(b"".join(out))
        else:
            data = rng.randbytes(skewed_length(rng, 400))
            pieces.append(encode_command(rng.choice(STREAM_COMMANDS), data))
    return b"".join(pieces)


def huge_declaration(rng: random.Random) -> bytes:
    """A LONG frame declaring a huge size, then far fewer body bytes than declared."""
    prefix = valid_stream(rng) if rng.random() < 0.3 else b""
    flags = rng.choice((0x02, 0x03, 0x06, 0x07, 0x0A, 0xFA))
    size = rng.choice(HUGE_SIZES)
    body_size = rng.choice((0, 1, 100, 255, 256, 16384, 65536, rng.randint(0, 65536)))
    body = bytes(body_size) if rng.random() < 0.5 else rng.randbytes(body_size)
    return prefix + bytes((flags,)) + size.to_bytes(8, "big") + body


def generate_decoder(rng: random.Random) -> Input:
    roll = rng.random()
    if roll < 0.2:
        origin, stream = "random", random_bytes(rng, 4096)
    elif roll < 0.4:
        origin, stream = "huge", huge_declaration(rng)
    elif roll < 0.5:
        origin, stream = "valid", valid_stream(rng)
    else:
        origin, stream = "mutated", mutate(rng, valid_stream(rng))
    return {
        "origin": origin,
        "stream": stream,
        "maxmsgsize": rng.choice(MAXMSGSIZES),
        "bufsize": rng.choice(BUFSIZES),
        "reference_bufsize": rng.choice(BUFSIZES),
        "splits": random_splits(rng, len(stream)),
        "mode": rng.choice(("feed", "commit")),
    }


class ItemDigest:
    """What a decode produced, folded as it comes: a hash of every item, their number,
    and the shapes of the first few (for the message). Keeping the items instead would
    charge the harness's copies to the input's memory peak."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0
        self.shapes: list[str] = []

    def add(self, items: list[Item]) -> None:
        for item in items:
            self.count += 1
            if type(item) is Command:
                parts = [b"C", item.name, item.data]
                shape = f"{item.name!r}+{len(item.data)}"
            else:
                parts = [b"M", *item]
                shape = f"msg{[len(frame) for frame in item]}"
            for part in parts:
                self._hash.update(len(part).to_bytes(8, "big"))
                self._hash.update(part)
            if len(self.shapes) < 6:
                self.shapes.append(shape)

    def key(self) -> tuple[int, bytes]:
        return self.count, self._hash.digest()

    def __repr__(self) -> str:
        more = f" +{self.count - len(self.shapes)}" if self.count > len(self.shapes) else ""
        return f"items {self.shapes}{more}"


DecodeResult = tuple[ItemDigest, tuple[int, int | None] | None, bool]


def _decode_whole(stream: bytes, maxmsgsize: int, bufsize: int) -> DecodeResult:
    decoder = FrameDecoder(maxmsgsize, bufsize)
    digest = ItemDigest()
    try:
        digest.add(decoder.feed(stream))
    except ProtocolError as exc:
        digest.add(decoder.decoded_before_error)
        return digest, (exc.code, exc.errno), False
    return digest, None, decoder.has_partial


def _decode_split(inp: Input) -> tuple[DecodeResult, ProtocolError | None]:
    """Decode as the engine does (``read_buffer``/``commit``) or through ``feed``, in
    the input's chunk sizes."""
    decoder = FrameDecoder(inp["maxmsgsize"], inp["bufsize"])
    stream: bytes = inp["stream"]
    digest = ItemDigest()
    if inp["mode"] == "feed":
        for piece in chunks(stream, inp["splits"]):
            try:
                digest.add(decoder.feed(piece))
            except ProtocolError as exc:
                digest.add(decoder.decoded_before_error)
                return (digest, (exc.code, exc.errno), False), exc
        return (digest, None, decoder.has_partial), None
    pos = 0
    turn = 0
    sizes = inp["splits"] or [len(stream)]
    while pos < len(stream):
        region = decoder.read_buffer()
        if not len(region):
            raise InvariantViolation("read_buffer() returned an empty region")
        want = max(1, sizes[turn % len(sizes)])
        turn += 1
        n = min(len(region), want, len(stream) - pos)
        region[:n] = stream[pos : pos + n]
        pos += n
        try:
            digest.add(decoder.commit(n))
        except ProtocolError as exc:
            digest.add(decoder.decoded_before_error)
            return (digest, (exc.code, exc.errno), False), exc
    return (digest, None, decoder.has_partial), None


def execute_decoder(inp: Input) -> str:
    """Differential: one feed() of the whole stream against the input's split, with
    different buffer sizes. Same items, same error (code and errno), same leftover."""
    reference = _decode_whole(inp["stream"], inp["maxmsgsize"], inp["reference_bufsize"])
    result, exc = _decode_split(inp)
    if (result[0].key(), *result[1:]) != (reference[0].key(), *reference[1:]):
        raise InvariantViolation(f"split decode differs from whole decode: {result} vs {reference}")
    if exc is not None:
        raise exc
    return "partial" if result[2] else "decoded"


# -- greeting ------------------------------------------------------------------------------

MECHANISMS = ("NULL", "PLAIN", "CURVE")


def generate_greeting(rng: random.Random) -> Input:
    ours = rng.choice((*MECHANISMS, "GSSAPI", "X" * 20))
    roll = rng.random()
    if roll < 0.15:
        data = random_bytes(rng, 200)
    else:
        theirs = ours if rng.random() < 0.8 else rng.choice(MECHANISMS)
        if theirs == "NULL" and rng.random() < 0.2:
            greeting = vectors.LIBZMQ_GREETING
        else:
            as_server = theirs != "NULL" and rng.random() < 0.5
            greeting = make_greeting(theirs, as_server, identity_size=rng.choice((0, 0, 5, 255)))
        if roll < 0.8:
            greeting = apply_ops(greeting, random_ops(rng, 3))
        tail = valid_stream(rng)[: rng.choice((0, 0, 10, 100))]
        data = greeting + tail
    return {"mechanism": ours, "data": data, "splits": random_splits(rng, len(data))}


def _greet(
    mechanism: str, pieces: Iterable[bytes | memoryview]
) -> tuple[tuple[Any, ...], ProtocolError | None]:
    parser = GreetingParser(mechanism)
    failure: ProtocolError | None = None
    for piece in pieces:
        try:
            taken = parser.feed(piece)
        except ProtocolError as exc:
            failure = exc
            break
        if not 0 <= taken <= len(piece):
            raise InvariantViolation(f"feed() took {taken} of {len(piece)} bytes")
        if taken < len(piece) and not parser.done:
            raise InvariantViolation("feed() left bytes unconsumed before the greeting ended")
    if failure is not None:
        try:
            parser.feed(b"\xff")
        except ProtocolError as again:
            # An equal error, not the same object: keeping the exception (its traceback
            # holds the parser) would make every failed connection a reference cycle.
            if (str(again), again.code) != (str(failure), failure.code):
                raise InvariantViolation("a failed parser raised a different error") from again
        else:
            raise InvariantViolation("a failed parser accepted more bytes")
    facts = (
        parser.versioned,
        parser.major,
        parser.minor,
        parser.mechanism,
        parser.as_server,
        parser.done,
        None if failure is None else failure.code,
    )
    return facts, failure


def execute_greeting(inp: Input) -> str:
    data: bytes = inp["data"]
    whole, _ = _greet(inp["mechanism"], [data] if data else [])
    split, failure = _greet(inp["mechanism"], chunks(data, inp["splits"]))
    if whole != split:
        raise InvariantViolation(f"split greeting differs: {split} vs {whole}")
    if failure is not None:
        raise failure
    return "done" if split[5] else "incomplete"


# -- command bodies ------------------------------------------------------------------------

NAME_CHARS = "abcXYZ019-_.+"
KNOWN_PROPERTIES = ("Socket-Type", "Identity", "Resource", "User-Id", "X-Custom", "socket-type")


def random_properties(rng: random.Random) -> list[tuple[str, bytes]]:
    pairs: list[tuple[str, bytes]] = []
    for _ in range(rng.randint(0, 5)):
        if rng.random() < 0.6:
            name = rng.choice(KNOWN_PROPERTIES)
        else:
            length = rng.choice((1, 2, 8, 255, rng.randint(1, 40)))
            name = "".join(rng.choice(NAME_CHARS) for _ in range(length))
        pairs.append((name, random_bytes(rng, 300)))
    return pairs


def _metadata_input(rng: random.Random) -> Input:
    pairs = list(dict(random_properties(rng)).items())  # what encode_metadata sends
    data = encode_metadata(dict(pairs))
    roll = rng.random()
    clean = False
    if roll < 0.2:
        clean = True
    elif roll < 0.35:
        data = random_bytes(rng, 400)
    elif roll < 0.5 and data:
        # A value length declaring far more than is there, at the first property.
        value_len_at = 1 + data[0]
        size = rng.choice((2**31 - 1, 2**31, 2**32 - 1, 100 * 1024 * 1024, len(data)))
        data = data[:value_len_at] + (size % 2**32).to_bytes(4, "big") + data[value_len_at + 4 :]
    else:
        data = mutate(rng, data)
    code = rng.choice(
        (ProtocolErrorCode.ZMTP_INVALID_METADATA, ProtocolErrorCode.ZAP_INVALID_METADATA)
    )
    return {"op": "metadata", "pairs": pairs if clean else None, "data": data, "code": int(code)}


def _zap_reply_input(rng: random.Random) -> Input:
    frames = [b"", b"1.0", b"1", rng.choice((b"200", b"300", b"400", b"500")), b"OK", b"user"]
    frames.append(encode_metadata(dict(random_properties(rng))))
    for _ in range(rng.randint(0, 3)):
        index = rng.randrange(len(frames))
        roll = rng.random()
        if roll < 0.6:
            frames[index] = mutate(rng, frames[index])
        elif roll < 0.8:
            del frames[index]
        else:
            frames.insert(index, random_bytes(rng, 20))
    return {"op": "zap_reply", "frames": frames, "request_id": rng.choice((b"1", b"1", b"2", b""))}


COMMAND_OPS = ("metadata",) * 3 + ("ready", "error", "ping", "peer_error", "zap_reply", "builders")


def generate_commands(rng: random.Random) -> Input:
    op = rng.choice(COMMAND_OPS)
    if op in ("metadata", "ready"):
        inp = _metadata_input(rng)
        inp["op"] = op
        return inp
    if op == "zap_reply":
        return _zap_reply_input(rng)
    if op == "error":
        reason = random_bytes(rng, 300)[:255]
        body = bytes((len(reason),)) + reason
        clean = rng.random() < 0.3
        return {
            "op": op,
            "reason": reason if clean else None,
            "data": body if clean else mutate(rng, body),
        }
    if op == "ping":
        context = random_bytes(rng, 40)
        body = rng.randbytes(2) + context
        return {"op": op, "data": body if rng.random() < 0.3 else mutate(rng, body)}
    if op == "peer_error":
        return {
            "op": op,
            "reason": rng.choice((b"300", b"400", b"500", b"200", b"4000"))
            if rng.random() < 0.4
            else random_bytes(rng, 300),
        }
    return {
        "op": "builders",
        "topic": random_bytes(rng, 600),
        "pairs": random_properties(rng),
        "ttl": rng.randrange(0x10000),
        "context": rng.randbytes(rng.randint(0, 16)),
    }


def _check_metadata(inp: Input, parsed: Any) -> None:
    names = list(parsed)
    if len(names) != len(parsed):
        raise InvariantViolation("Metadata's len() and iteration disagree")
    for name in names:
        if parsed[name.upper()] != parsed[name.lower()] or name.swapcase() not in parsed:
            raise InvariantViolation(f"case-insensitive lookup of {name!r} failed")
    repr(parsed)
    if inp.get("pairs") is not None:
        last = {name.lower(): value for name, value in inp["pairs"]}
        if {name.lower(): parsed[name] for name in parsed} != last:
            raise InvariantViolation("encode_metadata -> parse_metadata did not round-trip")


def execute_commands(inp: Input) -> str:
    op = inp["op"]
    if op in ("metadata", "ready"):
        code = inp["code"]
        try:
            parsed = (
                parse_ready(inp["data"]) if op == "ready" else parse_metadata(inp["data"], code)
            )
        except ProtocolError as exc:
            wanted = ProtocolErrorCode.ZMTP_INVALID_METADATA if op == "ready" else code
            if exc.code != wanted:
                raise InvariantViolation(
                    f"error code {exc.code:#x}, asked for {wanted:#x}"
                ) from exc
            raise
        _check_metadata(inp, parsed)
        return "parsed"
    if op == "error":
        reason = parse_error(inp["data"])
        if inp["reason"] is not None and reason != inp["reason"]:
            raise InvariantViolation("ERROR reason did not round-trip")
        PeerError(reason)
        return "parsed"
    if op == "ping":
        ttl, context = parse_ping(inp["data"])
        if not 0 <= ttl <= 0xFFFF:
            raise InvariantViolation(f"PING ttl {ttl} out of range")
        pong(context)  # what the engine answers, whatever the context's length
        return "parsed"
    if op == "peer_error":
        peer_error = PeerError(inp["reason"])
        str(peer_error)
        wanted = int(inp["reason"]) if inp["reason"] in (b"300", b"400", b"500") else None
        if peer_error.status_code != wanted:
            raise InvariantViolation(
                f"PeerError status {peer_error.status_code} for {inp['reason']!r}"
            )
        return "built"
    if op == "zap_reply":
        reply = ZapReply.parse(inp["frames"], inp["request_id"])
        _check_metadata({}, reply.metadata)
        return "parsed"
    return _builders_round_trip(inp)


def _builders_round_trip(inp: Input) -> str:
    topic: bytes = inp["topic"]
    props = dict(inp["pairs"])
    frames = [
        (subscribe(topic), Command(SUBSCRIBE, topic)),
        (cancel(topic), Command(CANCEL, topic)),
        (join(topic[:255]), Command(JOIN, topic[:255])),
        (leave(topic[:255]), Command(LEAVE, topic[:255])),
        (
            ping(inp["ttl"], inp["context"]),
            Command(PING, struct.pack(">H", inp["ttl"]) + inp["context"]),
        ),
        (pong(topic), Command(PONG, topic[:16])),
        (error(topic), Command(ERROR, bytes((min(255, len(topic)),)) + topic[:255])),
        (ready(props), Command(READY, encode_metadata(props))),
    ]
    decoder = FrameDecoder()
    for wire, expected in frames:
        items = decoder.feed(wire)
        if items != [expected]:
            raise InvariantViolation(f"{expected.name!r} did not round-trip through the decoder")
    _check_metadata({"pairs": list(props.items())}, parse_ready(encode_metadata(props)))
    return "round-trip"


# -- subscriptions (SUBSCRIBE/CANCEL bodies as XPUB applies them) --------------------------


def generate_subscriptions(rng: random.Random) -> Input:
    alphabet = b"ab\x00\xff"
    ops: list[tuple[Any, ...]] = []

    def topic() -> bytes:
        if rng.random() < 0.05:
            return rng.randbytes(rng.randint(0, 300))
        return bytes(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 6))))

    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        key = rng.randrange(4)
        if roll < 0.45:
            ops.append(("subscribe", key, topic()))
        elif roll < 0.7:
            ops.append(("cancel", key, topic()))
        elif roll < 0.75:
            ops.append(("cancel_every", key, topic()))
        elif roll < 0.8:
            ops.append(("remove_key", key))
        else:
            ops.append(("match", topic() + topic()))
    return {"ops": ops}


def execute_subscriptions(inp: Input) -> str:
    """The trie against a dict model, fed through SUBSCRIBE/CANCEL command frames."""
    trie: SubscriptionTrie[int] = SubscriptionTrie()
    model: dict[int, dict[bytes, int]] = {}
    decoder = FrameDecoder()

    def via_wire(frame: bytes, name: bytes, topic: bytes) -> bytes:
        items = decoder.feed(frame)
        if items != [Command(name, topic)]:
            raise InvariantViolation(f"{name!r} command did not round-trip")
        return items[0].data  # type: ignore[union-attr]

    def expect(got: int, wanted: int, what: str) -> None:
        if got != wanted:
            raise InvariantViolation(f"{what}: trie says {got}, model says {wanted}")

    for op in inp["ops"]:
        kind = op[0]
        if kind == "subscribe":
            topic = via_wire(subscribe(op[2]), SUBSCRIBE, op[2])
            counts = model.setdefault(op[1], {})
            counts[topic] = counts.get(topic, 0) + 1
            expect(trie.add(topic, op[1]), counts[topic], f"add({topic!r}, {op[1]})")
        elif kind in ("cancel", "cancel_every"):
            topic = via_wire(cancel(op[2]), CANCEL, op[2])
            counts = model.get(op[1], {})
            if topic not in counts:
                wanted = -1
            else:
                wanted = 0 if kind == "cancel_every" else counts[topic] - 1
                if wanted:
                    counts[topic] = wanted
                else:
                    del counts[topic]
            got = trie.remove(topic, op[1], every=kind == "cancel_every")
            expect(got, wanted, f"remove({topic!r}, {op[1]})")
        elif kind == "remove_key":
            removed = trie.remove_key(op[1])
            if removed != model.pop(op[1], {}):
                raise InvariantViolation(f"remove_key({op[1]}) returned {removed}")
        else:
            data = op[1]
            wanted_keys = {
                key for key, counts in model.items() if any(data.startswith(t) for t in counts)
            }
            if trie.match(data) != wanted_keys or trie.matches(data) != bool(wanted_keys):
                raise InvariantViolation(f"match({data!r}) differs from the model")
    topics: dict[bytes, int] = {}
    for counts in model.values():
        for topic in counts:
            topics[topic] = topics.get(topic, 0) + 1
    if trie.all_topics() != topics:
        raise InvariantViolation("all_topics() differs from the model")
    return "consistent"


# -- mechanisms ----------------------------------------------------------------------------


def _mechanism_target(
    kind: str, role: str | None
) -> tuple[Callable[[random.Random], Input], Callable[[Input], str]]:
    def generate(rng: random.Random) -> Input:
        return random_plan(rng, kind, role or rng.choice(("server", "client")))

    return generate, run_plan


def generate_curve_traffic(rng: random.Random) -> Input:
    return random_traffic(rng)


# -- udp -----------------------------------------------------------------------------------


class _FakeUdpSocket:
    def __init__(self, datagrams: list[bytes]) -> None:
        self.queue = deque(datagrams)

    def recv(self, size: int) -> bytes:
        if not self.queue:
            raise BlockingIOError
        return self.queue.popleft()[:size]


_SHARED_CONTEXTS: list[Any] = []
_UDP_OWNER: list[Any] = []


def _udp_owner() -> Any:
    """A real socket's handle to own the DishPipe (the compiled kernel checks the type
    of a pipe's owner). One per run of the target, closed by :func:`close_shared`: a
    context per input would cost a thread each, and its first use would count in an
    input's memory peak, so generate_udp makes it before the first input is measured."""
    if not _UDP_OWNER:
        import mqsdk

        context = mqsdk.Context()
        _SHARED_CONTEXTS.append(context)
        _UDP_OWNER.append(context.socket(mqsdk.PULL).handle)
    return _UDP_OWNER[0]


def close_shared() -> None:
    """End what targets keep between inputs (the udp target's socket and its I/O
    thread), so that a test run after the fuzz slice starts from no mqsdk thread."""
    _UDP_OWNER.clear()
    while _SHARED_CONTEXTS:
        _SHARED_CONTEXTS.pop().destroy(linger=0)


def generate_udp(rng: random.Random) -> Input:
    _udp_owner()
    datagrams: list[bytes] = []
    for _ in range(rng.randint(1, 8)):
        group = random_bytes(rng, 255)[:255]
        valid = bytes((len(group),)) + group + random_bytes(rng, 2000)
        roll = rng.random()
        if roll < 0.4:
            datagrams.append(valid)
        elif roll < 0.75:
            datagrams.append(mutate(rng, valid))
        elif roll < 0.9:
            datagrams.append(random_bytes(rng, 300))
        else:
            datagrams.append(rng.choice((b"", b"\xff", b"\x01", b"\x00")))
    return {"datagrams": datagrams, "rcvhwm": rng.choice((0, 1, 2, 5, 1000))}


def execute_udp(inp: Input) -> str:
    from mqsdk_transport_udp.transport import DishPipe, _Reader

    owner = _udp_owner()
    owner.stats.update(dropped_hwm=0, dropped_malformed=0)  # this input's counts only
    pipe = DishPipe(owner, "udp://127.0.0.1:5555", 1000, inp["rcvhwm"])
    sock = _FakeUdpSocket(inp["datagrams"])
    reader = _Reader(sock, pipe)  # type: ignore[arg-type]
    for _ in range(len(inp["datagrams"]) + 1):
        if not sock.queue:
            break
        reader.on_readable()
    wellformed = [[d[1 : 1 + d[0]], d[1 + d[0] :]] for d in inp["datagrams"] if d and len(d) > d[0]]
    malformed = len(inp["datagrams"]) - len(wellformed)
    delivered = list(pipe.inq)
    position = 0
    for message in delivered:  # delivered in order, each one a well-formed datagram
        while position < len(wellformed) and wellformed[position] != message:
            position += 1
        if position == len(wellformed):
            raise InvariantViolation(f"delivered {message!r}, which no datagram carried")
        position += 1
    if len(delivered) + owner.stats["dropped_hwm"] != len(wellformed):
        raise InvariantViolation("a well-formed datagram was neither delivered nor counted")
    if owner.stats.get("dropped_malformed", 0) != malformed:
        raise InvariantViolation("a malformed datagram was not counted")
    return f"delivered {min(len(delivered), 3)}+"


# -- pgm -----------------------------------------------------------------------------------

GSI = bytes.fromhex("0a0b0c0d0e0f")
SPORT, DPORT = 4000, 5555
GROUP, SOURCE_NLA = "239.192.1.1", "10.0.0.1"


def _pgm() -> Any:
    from mqsdk_transport_pgm import packets

    return packets


def _fix_checksum(data: bytes) -> bytes:
    packets = _pgm()
    if len(data) < 8:
        return data
    raw = bytearray(data)
    raw[6:8] = b"\0\0"
    struct.pack_into("!H", raw, 6, packets.checksum(raw))
    return bytes(raw)


def _spm_ipv6(sqn: int, trail: int, lead: int, gsi: bytes = GSI, sport: int = SPORT) -> bytes:
    """An SPM whose path NLA is IPv6 (RFC 3208 allows AFI 2; ``encode`` writes only IPv4)."""
    packets = _pgm()
    header = packets.HEADER.pack(sport, DPORT, packets.SPM, 0, 0, gsi, 0)
    body = struct.pack("!IIIHH", sqn, trail, lead, packets.AFI_IP6, 0)
    return _fix_checksum(header + body + socket.inet_pton(socket.AF_INET6, "fe80::1"))


def random_packet(rng: random.Random, sqn: int = 0) -> bytes:
    """One valid packet of any kind mqsdk decodes (and sometimes an IPv6-NLA SPM)."""
    packets = _pgm()
    kind = rng.choice(
        (packets.SPM, packets.ODATA, packets.RDATA, packets.NAK, packets.NCF, packets.SPMR)
    )
    near = (sqn + rng.choice((0, 1, 2, 5, 64, 1000, 2**31 - 1, 2**31, -1, -2))) % 2**32
    if kind == packets.SPM and rng.random() < 0.2:
        return _spm_ipv6(rng.getrandbits(32), sqn, near)
    naks = tuple((near + i) % 2**32 for i in range(rng.choice((0, 0, 1, 5, 62))))
    packet = packets.Packet(
        kind,
        SPORT if kind != packets.NAK else DPORT,
        DPORT if kind != packets.NAK else SPORT,
        GSI if rng.random() < 0.9 else rng.randbytes(6),
        near,
        trail=rng.choice((0, sqn, near, (near - 3) % 2**32)),
        lead=near,
        nla=SOURCE_NLA,
        group=GROUP,
        naks=naks if kind in (packets.NAK, packets.NCF) else (),
        data=rng.randbytes(rng.choice((0, 2, 3, 50, 1400)))
        if kind in (packets.ODATA, packets.RDATA)
        else b"",
    )
    return bytes(packets.encode(packet))


def mutate_packet(rng: random.Random, data: bytes) -> bytes:
    """Byte mutations, then (usually) a recomputed checksum so the parser goes deeper."""
    data = mutate(rng, data, 3)
    roll = rng.random()
    if roll < 0.7:
        return _fix_checksum(data)
    if roll < 0.8 and len(data) >= 8:
        return data[:6] + b"\0\0" + data[8:]  # "no checksum" (refused on data packets)
    return data


def generate_pgm_packet(rng: random.Random) -> Input:
    roll = rng.random()
    if roll < 0.15:
        return {"data": random_bytes(rng, 200)}
    packet = random_packet(rng, rng.getrandbits(32))
    return {"data": packet if roll < 0.3 else mutate_packet(rng, packet)}


def execute_pgm_packet(inp: Input) -> str:
    packet = _pgm().decode(inp["data"])
    return f"type {packet.type}"


def _messages(rng: random.Random) -> list[list[bytes]]:
    return [
        [
            rng.randbytes(rng.choice((0, 1, 10, 253, 254, 255, 300, 3000)))
            for _ in range(rng.randint(1, 3))
        ]
        for _ in range(rng.randint(1, 8))
    ]


def _tsdus(messages: list[list[bytes]], max_tsdu: int) -> list[bytes]:
    from mqsdk_transport_pgm.framing import StreamPacker

    packer = StreamPacker(max_tsdu)
    for message in messages:
        packer.add(message)
    out: list[bytes] = []
    while (tsdu := packer.take()) is not None:
        out.append(tsdu)
    return out


def generate_pgm_stream(rng: random.Random) -> Input:
    messages = _messages(rng)
    # Small TSDUs, but not tens of thousands of them (slowness by count is no finding).
    size = sum(len(frame) + 10 for message in messages for frame in message)
    tsdus = _tsdus(messages, max(rng.choice((3, 4, 16, 100, 1400, 7000)), size // 1000 + 3))
    events: list[tuple[Any, ...]] = [("tsdu", t) for t in tsdus]
    clean = rng.random() < 0.2
    if not clean:
        for _ in range(rng.randint(1, 4)):
            index = rng.randrange(len(events) + 1)
            roll = rng.random()
            if roll < 0.3 and index < len(events) and events[index][0] == "tsdu":
                events[index] = ("tsdu", mutate(rng, events[index][1]))
            elif roll < 0.45 and index < len(events):
                events[index] = ("lose",)  # data gone for good
            elif roll < 0.6:
                size = rng.choice(HUGE_SIZES)
                declared = b"\xff" + (size % 2**64).to_bytes(8, "big") + b"\x00"
                events.insert(
                    index, ("tsdu", b"\x00\x00" + declared + rng.randbytes(rng.randint(0, 4000)))
                )
            elif roll < 0.8:
                events.insert(index, ("tsdu", random_bytes(rng, 300)))
            else:
                events.insert(index, ("tsdu", b"\xff\xff" + random_bytes(rng, 300)))
    return {
        "messages": messages if clean else None,
        "events": events,
        "maxmsgsize": rng.choice((-1, -1, -1, 0, 10, 1000)),
    }


def execute_pgm_stream(inp: Input) -> str:
    from mqsdk_transport_pgm.framing import StreamUnpacker

    unpacker = StreamUnpacker(inp["maxmsgsize"])
    delivered: list[list[bytes]] = []
    for event in inp["events"]:
        if event[0] == "lose":
            unpacker.lose()
        else:
            delivered += unpacker.feed(event[1])
    if inp["messages"] is not None and inp["maxmsgsize"] < 0 and delivered != inp["messages"]:
        raise InvariantViolation(f"{len(delivered)} messages out of {len(inp['messages'])} in")
    return f"delivered {min(len(delivered), 3)}+"


def generate_pgm_session(rng: random.Random) -> Input:
    """What a source sends (SPM, then ODATA), perturbed and mixed with hostile packets,
    with the clock advancing so NAK timers, retries and peer expiry all run."""
    from mqsdk_transport_pgm.source import Source

    messages = _messages(rng)
    wire: list[bytes] = []
    first = rng.choice((0, 1, 2**32 - 3, rng.getrandbits(32)))
    source = Source(
        gsi=GSI,
        sport=SPORT,
        dport=DPORT,
        group=GROUP,
        nla=SOURCE_NLA,
        max_tsdu=rng.choice((16, 100, 1400)),
        txw_sqns=rng.choice((1, 4, 1000)),
        rate=10**6,
        overhead=0,
        send=wire.append,
        now=0.0,
        first_sqn=first,
    )
    source.tick(0.0)  # the first SPM: receivers join at its lead
    for message in messages:
        source.packer.add(message)
    source.pump(0.0, lambda: False, unlimited=True)
    role = "receiver" if rng.random() < 0.8 else "source"
    events: list[tuple[Any, ...]] = [("packet", data, SOURCE_NLA) for data in wire]
    clean = role == "receiver" and rng.random() < 0.15
    if not clean:
        for _ in range(rng.randint(1, 8)):
            index = rng.randrange(len(events) + 1)
            roll = rng.random()
            if roll < 0.15 and index < len(events):
                del events[index]  # lost
            elif roll < 0.25 and index < len(events):
                events.insert(index, events[index])  # duplicated
            elif roll < 0.35 and index + 1 < len(events):
                events[index], events[index + 1] = events[index + 1], events[index]
            elif roll < 0.5 and index < len(events) and events[index][0] == "packet":
                events[index] = ("packet", mutate_packet(rng, events[index][1]), SOURCE_NLA)
            elif roll < 0.75:
                events.insert(
                    index,
                    ("packet", random_packet(rng, first), rng.choice((SOURCE_NLA, "10.9.9.9"))),
                )
            else:
                events.insert(index, ("tick", rng.choice((0.0, 0.01, 0.06, 0.3, 1.0, 5.0, 400.0))))
    events.append(("tick", rng.choice((0.06, 0.3, 1.0))))
    events.append(("tick", rng.choice((0.5, 11.0))))
    return {
        "role": role,
        "messages": messages if clean else None,
        "events": events,
        "rxw": rng.choice((1, 2, 16, 64, 1000)),
        "maxmsgsize": rng.choice((-1, -1, 100)),
        "retries": rng.choice((0, 1, 3)),
        "rng": rng.getrandbits(32),
        "first": first,
        "max_tsdu": rng.choice((16, 100, 1400)),
        "txw": rng.choice((1, 4, 1000)),
    }


def execute_pgm_session(inp: Input) -> str:
    """A Receiver (or a Source, for NAKs and SPMRs) fed as the transport feeds it: the
    transport's port and kind filters, ``decode`` (PacketError drops the packet), then
    ``on_packet`` / ``on_nak`` / ``on_spmr``, and ``tick`` as time passes."""
    packets = _pgm()
    from mqsdk_transport_pgm.receiver import Receiver
    from mqsdk_transport_pgm.source import Source

    sent: list[bytes] = []
    now = 0.0
    delivered: list[list[bytes]] = []
    if inp["role"] == "source":
        source = Source(
            gsi=GSI,
            sport=SPORT,
            dport=DPORT,
            group=GROUP,
            nla=SOURCE_NLA,
            max_tsdu=inp["max_tsdu"],
            txw_sqns=inp["txw"],
            rate=10**6,
            overhead=0,
            send=sent.append,
            now=0.0,
            first_sqn=inp["first"],
        )
        for message in _messages(random.Random(inp["rng"])):
            source.packer.add(message)
        source.pump(0.0, lambda: False)
        for event in inp["events"]:
            if event[0] == "tick":
                now += event[1]
                source.tick(now)
                source.pump(now, lambda: False)
                continue
            data = event[1]
            if len(data) < 16 or data[4] & 0x0F not in (packets.NAK, packets.SPMR):
                continue
            if int.from_bytes(data[2:4], "big") != SPORT or data[8:14] != GSI:
                continue
            try:
                packet = packets.decode(data)
            except packets.PacketError:
                continue
            if packet.type == packets.NAK:
                if source.on_nak(packet):
                    source.pump(now, lambda: False)
            else:
                source.on_spmr(now)
        return f"sent {min(len(sent), 3)}+"
    receiver = Receiver(
        dport=DPORT,
        group=GROUP,
        rxw_sqns=inp["rxw"],
        send=sent.append,
        maxmsgsize=inp["maxmsgsize"],
        nak_retries=inp["retries"],
        rng=random.Random(inp["rng"]),
        stats={},
    )
    for event in inp["events"]:
        if event[0] == "tick":
            now += event[1]
            messages, _ = receiver.tick(now)
            delivered += messages
            receiver.next_deadline()
            continue
        data = event[1]
        kinds = (packets.SPM, packets.ODATA, packets.RDATA, packets.NCF)
        if len(data) < 16 or data[4] & 0x0F not in kinds:
            continue
        if int.from_bytes(data[2:4], "big") != DPORT:
            continue
        try:
            packet = packets.decode(data)
        except packets.PacketError:
            continue
        delivered += receiver.on_packet(packet, event[2], now)
    if inp["messages"] is not None and inp["maxmsgsize"] < 0 and delivered != inp["messages"]:
        raise InvariantViolation(f"{len(delivered)} messages out of {len(inp['messages'])} sent")
    return f"delivered {min(len(delivered), 3)}+"


# -- the registry --------------------------------------------------------------------------

_null = _mechanism_target("null", None)
_plain_server = _mechanism_target("plain", "server")
_plain_client = _mechanism_target("plain", "client")
_curve_server = _mechanism_target("curve", "server")
_curve_client = _mechanism_target("curve", "client")
_PLAIN = ("mqsdk_mechanism_plain",)
_CURVE = ("mqsdk_mechanism_curve", "nacl")
_PGM = ("mqsdk_transport_pgm",)

TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            "decoder",
            "FrameDecoder: feed and read_buffer/commit, split vs whole",
            generate_decoder,
            execute_decoder,
            (ProtocolError,),
        ),
        Target(
            "greeting",
            "GreetingParser, split vs whole",
            generate_greeting,
            execute_greeting,
            (ProtocolError,),
        ),
        Target(
            "commands",
            "READY/INITIATE metadata, ERROR, PING, ZAP replies, builders",
            generate_commands,
            execute_commands,
            (ProtocolError,),
        ),
        Target(
            "subscriptions",
            "SUBSCRIBE/CANCEL bodies into the trie, against a model",
            generate_subscriptions,
            execute_subscriptions,
        ),
        Target("null", "NULL on_command, both roles, with and without ZAP", *_null),
        Target(
            "plain_server",
            "PLAIN server on_command and on_zap_reply",
            *_plain_server,
            requires=_PLAIN,
        ),
        Target("plain_client", "PLAIN client on_command", *_plain_client, requires=_PLAIN),
        Target(
            "curve_server",
            "CURVE server on_command and on_zap_reply",
            *_curve_server,
            requires=_CURVE,
        ),
        Target("curve_client", "CURVE client on_command", *_curve_client, requires=_CURVE),
        Target(
            "curve_traffic",
            "CURVE decode_items after a real handshake",
            generate_curve_traffic,
            run_traffic,
            requires=_CURVE,
        ),
        Target(
            "udp_datagram",
            "udp DISH reader: group_len group body datagrams",
            generate_udp,
            execute_udp,
            requires=("mqsdk_transport_udp",),
        ),
        Target(
            "pgm_packet",
            "PGM packet decode",
            generate_pgm_packet,
            execute_pgm_packet,
            requires=_PGM,
        ),
        Target(
            "pgm_stream",
            "PGM TSDU stream unpacker",
            generate_pgm_stream,
            execute_pgm_stream,
            requires=_PGM,
        ),
        Target(
            "pgm_session",
            "PGM receiver and source state machines",
            generate_pgm_session,
            execute_pgm_session,
            requires=_PGM,
        ),
    )
}


def expected_errors(name: str) -> tuple[type[BaseException], ...]:
    target = TARGETS[name]
    if name == "pgm_packet":
        return (_pgm().PacketError,)
    return target.expected


__all__ = ["TARGETS", "InvariantViolation", "Target", "expected_errors"]
