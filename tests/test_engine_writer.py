"""The engine's write watch follows its ``_writer_armed`` flag whatever the threads' order.

A connection whose OS socket filled is "armed": the I/O thread watches its fd for room.
User threads (direct sends) and the I/O thread both arm and disarm it. When user threads
posted their add/remove requests, a user thread's stale "remove" could run after the I/O
thread's newer arm and leave the flag saying "watched" while nobody watched: a shared
socket's senders then waited for good (review 31, finding 1). Here that order is forced
step by step with events; no timing is involved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk.testing.helpers import WAIT, wait_until


def _one_engine(sock: mqsdk.Socket) -> StreamEngine:
    wait_until(lambda: len(sock._engines) == 1, "the tcp connection is up")
    (engine,) = sock._engines.values()
    return engine


def _in_io_thread(engine: StreamEngine, step: Callable[[], object]) -> threading.Event:
    """Post ``step`` to the engine's I/O thread; the event is set once it ran."""
    done = threading.Event()

    def run() -> None:
        try:
            step()
        finally:
            done.set()

    engine.reactor.call_soon(run)
    return done


def test_a_user_threads_late_disarm_does_not_undo_the_io_threads_newer_arm(
    ctx: mqsdk.Context,
) -> None:
    pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
    pull.linger = push.linger = 0
    pull.bind("tcp://127.0.0.1:*")
    push.connect(pull.last_endpoint)
    engine = _one_engine(push)
    armed_in_io_thread = threading.Event()
    disarm_posted = threading.Event()
    seen: dict[str, bool] = {}

    def io_thread_arms_twice() -> None:
        # The OS socket filled (as in a flush by the I/O thread): watch for room.
        engine._arm_writer()
        armed_in_io_thread.set()
        # Meanwhile a user thread flushed everything, disarmed, and posted its request
        # to the mailbox behind this call. Now the I/O thread fills the socket again.
        assert disarm_posted.wait(WAIT), "the user thread never disarmed"
        engine._arm_writer()

    def record() -> None:
        # Runs after the user thread's request: the watch must match the flag.
        seen["armed"] = engine._writer_armed
        seen["watched"] = engine.fd in engine.reactor._writers

    first_done = _in_io_thread(engine, io_thread_arms_twice)
    assert armed_in_io_thread.wait(WAIT), "the I/O thread never ran the first step"
    with engine.lock:
        engine._disarm_writer()  # a user thread's direct send wrote everything
    recorded = _in_io_thread(engine, record)
    disarm_posted.set()
    assert first_done.wait(WAIT) and recorded.wait(WAIT), "the I/O thread is stuck"
    assert seen == {"armed": True, "watched": True}, (
        f"the write watch does not follow the flag: {seen} (a full connection that "
        "nobody watches would never be written again)"
    )
