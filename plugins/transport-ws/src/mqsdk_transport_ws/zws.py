"""ZWS 2.0 (ZeroMQ RFC 45) as a byte-stream translator between the kernel's ZMTP and
WebSocket frames.

The kernel runs ZMTP 3 over whatever socket a stream transport gives it. ZWS carries the
same mechanisms (NULL, PLAIN, CURVE) and the same commands and messages, but with no
greeting (the mechanism is the WebSocket subprotocol, ``ZWS2.0/NULL``...) and each ZMTP
frame as one binary WebSocket message whose first byte is a flag (0 last frame, 1 more,
2 command). :class:`ZwsStream` turns one into the other, both ways, inside the socket
object the transport hands the kernel, so the kernel's engine and its hot path stay
exactly as they are for tcp:

* outgoing, it swallows the kernel's 64-byte greeting (learning the mechanism from it),
  rewrites each ZMTP frame header as a WebSocket header plus the flag byte, and passes
  bodies through (masked on the client side, as RFC 6455 requires); a heartbeat PING
  command becomes a WebSocket ping;
* incoming, it answers the HTTP upgrade (server) or checks the answer (client), hands
  the kernel a ZMTP greeting made from the subprotocol, and turns each WebSocket message
  back into a ZMTP frame; pings are answered here, a pong becomes a ZMTP PONG and a
  close frame the end of the stream.

The HTTP upgrade itself happens on the first bytes: the client writes its request when
the kernel writes its greeting (only then is the mechanism known), the server answers
when the request is complete. A bad request, a refused upgrade or a malformed frame is a
:class:`ConnectionError` (``EPROTO``) from ``recv_into``: the kernel drops the connection
and reports it (``HANDSHAKE_FAILED_NO_DETAIL`` during the handshake, ``DISCONNECTED``).

A send reports as taken only the input whose translation was written, so the kernel keeps
(and offers again) the rest and waits for the socket to be writable, exactly as with a
plain socket; see :meth:`ZwsStream.send_views`.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import re
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["ZwsStream", "accept_key", "mask_bytes"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's fixed accept-key suffix
_GREETING_SIZE = 64
_MAX_HTTP_HEAD = 8192  # an upgrade request or answer longer than this is refused
_DIRECT_FILL = 256 * 1024  # payloads this big are collected in their own buffer
_READ_CHUNK = 64 * 1024  # a read takes at most this much
# One readiness event reads at most this much (then BlockingIOError: the fd stays
# readable, and the level-triggered pollers come back to it after the other peers).
_READ_BUDGET = 4 * _READ_CHUNK
# Bytes read into a big payload's own buffer cost no frame parsing: they count for
# 1/_FILL_BUDGET_SHARE of the budget, so a message of a few MiB still arrives within
# one readiness event (going back to the poller between its parts halved the rate).
_FILL_BUDGET_SHARE = 16
# A fragmented message may have this many fragments, plus one per _FRAGMENT_UNIT bytes
# of payload: each fragment costs a header's parsing, and empty ones add no payload for
# maxmsgsize to count. libzmq refuses fragments outright; browsers may send them.
_FREE_FRAGMENTS = 1024
_FRAGMENT_UNIT = 1024
_WRITE_BATCH = 256 * 1024
_IOV_MAX = 512
_BUFFERED_COMMAND = 1024  # commands up to this size are looked at whole (PING -> ws ping)
_MECHANISM_NAME = re.compile(rb"[A-Z0-9_-]{1,20}")

# WebSocket opcodes (RFC 6455 section 5.2) and the ZWS flag byte's bits (RFC 45).
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_ZWS_MORE, _ZWS_COMMAND = 0x01, 0x02
# ZMTP frame flags (ZMTP 3, RFC 23).
_ZMTP_MORE, _ZMTP_LONG, _ZMTP_COMMAND = 0x01, 0x02, 0x04

# Phases of a connection.
_UPGRADING = 0
_OPEN = 1
_CLOSING = 2  # a close frame came: the stream ends once what came before it is read

# Close codes a peer may send (RFC 6455 section 7.4 and IANA's registry); any other is
# answered with 1002 (protocol error), never echoed (1005 and 1006 must not be sent).
_NORMAL_CLOSE, _PROTOCOL_ERROR_CLOSE, _BAD_DATA_CLOSE = 1000, 1002, 1007


def _valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


# Reads land in one scratch buffer per thread and are copied out at once, so an idle
# or half-open connection holds no read buffer of its own (threads, not connections,
# share one: the I/O thread and a user's thread may read two connections at once).
_scratch = threading.local()


def _read_scratch() -> memoryview:
    try:
        view: memoryview = _scratch.view
    except AttributeError:
        view = _scratch.view = memoryview(bytearray(_READ_CHUNK))
    return view


def accept_key(key: str | bytes) -> str:
    """The ``Sec-WebSocket-Accept`` value answering ``Sec-WebSocket-Key`` ``key``."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return base64.b64encode(hashlib.sha1(raw + _GUID).digest()).decode("ascii")


_MASK_SLICE = 16 * 1024  # a multiple of 4, so every slice starts at key byte 0


def mask_bytes(data: Any, key: bytes, phase: int = 0) -> bytes:
    """XOR ``data`` with the 4-byte mask ``key``, starting at byte ``phase`` of the key
    (RFC 6455 section 5.3: byte ``i`` goes with key byte ``(i + phase) % 4``).

    Python has no XOR over byte strings, but it XORs integers in C: the payload is read
    as one little-endian integer and XORed with the key repeated to the same length.
    Long payloads go in fixed slices, so that one key integer serves every slice and
    the integers stay small enough to be quick."""
    size = len(data)
    if not size:
        return b""
    if phase:
        key = key[phase:] + key[:phase]
    span = min(size, _MASK_SLICE)
    key_stream = int.from_bytes((key * (span // 4 + 1))[:span], "little")
    if size <= _MASK_SLICE:
        return (int.from_bytes(data, "little") ^ key_stream).to_bytes(size, "little")
    source = memoryview(data).cast("B")
    out = bytearray()
    for start in range(0, size, _MASK_SLICE):
        piece = source[start : start + _MASK_SLICE]
        length = len(piece)
        stream = key_stream if length == _MASK_SLICE else key_stream & ((1 << 8 * length) - 1)
        out += (int.from_bytes(piece, "little") ^ stream).to_bytes(length, "little")
    return bytes(out)


def _close_answer(payload: bytes) -> int:
    """The code to answer a close frame with: its own when it is one a peer may send,
    else why it is wrong (RFC 6455 sections 5.5.1, 7.1.6 and 7.4)."""
    if not payload:
        return _NORMAL_CLOSE  # no code given; 1005 ("none") must not go on the wire
    if len(payload) < 2 or not _valid_close_code(int.from_bytes(payload[:2], "big")):
        return _PROTOCOL_ERROR_CLOSE
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return _BAD_DATA_CLOSE
    return int.from_bytes(payload[:2], "big")


def _protocol_error(text: str) -> ConnectionError:
    return ConnectionError(errno.EPROTO, text)


def _ws_header(opcode: int, size: int, mask: bytes | None) -> bytes:
    """A final frame's header for a payload of ``size`` bytes (masked when ``mask``)."""
    bit = 0x80 if mask is not None else 0
    if size < 126:
        head = bytes((0x80 | opcode, bit | size))
    elif size < 65536:
        head = bytes((0x80 | opcode, bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, bit | 127)) + size.to_bytes(8, "big")
    return head + mask if mask is not None else head


def _zmtp_header(flags: int, size: int) -> bytes:
    if size > 255:
        return bytes((flags | _ZMTP_LONG,)) + size.to_bytes(8, "big")
    return bytes((flags, size))


def _greeting(mechanism: bytes, as_server: bool) -> bytes:
    """The ZMTP 3.0 greeting the kernel gets in place of the peer's (ZWS sends none).

    3.0, not 3.1: SUB then subscribes with a message (``\\x01topic``), which is what
    ZWS peers (libzmq) send and expect; 3.1's SUBSCRIBE command has no ZWS form."""
    return (
        b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + mechanism.ljust(20, b"\0")
        + (b"\x01" if as_server else b"\x00") + b"\0" * 31
    )  # fmt: skip


class ZwsStream:
    """The ZWS translation of one connection; mixed into the socket classes.

    The concrete class provides the raw byte I/O (:meth:`raw_recv_into`,
    :meth:`raw_write`) and calls :meth:`zws_setup` once, before the kernel uses it.
    """

    # -- raw I/O, provided by the socket class ------------------------------------------

    def raw_recv_into(self, view: memoryview) -> int:
        """Read into ``view``; 0 at end of stream; BlockingIOError when nothing is there."""
        raise NotImplementedError

    def raw_write(self, views: list[memoryview]) -> int:
        """Write a prefix of ``views`` as one write; BlockingIOError when full."""
        raise NotImplementedError

    def raw_buffered(self) -> int:
        """Bytes read off the fd already but not yet returned (TLS), which the fd no
        longer signals: reading must not stop for fairness while there are some."""
        return 0

    # -- set-up ------------------------------------------------------------------------------

    def zws_setup(
        self,
        *,
        client: bool,
        host: str,
        path: str,
        maxmsgsize: int,
        allowed_origins: frozenset[str] = frozenset(),
    ) -> None:
        self._client = client
        self._host = host  # the Host header the client sends
        self._path = path
        self._maxmsgsize = maxmsgsize
        # Origins (lowercase) whose browser pages may connect (server); empty: any.
        self._allowed_origins = allowed_origins
        self._refusal: str | None = None  # why the upgrade was refused (answered once)
        self._phase = _UPGRADING
        self._mechanism: bytes | None = None  # from the kernel's greeting
        self._as_server = False
        self._key = ""  # the client's Sec-WebSocket-Key
        self._protocol = b""  # the subprotocol offered (client) or chosen (server)
        # Outgoing: the ZMTP parser's state...
        self._greeting_in = bytearray()
        self._head = bytearray()  # a ZMTP frame header read in part
        self._body_left = 0  # bytes of the current frame's body still to come
        self._mask_key: bytes | None = None  # the current frame's mask (client)
        self._mask_phase = 0
        self._command: bytearray | None = None  # a small command being collected whole
        self._command_size = 0
        # Without a mechanism (the "ZWS2.0" subprotocol, which is all a browser can ask
        # for: its WebSocket API refuses "/" in a subprotocol), there is no READY on the
        # wire; the routing-id message stands in for it, each way.
        self._bare = False
        self._socket_type = b""  # ours, from the kernel's READY
        self._peer_routing_id: bytes | None = None  # received, waiting for our type
        self._awaiting_routing_id = False
        # ...and what it wrote: segments [data, weight] where weight is how many input
        # bytes the segment stands for (-1: one per byte written, for bodies).
        self._out: deque[tuple[memoryview, int]] = deque()
        self._out_offset = 0  # bytes of _out[0] written already
        self._taken_ahead = 0  # input translated but not yet reported as sent
        self._credit = 0  # of which written already
        self._mask_pool = b""
        self._mask_at = 0
        self._control: deque[bytes] = deque()  # pongs, the close, the 101 answer
        self._control_written = 0  # bytes of _control[0] written already
        self._pong_queued = False  # _control[-1] is a pong, not started: replaceable
        self._close_sent = False
        # Incoming.
        self._rx = bytearray()  # raw bytes not decoded yet
        # A big payload, collected apart from _rx as its bytes arrive (never ahead of
        # them: a peer's announced length costs nothing until it sends the bytes).
        self._fill: bytearray | None = None
        self._fill_at = 0  # bytes of it arrived (it may be allocated further)
        self._fill_size = 0
        self._fill_header: tuple[int, int, bytes | None] = (0, 0, None)
        self._fragments: bytearray | None = None  # a fragmented message's payload so far
        self._fragments_size = 0
        self._fragment_count = 0
        self._decoded: deque[memoryview] = deque()  # ZMTP bytes for the kernel
        self._decoded_size = 0
        self._eof = False

    # -- for the kernel: reading -------------------------------------------------------------

    def zws_pending(self) -> int:
        return self._decoded_size

    def zws_recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        if not self._decoded_size:
            self._read_more()
            if not self._decoded_size:
                return 0  # end of stream (_read_more raised if merely nothing yet)
        target = memoryview(buffer).cast("B")
        limit = len(target) if not nbytes else min(nbytes, len(target))
        done = 0
        decoded = self._decoded
        while decoded and done < limit:
            piece = decoded[0]
            take = min(len(piece), limit - done)
            target[done : done + take] = piece[:take]
            done += take
            if take == len(piece):
                decoded.popleft()
            else:
                decoded[0] = piece[take:]
        self._decoded_size -= done
        return done

    def _read_more(self) -> None:
        """Read and decode until there is something for the kernel or the stream ended;
        BlockingIOError if the socket has nothing more yet, or once this call has read
        _READ_BUDGET bytes that gave the kernel nothing (pings, fragments, a big
        payload's middle): the rest waits for the next readiness event, after the
        socket's other connections had theirs."""
        budget = _READ_BUDGET
        while not self._decoded_size and not self._eof:
            if self._phase == _CLOSING:
                self._eof = True
                return
            if budget <= 0 and not self.raw_buffered():
                raise BlockingIOError(errno.EAGAIN, "ZWS: read budget spent, more to come")
            fill = self._fill
            if fill is None:
                view = _read_scratch()
                n = self.raw_recv_into(view)
                if n == 0:
                    self._eof = True
                    return
                self._rx += view[:n]
                self._decode()
            else:
                at = self._fill_at
                if at < _READ_CHUNK:
                    # Small so far: through the scratch buffer, allocating exactly
                    # what arrives (a bare header costs nothing).
                    view = _read_scratch()[: self._fill_size - at]
                    n = self.raw_recv_into(view)
                    fill += view[:n]
                else:
                    # Straight into the payload's buffer, in reads as big as it allows;
                    # it grows by doubling what arrived, never further ahead.
                    if at == len(fill):
                        fill += bytes(min(self._fill_size - at, at))
                    n = self.raw_recv_into(memoryview(fill)[at:])
                if n == 0:
                    self._eof = True
                    return
                self._fill_at = at + n
                if self._fill_at == self._fill_size:
                    self._finish_fill()
                    self._decode()
                n //= _FILL_BUDGET_SHARE
            budget -= n
            self._flush_control()

    # -- for the kernel: writing -------------------------------------------------------------

    def zws_send_views(self, views: Iterable[Any]) -> int:
        """Take the kernel's bytes (``views`` in order); return how many it may drop.

        The first ``_taken_ahead`` bytes were translated by an earlier call whose output
        is not all reported yet: the kernel offers them again, as it must after a
        partial send, and they are skipped. Only input whose output is written is
        reported (``_credit``: written, not reported yet), so the kernel keeps the rest
        and waits for the socket to be writable, as with a plain socket."""
        offered = [memoryview(data).cast("B") for data in views]
        total = sum(len(view) for view in offered)
        self._credit += self._write_out()
        if self._out or self._mid_frame() or self._flush_control():
            skip = self._taken_ahead
            for view in offered:
                if skip >= len(view):
                    skip -= len(view)
                    continue
                self._translate(view[skip:])
                skip = 0
            self._taken_ahead = max(self._taken_ahead, total)
            self._credit += self._write_out()
        # else: a pong, the 101 answer or a close must go first, and the socket is full.
        reported = min(self._credit, total)
        self._credit -= reported
        self._taken_ahead -= reported
        if not reported and total:
            raise BlockingIOError(errno.EAGAIN, "ZWS: the socket is full")
        return reported

    def zws_close_frame(self) -> None:
        """Say goodbye with a close frame (1000, normal closure) if a frame boundary
        allows it now; best effort: the connection is ending anyway."""
        if self._phase == _UPGRADING or self._close_sent or self._out or self._mid_frame():
            return
        self._queue_close(_NORMAL_CLOSE)
        with contextlib.suppress(OSError):
            self._flush_control()

    # -- outgoing translation ----------------------------------------------------------------

    def _segment(self, data: Any, weight: int) -> None:
        self._out.append((memoryview(data).cast("B"), weight))

    def _mid_frame(self) -> bool:
        return bool(self._head) or self._body_left > 0 or self._command is not None

    def _translate(self, view: memoryview) -> None:
        """Turn kernel bytes into output segments whose weights add up to ``len(view)``."""
        at = 0
        end = len(view)
        while at < end:
            if len(self._greeting_in) < _GREETING_SIZE:
                take = min(_GREETING_SIZE - len(self._greeting_in), end - at)
                self._greeting_in += view[at : at + take]
                at += take
                if len(self._greeting_in) == _GREETING_SIZE:
                    self._segment(self._greeted(), take)
                else:
                    self._segment(b"", take)
                continue
            if self._command is not None:
                take = min(self._command_size - len(self._command), end - at)
                self._command += view[at : at + take]
                at += take
                weight = take
                if len(self._command) == self._command_size:
                    # The whole command stands for its header and body, but only this
                    # call's bytes may be counted here; earlier ones went with b"".
                    self._segment(self._command_frame(bytes(self._command)), weight)
                    self._command = None
                else:
                    self._segment(b"", weight)
                continue
            if self._body_left:
                take = min(self._body_left, end - at)
                piece = view[at : at + take]
                at += take
                self._body_left -= take
                if self._mask_key is not None:
                    piece = memoryview(mask_bytes(piece, self._mask_key, self._mask_phase))
                    self._mask_phase = (self._mask_phase + take) % 4
                self._segment(piece, -1)
                continue
            if not self._head:
                at = self._translate_small(view, at, end)
                if at == end:
                    break
            # A ZMTP frame header: flags, then a 1-byte or 8-byte size.
            head = self._head
            need = 2 if not head or not head[0] & _ZMTP_LONG else 9
            take = min(need - len(head), end - at)
            head += view[at : at + take]
            at += take
            if len(head) < 2 or (head[0] & _ZMTP_LONG and len(head) < 9):
                self._segment(b"", take)
                continue
            flags = head[0]
            size = int.from_bytes(head[1:], "big")
            head.clear()
            if flags & _ZMTP_COMMAND and (size <= _BUFFERED_COMMAND or self._bare):
                self._command = bytearray()
                self._command_size = size
                if size == 0:
                    self._segment(self._command_frame(b""), take)
                    self._command = None
                else:
                    self._segment(b"", take)
                continue
            zws_flag = (_ZWS_MORE if flags & _ZMTP_MORE else 0) | (
                _ZWS_COMMAND if flags & _ZMTP_COMMAND else 0
            )
            mask = self._new_mask() if self._client else None
            header = _ws_header(_BINARY, size + 1, mask)
            if mask is not None:
                header += bytes((zws_flag ^ mask[0],))
                self._mask_key = mask
                self._mask_phase = 1
            else:
                header += bytes((zws_flag,))
                self._mask_key = None
            self._segment(header, take)
            self._body_left = size

    def _translate_small(self, view: memoryview, at: int, end: int) -> int:
        """Translate the whole small message frames at ``at`` into one segment (the
        common case: no per-frame segment or mask state); return where they end."""
        out = bytearray()
        start = at
        client = self._client
        while end - at >= 2:
            flags = view[at]
            size = view[at + 1]
            if flags & (_ZMTP_LONG | _ZMTP_COMMAND) or end - at - 2 < size:
                break
            body = view[at + 2 : at + 2 + size]
            flag = b"\x01" if flags & _ZMTP_MORE else b"\x00"
            if client:
                mask = self._new_mask()
                out += _ws_header(_BINARY, size + 1, mask)
                out += mask_bytes(flag + body, mask)
            else:
                out.append(0x82)
                if size < 125:
                    out.append(size + 1)
                else:
                    out.append(126)
                    out += (size + 1).to_bytes(2, "big")
                out += flag
                out += body
            at += 2 + size
        if at > start:
            self._segment(out, at - start)
        return at

    def _new_mask(self) -> bytes:
        """A fresh masking key from the OS's random source (RFC 6455 asks for strong
        entropy), taken from a pool so that small frames do not cost a system call each."""
        pool = self._mask_pool
        if self._mask_at >= len(pool):
            pool = self._mask_pool = os.urandom(4096)
            self._mask_at = 0
        at = self._mask_at
        self._mask_at = at + 4
        return pool[at : at + 4]

    def _command_frame(self, body: bytes) -> bytes:
        """A small command as one WebSocket frame: PING and PONG as WebSocket's own
        ping and pong (which is how ZWS peers keep heartbeats), the rest as binary.
        Without a mechanism (``ZWS2.0``) READY becomes the routing-id message and other
        commands, which that protocol has no room for, are dropped."""
        name_size = body[0] if body else 0
        name = body[1 : 1 + name_size]
        if name == b"PING" and len(body) >= 7:
            return self._frame(_PING, body[7 : 7 + 125])  # the context, never the TTL
        if name == b"PONG":
            return self._frame(_PONG, body[5 : 5 + 125])
        if not self._bare:
            return self._frame(_BINARY, bytes((_ZWS_COMMAND,)) + body)
        if name != b"READY":
            return b""
        properties = _properties(body[1 + name_size :])
        self._socket_type = properties.get(b"Socket-Type", b"")
        if self._peer_routing_id is not None:
            self._deliver_peer_ready()
        return self._frame(_BINARY, b"\x00" + properties.get(b"Identity", b""))

    def _deliver_peer_ready(self) -> None:
        """Give the kernel the READY a ``ZWS2.0`` peer never sends: a socket type that
        fits ours (that protocol has no type check) and its routing-id message."""
        routing_id = self._peer_routing_id
        assert routing_id is not None
        self._peer_routing_id = None
        peer_type = _PEER_TYPE.get(self._socket_type, b"")
        body = b"\x05READY" + _property(b"Socket-Type", peer_type)
        if routing_id:
            body += _property(b"Identity", routing_id)
        self._deliver(_zmtp_header(_ZMTP_COMMAND, len(body)), body)

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        if not self._client:
            return _ws_header(opcode, len(payload), None) + payload
        mask = self._new_mask()
        return _ws_header(opcode, len(payload), mask) + mask_bytes(payload, mask)

    def _greeted(self) -> bytes:
        """The kernel's greeting is complete: learn the mechanism; a client now has
        what its upgrade request needs (returned, to be written in its place)."""
        greeting = bytes(self._greeting_in)
        raw_name = greeting[12:32].rstrip(b"\0")
        # Only a ZMTP mechanism name may go into a header line (the kit sends garbage).
        self._mechanism = raw_name if _MECHANISM_NAME.fullmatch(raw_name) else b"INVALID"
        self._as_server = greeting[32:33] == b"\x01"
        if not self._client:
            if self._phase == _UPGRADING and self._rx:
                self._decode()  # a request that came before the greeting
            return b""
        self._key = base64.b64encode(os.urandom(16)).decode("ascii")
        self._protocol = b"ZWS2.0/" + self._mechanism
        return (
            f"GET {self._path} HTTP/1.1\r\n"
            f"Host: {self._host}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key}\r\n"
            f"Sec-WebSocket-Protocol: {self._protocol.decode('ascii')}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode("ascii")

    def _write_out(self) -> int:
        """Write queued segments; return how many input bytes that completes."""
        out = self._out
        reported = 0
        while out:
            views: list[memoryview] = []
            size = 0
            offset = self._out_offset
            for view, _ in out:
                if offset:
                    view = view[offset:]  # noqa: PLW2901 - the unwritten rest
                    offset = 0
                if view:
                    views.append(view)
                    size += len(view)
                    if size >= _WRITE_BATCH or len(views) >= _IOV_MAX:
                        break
            written = 0
            if views:
                try:
                    written = self.raw_write(views)
                except BlockingIOError:
                    return reported
            all_written = written == size
            # Drop what went out, crediting each segment's input.
            while out:
                view, weight = out[0]
                remaining = len(view) - self._out_offset
                if weight < 0:  # a body: byte for byte
                    take = min(remaining, written)
                    reported += take
                    written -= take
                    if take < remaining:
                        self._out_offset += take
                        break
                else:
                    if written < remaining:
                        self._out_offset += written
                        break
                    written -= remaining
                    reported += weight
                out.popleft()
                self._out_offset = 0
            if not all_written:
                return reported  # the socket is full
        return reported

    def _flush_control(self) -> bool:
        """Write pongs, the 101 answer or a close, at a frame boundary only; True when
        none is left."""
        control = self._control
        while control:
            if self._out or self._mid_frame():
                return False
            data = control[0]
            try:
                written = self.raw_write([memoryview(data)[self._control_written :]])
            except BlockingIOError:
                return False
            self._control_written += written
            if len(control) == 1:
                self._pong_queued = False  # it is being written: no longer replaceable
            if self._control_written < len(data):
                return False
            control.popleft()
            self._control_written = 0
        return True

    def _queue_pong(self, payload: bytes) -> None:
        """Answer a ping. At most one pong waits unwritten: a newer ping replaces it
        (RFC 6455 section 5.5.3 allows answering only the latest; libzmq keeps one
        too), so a peer that pings and never reads cannot make this side queue
        without end."""
        if self._close_sent:
            return  # nothing may follow a close frame
        pong = self._frame(_PONG, payload)
        if self._pong_queued:
            self._control[-1] = pong
        else:
            self._control.append(pong)
            self._pong_queued = True

    def _queue_close(self, code: int) -> None:
        self._close_sent = True
        self._control.append(self._frame(_CLOSE, code.to_bytes(2, "big")))
        self._pong_queued = False

    # -- incoming ----------------------------------------------------------------------------

    def _decode(self) -> None:
        if self._refusal is not None:
            raise _protocol_error(f"bad upgrade request: {self._refusal}")
        if self._phase == _UPGRADING:
            if self._mechanism is None and not self._client:
                return  # the kernel's greeting (our mechanism) comes first, always
            end = self._rx.find(b"\r\n\r\n")
            if end < 0:
                if len(self._rx) > _MAX_HTTP_HEAD:
                    raise self._refuse("the upgrade request is too long")
                return
            if end > _MAX_HTTP_HEAD:
                raise self._refuse("the upgrade request is too long")
            head = bytes(self._rx[:end])
            del self._rx[: end + 4]
            if self._client:
                self._check_answer(head)
            else:
                self._answer(head)
            self._phase = _OPEN
        if self._phase == _OPEN and self._fill is None:
            self._decode_frames()

    def _decode_frames(self) -> None:
        """Decode every whole frame in ``_rx``. Small binary frames, the common case,
        become ZMTP in one output buffer here; the rest go through :meth:`_on_frame`."""
        rx = self._rx
        end = len(rx)
        at = 0
        out = bytearray()
        expect_mask = not self._client
        try:
            while end - at >= 2 and self._phase == _OPEN:
                first = rx[at]
                second = rx[at + 1]
                if first & 0x70:
                    raise _protocol_error("reserved bits set (no extension was negotiated)")
                if bool(second & 0x80) != expect_mask:
                    raise _protocol_error(
                        "client frame not masked" if expect_mask else "a masked server frame"
                    )
                size = second & 0x7F
                head = 2
                if size == 126:
                    if end - at < 4:
                        break
                    size = int.from_bytes(rx[at + 2 : at + 4], "big")
                    head = 4
                elif size == 127:
                    if end - at < 10:
                        break
                    size = int.from_bytes(rx[at + 2 : at + 10], "big")
                    head = 10
                    if size >> 63:
                        raise _protocol_error("frame length has its top bit set")
                mask: bytes | None = None
                if expect_mask:
                    if end - at < head + 4:
                        break
                    mask = bytes(rx[at + head : at + head + 4])
                    head += 4
                final = bool(first & 0x80)
                opcode = first & 0x0F
                self._check_frame(final, opcode, size)
                start = at + head
                if end - start < size:
                    if size >= _DIRECT_FILL:
                        # Collect the rest apart (_read_more), growing with what
                        # arrives: only the bytes already here are allocated now.
                        self._fill = rx[start:end]
                        self._fill_at = end - start
                        self._fill_size = size
                        self._fill_header = (first, opcode, mask)
                        at = end
                    break
                at = start + size
                payload: bytes | bytearray = rx[start:at]
                if mask is not None:
                    payload = mask_bytes(payload, mask)
                if (
                    opcode == _BINARY
                    and final
                    and not self._bare
                    and size
                    and payload[0] in (0, _ZWS_MORE)
                ):
                    # A message frame: the fast path.
                    flags = _ZMTP_MORE if payload[0] else 0
                    body_size = size - 1
                    if body_size > 255:
                        out.append(flags | _ZMTP_LONG)
                        out += body_size.to_bytes(8, "big")
                    else:
                        out.append(flags)
                        out.append(body_size)
                    if body_size < 8192:
                        out += memoryview(payload)[1:]
                    else:  # big: no copy into out
                        self._deliver(out, memoryview(payload)[1:])
                        out = bytearray()
                    continue
                self._deliver(out)
                out = bytearray()
                self._on_frame(final, opcode, bytes(payload))
        finally:
            del rx[:at]
            self._deliver(out)

    def _finish_fill(self) -> None:
        fill = self._fill
        assert fill is not None
        first, opcode, mask = self._fill_header
        self._fill = None
        payload = mask_bytes(fill, mask) if mask is not None else bytes(fill)
        self._on_frame(bool(first & 0x80), opcode, payload)

    def _check_frame(self, final: bool, opcode: int, size: int) -> None:
        if opcode >= 0x8:
            if opcode not in (_CLOSE, _PING, _PONG):
                raise _protocol_error(f"unknown control opcode {opcode:#x}")
            if not final or size > 125:
                raise _protocol_error("a control frame must be final and at most 125 bytes")
            return
        if opcode == _TEXT:
            raise _protocol_error("text frame (ZWS messages are binary)")
        if opcode not in (_BINARY, _CONTINUATION):
            raise _protocol_error(f"unknown opcode {opcode:#x}")
        if opcode == _CONTINUATION and self._fragments is None:
            raise _protocol_error("continuation frame without a message to continue")
        if opcode == _BINARY and self._fragments is not None:
            raise _protocol_error("new message before the previous one's last fragment")
        if opcode == _CONTINUATION or not final:
            allowed = _FREE_FRAGMENTS + (self._fragments_size + size) // _FRAGMENT_UNIT
            if self._fragment_count >= allowed:
                raise _protocol_error(
                    f"{self._fragment_count + 1} fragments for a message of "
                    f"{self._fragments_size + size} bytes (too many small fragments)"
                )
        limit = self._maxmsgsize
        if limit >= 0 and self._fragments_size + size > limit + 1:  # + the flag byte
            raise ConnectionError(
                errno.EMSGSIZE, f"ZWS: message larger than maxmsgsize ({limit} bytes)"
            )

    def _on_frame(self, final: bool, opcode: int, payload: bytes) -> None:
        if opcode == _PING:
            self._queue_pong(payload)
            return
        if opcode == _PONG:
            body = b"\x04PONG" + payload
            self._deliver(_zmtp_header(_ZMTP_COMMAND, len(body)), body)
            return
        if opcode == _CLOSE:
            if not self._close_sent:
                self._queue_close(_close_answer(payload))
            self._phase = _CLOSING
            return
        if not final:
            if self._fragments is None:
                self._fragments = bytearray()
            self._fragments += payload
            self._fragments_size += len(payload)
            self._fragment_count += 1
            return
        if self._fragments is not None:
            self._fragments += payload
            payload = bytes(self._fragments)
            self._fragments = None
            self._fragments_size = 0
            self._fragment_count = 0
        if not payload:
            raise _protocol_error("empty message (the flag byte is missing)")
        flag = payload[0]
        if flag not in (0, _ZWS_MORE, _ZWS_COMMAND):
            raise _protocol_error(f"bad flag byte {flag:#x}")
        if self._bare:
            if flag == _ZWS_COMMAND:
                raise _protocol_error("a command without a mechanism (ZWS2.0)")
            if self._awaiting_routing_id:
                if flag != 0:
                    raise _protocol_error("the routing-id message must have one frame")
                self._awaiting_routing_id = False
                self._peer_routing_id = payload[1:256]
                if self._socket_type:
                    self._deliver_peer_ready()
                return
        flags = (_ZMTP_MORE if flag & _ZWS_MORE else 0) | (
            _ZMTP_COMMAND if flag & _ZWS_COMMAND else 0
        )
        self._deliver(_zmtp_header(flags, len(payload) - 1), memoryview(payload)[1:])

    def _deliver(self, *pieces: Any) -> None:
        for piece in pieces:
            view = memoryview(piece)
            if view:
                self._decoded.append(view)
                self._decoded_size += len(view)

    # -- the HTTP upgrade --------------------------------------------------------------------

    def _refuse(self, problem: str, status: str = "400 Bad Request") -> ConnectionError:
        """Answer a bad request (server; best effort) and return the error to raise.
        Once only: the reading and the writing side may both come back to _decode."""
        if self._refusal is not None:
            return _protocol_error(f"bad upgrade request: {self._refusal}")
        self._refusal = problem
        if not self._client:
            body = problem.encode("ascii", "replace")
            answer = (
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("ascii")
            with contextlib.suppress(OSError):
                self.raw_write([memoryview(answer + body)])
        return _protocol_error(f"bad upgrade request: {problem}")

    def _answer(self, head: bytes) -> None:
        """Check an upgrade request and queue the 101 answer (server)."""
        try:
            request_line, headers = _parse_head(head)
        except ConnectionError as exc:
            raise self._refuse(exc.strerror or "bad request") from None
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
            raise self._refuse(f"not a WebSocket upgrade request: {request_line[:80]!r}")
        if "websocket" not in _tokens(headers, "upgrade"):
            raise self._refuse("no 'Upgrade: websocket' header")
        if "upgrade" not in _tokens(headers, "connection"):
            raise self._refuse("no 'Connection: Upgrade' header")
        if len(headers.get("host", [])) != 1:
            raise self._refuse("an upgrade request needs exactly one Host header")
        # Only browsers send Origin, and they always do: a page from another site must
        # not reach this socket (cross-site WebSocket hijacking). Clients that are not
        # browsers send none, and are not concerned.
        origins = headers.get("origin", [])
        if (
            self._allowed_origins
            and origins
            and (len(origins) != 1 or origins[0].lower() not in self._allowed_origins)
        ):
            raise self._refuse(
                f"origin {', '.join(origins)[:120]!r} is not allowed (ws_allowed_origins)",
                "403 Forbidden",
            )
        version = headers.get("sec-websocket-version", [])
        if version != ["13"]:
            raise self._refuse("Sec-WebSocket-Version must be 13", "426 Upgrade Required")
        keys = headers.get("sec-websocket-key", [])
        try:
            valid_key = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
        except ValueError:
            valid_key = False
        if not valid_key:
            raise self._refuse("bad or missing Sec-WebSocket-Key")
        assert self._mechanism is not None
        wanted = "ZWS2.0/" + self._mechanism.decode("ascii")
        acceptable = (wanted, "ZWS2.0") if self._mechanism == b"NULL" else (wanted,)
        offered = _tokens(headers, "sec-websocket-protocol", lower=False)
        # The client's order decides, as in libzmq (which offers ZWS2.0/NULL first).
        chosen = next((p for p in offered if p in acceptable), None)
        if chosen is None:
            raise self._refuse(
                f"this socket speaks {' or '.join(acceptable)}; the client offered "
                f"{', '.join(offered) or 'none'}"
            )
        if chosen == "ZWS2.0":
            self._bare = self._awaiting_routing_id = True
        wanted = chosen
        self._protocol = wanted.encode("ascii")
        self._control.append(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(keys[0])}\r\n"
                f"Sec-WebSocket-Protocol: {wanted}\r\n\r\n"
            ).encode("ascii")
        )
        self._deliver(_greeting(self._mechanism, self._peer_as_server()))

    def _check_answer(self, head: bytes) -> None:
        """Check the server's answer to our upgrade request (client)."""
        status_line, headers = _parse_head(head)
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or parts[1] != "101":
            raise _protocol_error(f"the server refused the upgrade: {status_line[:120]!r}")
        if "websocket" not in _tokens(headers, "upgrade"):
            raise _protocol_error("the server's answer has no 'Upgrade: websocket'")
        if "upgrade" not in _tokens(headers, "connection"):
            raise _protocol_error("the server's answer has no 'Connection: Upgrade'")
        if headers.get("sec-websocket-accept", []) != [accept_key(self._key)]:
            raise _protocol_error("wrong Sec-WebSocket-Accept")
        chosen = headers.get("sec-websocket-protocol", [])
        if chosen != [self._protocol.decode("ascii")]:
            raise _protocol_error(f"the server chose subprotocol {chosen!r}")
        assert self._mechanism is not None
        self._deliver(_greeting(self._mechanism, self._peer_as_server()))

    def _peer_as_server(self) -> bool:
        # NULL has no roles; with PLAIN or CURVE the peer has the other one.
        return self._mechanism != b"NULL" and not self._as_server


# The socket type a ZWS2.0 peer is taken for, given ours: the first that libzmq lets
# connect to ours (ZWS2.0 carries no socket type to check).
_PEER_TYPE = {
    b"PAIR": b"PAIR", b"PUB": b"SUB", b"XPUB": b"SUB", b"SUB": b"PUB", b"XSUB": b"PUB",
    b"REQ": b"REP", b"REP": b"REQ", b"DEALER": b"DEALER", b"ROUTER": b"DEALER",
    b"PUSH": b"PULL", b"PULL": b"PUSH", b"CLIENT": b"SERVER", b"SERVER": b"CLIENT",
    b"RADIO": b"DISH", b"DISH": b"RADIO", b"SCATTER": b"GATHER", b"GATHER": b"SCATTER",
    b"PEER": b"PEER", b"CHANNEL": b"CHANNEL",
}  # fmt: skip


def _property(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + len(value).to_bytes(4, "big") + value


def _properties(data: bytes) -> dict[bytes, bytes]:
    """A READY command's properties (what follows its name); a malformed tail is ignored:
    this is the kernel's own READY, checked by its peers, not input."""
    properties: dict[bytes, bytes] = {}
    at = 0
    while at < len(data):
        size = data[at]
        name = data[at + 1 : at + 1 + size]
        at += 1 + size
        value_size = int.from_bytes(data[at : at + 4], "big")
        properties[name] = data[at + 4 : at + 4 + value_size]
        at += 4 + value_size
    return properties


def _parse_head(head: bytes) -> tuple[str, dict[str, list[str]]]:
    """The first line and the headers (lowercase names, values in order) of an HTTP head."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise _protocol_error("the HTTP head is not ASCII") from None
    lines = text.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _protocol_error(f"bad header line {line[:80]!r}")
        headers.setdefault(name.lower(), []).append(value.strip())
    return lines[0], headers


def _tokens(headers: dict[str, list[str]], name: str, *, lower: bool = True) -> list[str]:
    """The comma-separated tokens of every ``name`` header."""
    tokens: list[str] = []
    for value in headers.get(name, []):
        for raw_token in value.split(","):
            token = raw_token.strip()
            if token:
                tokens.append(token.lower() if lower else token)
    return tokens
