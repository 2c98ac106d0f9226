"""Byte vectors from protocols.md section 9 (observed against libzmq 4.3.5 unless noted),
with the items the decoder must produce for them, plus small test helpers."""

from __future__ import annotations

from mqsdk.zmtp import Command, FrameDecoder, Item


def hx(text: str) -> bytes:
    """``"04 0a 05"`` -> bytes; quoted ASCII is not supported, build those with +."""
    return bytes.fromhex(text)


# Vector 1: libzmq's greeting with no ROUTING_ID, sent as 10 + 1 + 53 bytes.
LIBZMQ_GREETING_PARTS = (
    hx("ff 00 00 00 00 00 00 00 01 7f"),
    hx("03"),
    hx("01 4e 55 4c 4c") + bytes(16) + bytes(32),
)
LIBZMQ_GREETING = b"".join(LIBZMQ_GREETING_PARTS)

# Vector 2: NULL READY commands.
READY_DEALER = (
    hx("04 29 05")
    + b"READY"
    + hx("0b")
    + b"Socket-Type"
    + hx("00 00 00 06")
    + b"DEALER"
    + hx("08")
    + b"Identity"
    + hx("00 00 00 00")
)
READY_ROUTER = READY_DEALER.replace(b"DEALER", b"ROUTER")
READY_PULL = hx("04 1a 05") + b"READY" + hx("0b") + b"Socket-Type" + hx("00 00 00 04") + b"PULL"

# Vector 3: subscriptions to a 3.1 peer (commands) and to a 3.0 peer (data frames).
SUBSCRIBE_TOPIC = hx("04 0f 09") + b"SUBSCRIBE" + b"topic"
CANCEL_TOPIC = hx("04 0c 06") + b"CANCEL" + b"topic"
SUBSCRIBE_30 = hx("00 06 01") + b"topic"
CANCEL_30 = hx("00 06 00") + b"topic"

# Vector 4: what an XPUB is fed.
XPUB_FEED = (
    hx("04 0d 09") + b"SUBSCRIBE" + b"cmd",
    hx("00 04 01") + b"old",
    hx("04 0a 06") + b"CANCEL" + b"cmd",
)

# Vector 5: a REQ request "hi" (empty delimiter + body).
REQ_HI = hx("01 00 00 02 68 69")

# Vector 6: heartbeats.
PING_TTL_1500 = hx("04 07 04") + b"PING" + hx("00 0f")
PING_CTX = hx("04 0d 04") + b"PING" + hx("00 00") + b"ctx123"
PONG_CTX = hx("04 0b 04") + b"PONG" + b"ctx123"

# Vector 7: the 255/256 boundary and a LONG frame with a small size.
BODY_255 = bytes(range(255))
BODY_256 = bytes(range(256))
FRAME_255 = hx("00 ff") + BODY_255
FRAME_256 = hx("02 00 00 00 00 00 00 01 00") + BODY_256
LONG_HELLO = hx("02 00 00 00 00 00 00 00 05") + b"hello"

# Vector 9: ERROR after a ZAP reply of 400.
ERROR_400 = hx("04 0a 05 45 52 52 4f 52 03 34 30 30")

# (wire bytes, decoded items) for every framing vector.
DECODE_VECTORS: dict[str, tuple[bytes, list[Item]]] = {
    "ready-dealer": (
        READY_DEALER,
        [Command(b"READY", READY_DEALER[8:])],
    ),
    "ready-router": (READY_ROUTER, [Command(b"READY", READY_ROUTER[8:])]),
    "ready-pull": (READY_PULL, [Command(b"READY", READY_PULL[8:])]),
    "subscribe": (SUBSCRIBE_TOPIC, [Command(b"SUBSCRIBE", b"topic")]),
    "cancel": (CANCEL_TOPIC, [Command(b"CANCEL", b"topic")]),
    "subscribe-3.0": (SUBSCRIBE_30, [[b"\x01topic"]]),
    "cancel-3.0": (CANCEL_30, [[b"\x00topic"]]),
    "xpub-feed": (
        b"".join(XPUB_FEED),
        [Command(b"SUBSCRIBE", b"cmd"), [b"\x01old"], Command(b"CANCEL", b"cmd")],
    ),
    "req-hi": (REQ_HI, [[b"", b"hi"]]),
    "ping-ttl": (PING_TTL_1500, [Command(b"PING", hx("00 0f"))]),
    "ping-ctx": (PING_CTX, [Command(b"PING", hx("00 00") + b"ctx123")]),
    "pong-ctx": (PONG_CTX, [Command(b"PONG", b"ctx123")]),
    "frame-255": (FRAME_255, [[BODY_255]]),
    "frame-256": (FRAME_256, [[BODY_256]]),
    "long-small": (LONG_HELLO, [[b"hello"]]),
    "error-400": (ERROR_400, [Command(b"ERROR", b"\x03400")]),
}


def feed_chunks(decoder: FrameDecoder, chunks: list[bytes]) -> list[Item]:
    """Feed each chunk through ``feed`` and collect every item."""
    items: list[Item] = []
    for chunk in chunks:
        items += decoder.feed(chunk)
    return items


def recv_into_chunks(decoder: FrameDecoder, stream: bytes, sizes: list[int]) -> list[Item]:
    """Simulate the engine: ``recv_into(read_buffer())`` with reads of at most ``sizes[i]``."""
    items: list[Item] = []
    pos = 0
    turn = 0
    while pos < len(stream):
        region = decoder.read_buffer()
        assert len(region) > 0, "read_buffer() must never be empty"
        want = sizes[turn % len(sizes)] if sizes else len(region)
        turn += 1
        n = min(len(region), max(1, want), len(stream) - pos)
        region[:n] = stream[pos : pos + n]
        pos += n
        items += decoder.commit(n)
    return items
