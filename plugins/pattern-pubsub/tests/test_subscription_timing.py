"""A subscription takes effect without waiting for the I/O thread's turn at the GIL.

The I/O thread needs the GIL, and a busy user's thread holds it for up to the switch
interval at a time, and holds the connection's lock whenever it lets go of the GIL in a
read. libzmq's I/O threads run beside the application, so programs (and pyzmq's own
tests) count on a subscription made in one line reaching the publisher by the next.
"""

from __future__ import annotations

import time

import mqsdk

DEADLINE = 10.0  # seconds: a bound for a failure, never a measure


def _pair(ctx: mqsdk.Context) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    pub = ctx.socket(mqsdk.PUB)
    pub.linger = 0
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = ctx.socket(mqsdk.SUB)
    sub.linger = 0
    sub.connect(f"tcp://127.0.0.1:{port}")
    # Connected and greeted: the PUB has seen a first subscription.
    sub.subscribe(b"warm-up")
    assert pub.wait_for_subscribers(1, timeout=DEADLINE), "the SUB never connected"
    return pub, sub


def test_a_subscription_leaves_while_the_subscriber_polls_in_a_loop() -> None:
    """Before: the SUBSCRIBE waited for the I/O thread, which found the connection's lock
    taken by the polling thread every time it got the GIL: it never left."""
    with mqsdk.Context() as ctx:
        pub, sub = _pair(ctx)
        sub.subscribe(b"news")
        deadline = time.monotonic() + DEADLINE
        while not sub.poll(0):
            assert time.monotonic() < deadline, "the subscription never reached the PUB"
            pub.send(b"news: still here?")
        assert sub.recv().startswith(b"news")


def test_a_message_published_right_after_a_subscription_reaches_it() -> None:
    """Subscribe, then publish at once from the same thread: the PUB reads the waiting
    subscription before it routes its first message, as libzmq does."""
    with mqsdk.Context() as ctx:
        pub, sub = _pair(ctx)
        for round_ in range(20):
            topic = b"topic-%d" % round_
            sub.subscribe(topic)
            pub.send(topic + b" payload")
            sub.rcvtimeo = int(DEADLINE * 1000)
            assert sub.recv() == topic + b" payload", f"round {round_}: message not received"
            # The PUB's next send starts a new burst once it waited (see _send_message).
            assert pub.poll(0, mqsdk.POLLOUT)
            pub.poll(1, mqsdk.POLLIN)  # nothing to read on a PUB: a short wait
