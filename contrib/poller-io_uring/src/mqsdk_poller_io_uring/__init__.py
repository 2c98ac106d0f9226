"""mqsdk poller backend on Linux io_uring, through ctypes (no C extension).

Each registered fd has one one-shot ``IORING_OP_POLL_ADD`` in flight. A completion
reports the fd; the next ``poll()`` arms it again in the same ``io_uring_enter`` that
waits, and a poll armed on an fd that is still ready completes at once, which gives the
level-triggered behaviour the poller contract asks for. Registering, modifying and
re-arming only write submission entries; the kernel sees them all in one system call per
wait. Multishot polls were measured and lost: see the README.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import sys
import time
from contextlib import suppress
from functools import cache

from mqsdk.plugin import (
    ERROR,
    READ,
    WRITE,
    Availability,
    PollerBackend,
    PollerError,
    check_events,
    hookimpl,
)

from . import _ring

__all__ = ["IoUringPoller", "mqsdk_pollers"]

DISABLED_SYSCTL = "/proc/sys/kernel/io_uring_disabled"

_POLLIN = getattr(select, "POLLIN", 0x001)
_POLLPRI = getattr(select, "POLLPRI", 0x002)
_POLLOUT = getattr(select, "POLLOUT", 0x004)
_POLLERR = getattr(select, "POLLERR", 0x008)
_POLLHUP = getattr(select, "POLLHUP", 0x010)
_POLLNVAL = getattr(select, "POLLNVAL", 0x020)
_POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)

# Interest (READ/WRITE) -> poll mask. POLLERR and POLLHUP are always reported.
_TO_POLL = (0, _POLLIN, _POLLOUT, _POLLIN | _POLLOUT)
_READ_BITS = _POLLIN | _POLLPRI | _POLLHUP | _POLLRDHUP  # a hang-up reads as EOF
_ERROR_BITS = _POLLERR | _POLLNVAL

# Entries in flight beyond the rings' sizes are fine (the submission queue is flushed
# when full, completions beyond the completion ring wait in the kernel's overflow list),
# so the rings stay small: a poller exists per socket that a user thread waits on.
_SQ_ENTRIES = 128
_CQ_ENTRIES = 1024

_FD_BITS = 32
_FD_MASK = (1 << _FD_BITS) - 1
_REMOVAL = 0  # user_data of removals: their rare failure completions are dropped
_MAX_TIMEOUT = 2.0**62 / 1e9  # far beyond any deadline; keeps the timespec in range


class IoUringPoller(PollerBackend):
    """One io_uring per instance; polls are armed one-shot and re-armed in batches."""

    name = "io_uring"
    # Never picked by poller = "auto": measured slower than epoll from Python (README).
    priority = 0

    @classmethod
    def available(cls) -> Availability:
        return _probe()

    def __init__(self) -> None:
        if not (ok := self.available()):
            raise PollerError(ok.reason)
        try:
            self._ring: _ring.Ring | None = _ring.Ring(_SQ_ENTRIES, _CQ_ENTRIES)
        except OSError as e:
            raise PollerError(
                f"io_uring: {_ring.setup_error_reason(e, DISABLED_SYSCTL)}", e.errno
            ) from e
        features = self._ring.features
        # A removal that worked needs no completion (Linux 5.17+); one that found the poll
        # already completed still posts one, with user_data _REMOVAL.
        self._skip_removal_cqe = _ring.SQE_CQE_SKIP_SUCCESS if features & _ring.FEAT_CQE_SKIP else 0
        self._interest: dict[int, int] = {}
        # fd -> user_data of its poll in flight. A completion counts only if its
        # user_data is still the one here: modify and unregister cancel a poll, and the
        # kernel may have completed it already, so stale completions do arrive.
        self._armed: dict[int, int] = {}
        self._to_arm: list[int] = []
        self._removals: list[int] = []  # removals the ring had no room for yet
        self._serial = 0

    # -- interest ----------------------------------------------------------------------

    def register(self, fd: int, events: int) -> None:
        check_events(events)
        if not isinstance(fd, int) or fd < 0:
            raise PollerError(f"io_uring: fd must be a non-negative int, not {fd!r}")
        self._ring_or_raise()
        if fd in self._interest:
            raise PollerError(f"io_uring: fd {fd} is already registered; use modify()")
        try:
            # The poll itself is submitted with the next wait; a closed fd must be
            # refused now, with the OS reason.
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError as e:
            raise PollerError(f"io_uring cannot watch fd {fd}: {e.strerror}", e.errno) from e
        self._interest[fd] = events
        self._to_arm.append(fd)

    def modify(self, fd: int, events: int) -> None:
        check_events(events)
        ring = self._ring_or_raise()
        old = self._interest.get(fd)
        if old is None:
            raise PollerError(f"io_uring: fd {fd} is not registered; use register()")
        if old == events:
            return
        self._interest[fd] = events
        in_flight = self._armed.pop(fd, None)
        if in_flight is not None:
            self._remove(ring, in_flight)
            self._to_arm.append(fd)

    def unregister(self, fd: int) -> None:
        if self._interest.pop(fd, None) is None:
            raise PollerError(f"io_uring: fd {fd} is not registered")
        in_flight = self._armed.pop(fd, None)
        ring = self._ring
        if in_flight is not None and ring is not None:
            self._remove(ring, in_flight)
            # Submitted now, not with the next wait: a poll in flight holds a reference
            # to the file, so a socket closed after this call would otherwise stay open
            # (no FIN to the peer) until this poller next waits, which may be never.
            with suppress(OSError):  # still queued if refused: the next wait submits it
                ring.submit()

    def _remove(self, ring: _ring.Ring, user_data: int) -> None:
        """Queue the removal of a poll in flight (with the next wait if the ring is full
        and the kernel takes nothing now). Its completion, if any, is stale from now on."""
        try:
            queued = ring.push(
                _ring.OP_POLL_REMOVE, self._skip_removal_cqe, -1, user_data, 0, 0, _REMOVAL
            )
        except OSError:
            queued = False
        if not queued:
            self._removals.append(user_data)

    # -- waiting -----------------------------------------------------------------------

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        ring = self._ring
        if ring is None:
            raise PollerError("io_uring: the poller is closed")
        try:
            if self._removals:
                self._retry_removals(ring)
            if self._to_arm and not self._arm(ring):
                timeout = 0  # some fds could not be armed: take completions, try again
            if (timeout is not None and timeout <= 0) or ring.cq_ready():
                # A deadline already past means "don't wait", never "forever".
                ring.submit()  # if refused for now, the completions are taken below
            else:
                self._wait(ring, timeout)
            done = ring.reap()
            if ring.cq_overflowed():
                done += self._drain_overflow(ring)
        except OSError as e:
            raise PollerError(f"io_uring_enter failed: {e.strerror}", e.errno) from e
        if not done:
            return []
        armed, interest, to_arm = self._armed, self._interest, self._to_arm
        ready: dict[int, int] = {}
        for user_data, result in done:
            fd = user_data & _FD_MASK
            if armed.get(fd) != user_data:
                continue  # a cancelled poll, or a removal that found nothing to remove
            del armed[fd]
            to_arm.append(fd)  # level-triggered: asked again on the next wait
            if result >= 0:
                events = (READ if result & _READ_BITS else 0) | (WRITE if result & _POLLOUT else 0)
                if result & _ERROR_BITS:
                    events |= ERROR | interest[fd]
            else:
                # EBADF: closed before its poll was armed. Reported as the poll(2)
                # backend reports POLLNVAL, until the owner unregisters it.
                events = ERROR | interest[fd]
            if events:
                ready[fd] = events
        return list(ready.items())

    def _arm(self, ring: _ring.Ring) -> bool:
        """Queue a poll for each fd waiting for one; False if some are left for later."""
        interest, armed, to_poll = self._interest, self._armed, _TO_POLL
        serial = self._serial
        polls = []
        for fd in self._to_arm:
            events = interest.get(fd)
            if events is None or fd in armed:
                continue  # unregistered since, or listed twice
            # 32 bits of serial beside the fd: wraps after 2**32 arms (hours at full
            # speed), long after any completion it could be confused with was taken.
            serial = serial + 1 if serial < _FD_MASK else 1
            user_data = (serial << _FD_BITS) | fd
            polls.append((fd, to_poll[events], user_data))
            armed[fd] = user_data
        self._serial = serial
        self._to_arm.clear()
        queued = ring.push_many(_ring.OP_POLL_ADD, 0, 0, 0, polls)
        if queued == len(polls):
            return True
        for fd, _events, _user_data in polls[queued:]:
            del armed[fd]
            self._to_arm.append(fd)
        return False

    def _retry_removals(self, ring: _ring.Ring) -> None:
        removals = self._removals
        while removals and ring.push(
            _ring.OP_POLL_REMOVE, self._skip_removal_cqe, -1, removals[0], 0, 0, _REMOVAL
        ):
            del removals[0]

    def _wait(self, ring: _ring.Ring, timeout: float | None) -> None:
        if timeout is not None and timeout > _MAX_TIMEOUT:
            timeout = _MAX_TIMEOUT
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                ring.enter(1, timeout)
                return
            except OSError as e:
                if e.errno in (errno.ETIME, errno.EBUSY, errno.EAGAIN):
                    return  # timed out, or completions must be taken first (overflow)
                if e.errno != errno.EINTR:
                    raise
            # Interrupted: Python runs the signal handlers before the next call (an
            # exception they raise propagates, as with epoll); wait out the rest.
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return
            if ring.cq_ready():
                return

    def _drain_overflow(self, ring: _ring.Ring) -> list[tuple[int, int]]:
        # The completion ring filled up; the rest waits in the kernel's overflow list
        # and moves into the ring with each GETEVENTS enter.
        done: list[tuple[int, int]] = []
        while ring.cq_overflowed():
            ring.submit()
            more = ring.reap()
            if not more:
                break
            done += more
        return done

    # -- lifetime ----------------------------------------------------------------------

    def _ring_or_raise(self) -> _ring.Ring:
        ring = self._ring
        if ring is None:
            raise PollerError("io_uring: the poller is closed")
        return ring

    def close(self) -> None:
        ring, self._ring = self._ring, None
        if ring is not None:
            ring.close()  # the kernel cancels the polls still in flight
        self._interest.clear()
        self._armed.clear()
        self._to_arm.clear()
        self._removals.clear()


@cache
def _probe() -> Availability:
    """Make a ring and run one NOP through it: setup, mmap and enter must all work
    (a seccomp policy may allow one system call and not the other)."""
    if not sys.platform.startswith("linux"):
        return Availability.no(f"io_uring is a Linux API and this OS is {sys.platform}")
    try:
        ring = _ring.Ring(2, 4)
    except OSError as e:
        return Availability.no(_ring.setup_error_reason(e, DISABLED_SYSCTL))
    try:
        missing = _ring.EXT_ARG_NEEDED & ~ring.features
        if missing:
            return Availability.no(
                f"io_uring on Linux {os.uname().release} lacks features this backend needs "
                f"(IORING_FEAT_NODROP, Linux 5.5; IORING_FEAT_EXT_ARG, Linux 5.11): "
                f"features {ring.features:#x}"
            )
        ring.push(_ring.OP_NOP, 0, -1, 0, 0, 0, 1)
        try:
            ring.enter(1, 1.0)
        except OSError as e:
            return Availability.no(f"io_uring_enter failed: {e.strerror} (errno {e.errno})")
        if ring.reap() != [(1, 0)]:
            return Availability.no("io_uring_enter did not complete a NOP")
        return Availability.yes()
    finally:
        ring.close()


@hookimpl
def mqsdk_pollers() -> list[type[PollerBackend]]:
    return [IoUringPoller]
