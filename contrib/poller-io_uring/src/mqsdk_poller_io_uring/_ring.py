"""One io_uring instance through ctypes: the two system calls and the shared rings.

Nothing here knows about mqsdk. ``Ring`` maps the submission queue, its entries and the
completion queue into this process (Python's ``mmap``), writes submission entries with
``struct`` and reads completions through ``memoryview`` casts, so the only foreign call
per wait is ``io_uring_enter`` itself (ctypes releases the GIL around it).

No memory barriers are needed here: without SQPOLL the kernel reads the submission tail
and writes the completion tail only inside ``io_uring_enter`` (and the task work it runs),
and a system call orders memory on every architecture.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
import sys
from typing import Final

__all__ = ["EXT_ARG_NEEDED", "Ring", "setup_error_reason"]

# The io_uring system calls kept one number on every architecture when they were added
# (Linux 5.1's unified table), except alpha.
_SYS_IO_URING_SETUP: Final = 535 if os.uname().machine == "alpha" else 425
_SYS_IO_URING_ENTER: Final = 536 if os.uname().machine == "alpha" else 426

SETUP_CQSIZE: Final = 1 << 3
SETUP_CLAMP: Final = 1 << 4

FEAT_SINGLE_MMAP: Final = 1 << 0
FEAT_NODROP: Final = 1 << 1
FEAT_EXT_ARG: Final = 1 << 8
FEAT_CQE_SKIP: Final = 1 << 11
EXT_ARG_NEEDED: Final = FEAT_NODROP | FEAT_EXT_ARG
"""Features this module relies on: CQEs never dropped (5.5) and a timeout passed to
io_uring_enter itself (5.11)."""

ENTER_GETEVENTS: Final = 1 << 0
ENTER_EXT_ARG: Final = 1 << 3

SQ_CQ_OVERFLOW: Final = 1 << 1

OP_NOP: Final = 0
OP_POLL_ADD: Final = 6
OP_POLL_REMOVE: Final = 7

SQE_CQE_SKIP_SUCCESS: Final = 1 << 6

POLL_ADD_MULTI: Final = 1 << 0

_OFF_SQ_RING: Final = 0
_OFF_CQ_RING: Final = 0x8000000
_OFF_SQES: Final = 0x10000000

# struct io_uring_sqe (64 bytes): opcode, flags, ioprio, fd, off, addr, len,
# poll32_events, user_data, buf_index, personality, file_index, addr3, pad.
_SQE = struct.Struct("=BBHiQQIIQHHiQQ")
_SQE_SIZE: Final = 64
_CQE_SIZE: Final = 16

# The kernel reads a 32-bit poll mask as two swapped halves on big-endian machines
# (IORING_FEAT_POLL_32BITS keeps the 16-bit field's position).
_BIG_ENDIAN: Final = sys.byteorder == "big"


class _SqOffsets(ctypes.Structure):
    _fields_ = [
        ("head", ctypes.c_uint32),
        ("tail", ctypes.c_uint32),
        ("ring_mask", ctypes.c_uint32),
        ("ring_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("dropped", ctypes.c_uint32),
        ("array", ctypes.c_uint32),
        ("resv1", ctypes.c_uint32),
        ("user_addr", ctypes.c_uint64),
    ]


class _CqOffsets(ctypes.Structure):
    _fields_ = [
        ("head", ctypes.c_uint32),
        ("tail", ctypes.c_uint32),
        ("ring_mask", ctypes.c_uint32),
        ("ring_entries", ctypes.c_uint32),
        ("overflow", ctypes.c_uint32),
        ("cqes", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("resv1", ctypes.c_uint32),
        ("user_addr", ctypes.c_uint64),
    ]


class _Params(ctypes.Structure):
    _fields_ = [
        ("sq_entries", ctypes.c_uint32),
        ("cq_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("sq_thread_cpu", ctypes.c_uint32),
        ("sq_thread_idle", ctypes.c_uint32),
        ("features", ctypes.c_uint32),
        ("wq_fd", ctypes.c_uint32),
        ("resv", ctypes.c_uint32 * 3),
        ("sq_off", _SqOffsets),
        ("cq_off", _CqOffsets),
    ]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_int64)]


class _GeteventsArg(ctypes.Structure):
    _fields_ = [
        ("sigmask", ctypes.c_uint64),
        ("sigmask_sz", ctypes.c_uint32),
        ("min_wait_usec", ctypes.c_uint32),
        ("ts", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_setup_call = ctypes.CFUNCTYPE(
    ctypes.c_long, ctypes.c_long, ctypes.c_uint32, ctypes.POINTER(_Params), use_errno=True
)(("syscall", _libc))
# io_uring_enter is the one call per wait, so it skips ctypes' per-argument conversion
# (argtypes), measured at half its cost: Python ints go as C ints (libffi widens them to
# the registers syscall() reads; every value here is a small non-negative int) and the
# pointer and size_t arguments as prebuilt ctypes objects.
_enter_call = ctypes.CDLL(None, use_errno=True).syscall
_enter_call.restype = ctypes.c_long
_NULL = ctypes.c_void_p(None)
_ZERO_SIZE = ctypes.c_size_t(0)


def io_uring_setup(entries: int, params: _Params) -> int:
    """The raw system call; raises OSError with the kernel's errno."""
    fd = _setup_call(_SYS_IO_URING_SETUP, entries, ctypes.byref(params))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(fd)


def setup_error_reason(error: OSError, disabled_sysctl: str) -> str:
    """Why io_uring_setup failed, in words: the errno alone says little here."""
    code = error.errno
    if code == errno.ENOSYS:
        return (
            "io_uring_setup: ENOSYS: this kernel has no io_uring (older than Linux 5.1, or "
            "built without CONFIG_IO_URING), or a seccomp filter refuses it (container "
            f"runtimes' default profiles do){_seccomp_note()}"
        )
    if code == errno.EPERM:
        disabled = _read_sysctl(disabled_sysctl)
        if disabled == "2":
            return f"io_uring is disabled for every process ({disabled_sysctl} = 2)"
        if disabled == "1":
            return (
                f"io_uring is limited to the group in kernel.io_uring_group "
                f"({disabled_sysctl} = 1) and this process is not in it"
            )
        return f"io_uring_setup: EPERM: refused{_seccomp_note()}"
    if code == errno.ENOMEM:
        return (
            "io_uring_setup: ENOMEM: no memory for the rings "
            "(RLIMIT_MEMLOCK limits them on kernels before 5.12)"
        )
    return f"io_uring_setup failed: {error.strerror} (errno {code})"


def _read_sysctl(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _seccomp_note() -> str:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Seccomp:") and line.split()[1] == "2":
                    return "; this process runs under a seccomp filter"
    except (OSError, IndexError):
        pass
    return ""


class Ring:
    """An io_uring with its rings mapped; the caller queues entries, then ``enter()``."""

    def __init__(self, sq_entries: int, cq_entries: int) -> None:
        params = _Params()
        params.flags = SETUP_CQSIZE | SETUP_CLAMP
        params.cq_entries = cq_entries
        fd = io_uring_setup(sq_entries, params)  # close-on-exec, as the kernel makes it
        self.fd = fd
        self._maps: list[mmap.mmap] = []
        self._views: list[memoryview] = []
        try:
            self._map(params)
        except BaseException:
            self.close()
            raise
        self.features: int = params.features
        self.sq_entries: int = params.sq_entries
        self.cq_entries: int = params.cq_entries
        self._sqe_at = [(i & self._sq_mask) * _SQE_SIZE for i in range(params.sq_entries)]
        self._ts = _Timespec()
        self._arg = _GeteventsArg()
        self._arg.ts = ctypes.addressof(self._ts)
        self._arg_address = ctypes.c_void_p(ctypes.addressof(self._arg))
        self._arg_size = ctypes.c_size_t(ctypes.sizeof(self._arg))

    def _map(self, params: _Params) -> None:
        sq, cq = params.sq_off, params.cq_off
        sq_size = sq.array + params.sq_entries * 4
        cq_size = cq.cqes + params.cq_entries * _CQE_SIZE
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        if params.features & FEAT_SINGLE_MMAP:
            sq_map = cq_map = mmap.mmap(
                self.fd, max(sq_size, cq_size), flags, prot, offset=_OFF_SQ_RING
            )
            self._maps.append(sq_map)
        else:
            sq_map = mmap.mmap(self.fd, sq_size, flags, prot, offset=_OFF_SQ_RING)
            self._maps.append(sq_map)
            cq_map = mmap.mmap(self.fd, cq_size, flags, prot, offset=_OFF_CQ_RING)
            self._maps.append(cq_map)
        self.sqes = mmap.mmap(self.fd, params.sq_entries * _SQE_SIZE, flags, prot, offset=_OFF_SQES)
        self._maps.append(self.sqes)
        sq_words = self._view(memoryview(sq_map).cast("I"))
        cq_words = sq_words if cq_map is sq_map else self._view(memoryview(cq_map).cast("I"))
        self._sq_words = sq_words
        self._cq_words = cq_words
        self._sq_head = sq.head // 4
        self._sq_tail_at = sq.tail // 4
        self._sq_flags = sq.flags // 4
        self._sq_mask = sq_words[sq.ring_mask // 4]
        self._cq_head = cq.head // 4
        self._cq_tail = cq.tail // 4
        self._cq_mask = cq_words[cq.ring_mask // 4]
        cqes = self._view(memoryview(cq_map)[cq.cqes : cq.cqes + params.cq_entries * _CQE_SIZE])
        self._cqe_u64 = self._view(cqes.cast("Q"))
        self._cqe_i32 = self._view(cqes.cast("i"))
        # Entry i of the submission array names entry i of the SQE array, once and for
        # all: entries are then used strictly in ring order.
        array = sq.array // 4
        for i in range(params.sq_entries):
            sq_words[array + i] = i
        self.sq_tail: int = sq_words[self._sq_tail_at]

    def _view(self, view: memoryview) -> memoryview:
        self._views.append(view)
        return view

    # -- submission ---------------------------------------------------------------------

    def push(
        self,
        opcode: int,
        sqe_flags: int,
        fd: int,
        addr: int,
        length: int,
        events: int,
        user_data: int,
    ) -> bool:
        """Queue one entry; False if the ring is full and the kernel takes none now."""
        return self.push_many(opcode, sqe_flags, addr, length, [(fd, events, user_data)]) == 1

    def push_many(
        self,
        opcode: int,
        sqe_flags: int,
        addr: int,
        length: int,
        entries: list[tuple[int, int, int]],
    ) -> int:
        """Queue one entry per ``(fd, events, user_data)``, submitting whenever the ring
        fills up; returns how many were queued (fewer only if the kernel refuses to take
        entries until its completions are taken)."""
        words, tail_at, head_at = self._sq_words, self._sq_tail_at, self._sq_head
        sqes, sqe_at, mask, pack = self.sqes, self._sqe_at, self._sq_mask, _SQE.pack_into
        tail = self.sq_tail
        room = self.sq_entries - ((tail - words[head_at]) & 0xFFFFFFFF)
        queued = 0
        for fd, poll_events, user_data in entries:
            if not room:
                words[tail_at] = self.sq_tail = tail
                self.submit()
                room = self.sq_entries - ((tail - words[head_at]) & 0xFFFFFFFF)
                if not room:
                    break
            events = (
                ((poll_events << 16) | (poll_events >> 16)) & 0xFFFFFFFF
                if _BIG_ENDIAN
                else poll_events
            )
            pack(
                sqes,
                sqe_at[tail & mask],
                opcode,
                sqe_flags,
                0,
                fd,
                0,
                addr,
                length,
                events,
                user_data,
                0,
                0,
                0,
                0,
                0,
            )
            tail = (tail + 1) & 0xFFFFFFFF
            room -= 1
            queued += 1
        words[tail_at] = self.sq_tail = tail
        return queued

    def submit(self) -> bool:
        """Hand the kernel what is queued, without waiting. False if it takes nothing
        until completions are taken (EBUSY, EAGAIN); other refusals raise OSError."""
        while True:
            try:
                self.enter(0, None)
                return True
            except InterruptedError:
                continue
            except (BlockingIOError, OSError) as e:
                if e.errno in (errno.EBUSY, errno.EAGAIN):
                    return False
                raise

    def enter(self, min_complete: int, timeout: float | None) -> int:
        """Submit what is queued and wait for ``min_complete`` completions, at most
        ``timeout`` seconds (None: no limit). Raises OSError (EINTR, ETIME, ...)."""
        to_submit = (self.sq_tail - self._sq_words[self._sq_head]) & 0xFFFFFFFF
        if min_complete and timeout is not None:
            ts = self._ts
            seconds = int(timeout)
            ts.tv_sec = seconds
            ts.tv_nsec = int((timeout - seconds) * 1e9)
            result = _enter_call(
                _SYS_IO_URING_ENTER,
                self.fd,
                to_submit,
                min_complete,
                ENTER_GETEVENTS | ENTER_EXT_ARG,
                self._arg_address,
                self._arg_size,
            )
        else:
            # GETEVENTS also moves completions from the overflow list into the ring.
            result = _enter_call(
                _SYS_IO_URING_ENTER,
                self.fd,
                to_submit,
                min_complete,
                ENTER_GETEVENTS
                if min_complete or self._sq_words[self._sq_flags] & SQ_CQ_OVERFLOW
                else 0,
                _NULL,
                _ZERO_SIZE,
            )
        if result < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return int(result)

    def cq_overflowed(self) -> bool:
        """Completions wait in the kernel's overflow list (the ring was full)."""
        return bool(self._sq_words[self._sq_flags] & SQ_CQ_OVERFLOW)

    # -- completion ---------------------------------------------------------------------

    def cq_ready(self) -> int:
        words = self._cq_words
        tail: int = words[self._cq_tail]
        head: int = words[self._cq_head]
        return (tail - head) & 0xFFFFFFFF

    def reap(self) -> list[tuple[int, int]]:
        """Take every completion in the ring: ``[(user_data, res), ...]``."""
        words = self._cq_words
        head = words[self._cq_head]
        tail = words[self._cq_tail]
        if head == tail:
            return []
        mask = self._cq_mask
        u64, i32 = self._cqe_u64, self._cqe_i32
        done = []
        while head != tail:
            slot = head & mask
            done.append((u64[2 * slot], i32[4 * slot + 2]))
            head = (head + 1) & 0xFFFFFFFF
        words[self._cq_head] = head  # the kernel may reuse those slots from now on
        return done

    def close(self) -> None:
        """Unmap and close; the kernel cancels whatever is still in flight. Idempotent."""
        for view in reversed(self._views):
            view.release()
        self._views.clear()
        for mapped in self._maps:
            mapped.close()
        self._maps.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
