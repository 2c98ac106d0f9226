"""The sans-I/O ZMTP connection (mqsdk/zmtp/connection.py): two connections joined by
a fake link that delivers bytes in any fragments, as the frame codec's tests do."""

from __future__ import annotations

import ast
import errno
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mqsdk.zmtp
from mqsdk._kernel.mechanism import AuthenticationFailed, Mechanism, ZapReply
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp import Command, ProtocolErrorCode, encode_command, encode_message, pong
from mqsdk.zmtp.commands import ping
from mqsdk.zmtp.connection import (
    NEED_DATA,
    TRANSITIONS,
    CommandReceived,
    Connection,
    ConnectionClosed,
    GreetingReceived,
    Input,
    MessageReceived,
    PingAnswered,
    PongReceived,
    Ready,
    State,
    ZapRefused,
    ZapRequested,
)
from mqsdk.zmtp.greeting import make_greeting
from mqsdk.zmtp.null import NullMechanism

Split = Callable[[int, int], list[int]]
"""(offset of a chunk in its direction's stream, its length) -> lengths to deliver."""

# -- fixtures: one client and one server per mechanism -----------------------------------


def _null(socket_type: bytes, options: dict[str, object] | None = None) -> Callable[[], Mechanism]:
    return lambda: NullMechanism(False, {"Socket-Type": socket_type}, options or {})


def _pair(mechanism: str, zap_domain: bytes = b"") -> tuple[Connection, Connection]:
    """(client, server): a PUSH connecting to a PULL."""
    if mechanism == "NULL":
        options: dict[str, object] = {"zap_domain": zap_domain} if zap_domain else {}
        return (
            Connection(mechanism_name="NULL", as_server=False, make_mechanism=_null(b"PUSH")),
            Connection(
                mechanism_name="NULL", as_server=False, make_mechanism=_null(b"PULL", options)
            ),
        )
    if mechanism == "PLAIN":
        plain = pytest.importorskip("mqsdk_mechanism_plain.mechanism")
        client_options = {"plain_username": b"admin", "plain_password": b"secret"}
        return (
            Connection(
                mechanism_name="PLAIN",
                as_server=False,
                make_mechanism=lambda: plain.PlainMechanism(
                    False, {"Socket-Type": b"PUSH"}, client_options
                ),
            ),
            Connection(
                mechanism_name="PLAIN",
                as_server=True,
                make_mechanism=lambda: plain.PlainMechanism(
                    True, {"Socket-Type": b"PULL"}, {"zap_domain": b"test"}
                ),
            ),
        )
    curve = pytest.importorskip("mqsdk_mechanism_curve.mechanism")
    server_options = {"curve_secretkey": _CURVE_KEYS["server"][1]}
    client_options = {
        "curve_serverkey": _CURVE_KEYS["server"][0],
        "curve_publickey": _CURVE_KEYS["client"][0],
        "curve_secretkey": _CURVE_KEYS["client"][1],
    }
    return (
        Connection(
            mechanism_name="CURVE",
            as_server=False,
            make_mechanism=lambda: curve.CurveMechanism(
                False, {"Socket-Type": b"PUSH"}, client_options
            ),
        ),
        Connection(
            mechanism_name="CURVE",
            as_server=True,
            make_mechanism=lambda: curve.CurveMechanism(
                True, {"Socket-Type": b"PULL"}, server_options
            ),
        ),
    )


def _curve_keys() -> dict[str, tuple[bytes, bytes]]:
    try:
        from nacl import bindings
    except ImportError:
        return {}
    return {role: bindings.crypto_box_keypair() for role in ("server", "client")}


_CURVE_KEYS = _curve_keys()
APPROVE = ZapReply(b"200", b"OK", b"alice")


def _drain(conn: Connection) -> list[Any]:
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def _summary(event: Any) -> tuple[Any, ...]:
    """What an event says, without what differs per run (CURVE's random keys)."""
    if isinstance(event, Ready):
        return (
            "Ready",
            dict(event.peer_metadata.items()),
            event.peer_socket_type,
            event.peer_minor,
            event.user_id,
            event.codec is None,
        )
    if isinstance(event, ZapRequested):
        return ("ZapRequested", event.request, event.domain)
    return (type(event).__name__, event)


def _encode(conn: Connection, frames: list[bytes]) -> bytes:
    """A message as the driver would encode it after READY."""
    out: list[Any] = []
    if conn.codec is None:
        encode_message(frames, out)
    else:
        conn.codec.encode_message(frames, out)
    return b"".join(out)


def _exchange(
    client: Connection,
    server: Connection,
    split: Split,
    zap: ZapReply | None = APPROVE,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Run the handshake, then one message each way; return each side's events."""
    sides = {"client": client, "server": server}
    events: dict[str, list[tuple[Any, ...]]] = {"client": [], "server": []}
    sent = {"client": 0, "server": 0}  # bytes of each direction's stream so far
    messaged = set()
    for _ in range(1000):
        progress = False
        for name, conn in sides.items():
            peer_name = "server" if name == "client" else "client"
            peer = sides[peer_name]
            if conn.ready and name not in messaged:
                messaged.add(name)
                conn_output = _encode(conn, [name.encode(), b"x" * 300])
            else:
                conn_output = b""
            data = b"".join(conn.data_to_send()) + conn_output
            offset = 0
            for length in split(sent[name], len(data)):
                peer.receive_data(data[offset : offset + length])
                offset += length
            assert offset == len(data)
            sent[name] += len(data)
            progress = progress or bool(data)
            for event in _drain(peer):
                events[peer_name].append(_summary(event))
                if isinstance(event, ZapRequested):
                    peer.zap_reply(zap)
                    progress = True
        if not progress:
            return events["client"], events["server"]
    raise AssertionError("the exchange did not settle")


def _whole(offset: int, length: int) -> list[int]:
    return [length] if length else []


def _bytewise(offset: int, length: int) -> list[int]:
    return [1] * length


def _split_at(point: int) -> Split:
    """Cut each direction's stream at ``point`` (chunks are delivered otherwise whole)."""

    def split(offset: int, length: int) -> list[int]:
        if offset < point < offset + length:
            return [point - offset, offset + length - point]
        return _whole(offset, length)

    return split


MECHANISMS = ["NULL", "PLAIN", "CURVE"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_whole_exchange_events(mechanism: str) -> None:
    client, server = _pair(mechanism)
    client_events, server_events = _exchange(client, server, _whole)
    assert client.state is State.READY and server.state is State.READY
    names = [e[0] for e in server_events]
    expected = ["GreetingReceived", "Ready", "MessageReceived"]
    if mechanism != "NULL":  # PLAIN and CURVE servers ask ZAP
        expected.insert(1, "ZapRequested")
    assert names == expected
    assert [e[0] for e in client_events] == ["GreetingReceived", "Ready", "MessageReceived"]
    ready = client_events[1]
    assert ready[1]["Socket-Type"] == b"PULL" and ready[2] == "PULL"
    assert ready[5] is (mechanism != "CURVE")  # a codec exactly for CURVE
    if mechanism != "NULL":
        assert server_events[2][4] == b"alice"  # the user id ZAP returned
    assert server_events[-1] == ("MessageReceived", MessageReceived([b"client", b"x" * 300]))
    assert client_events[-1] == ("MessageReceived", MessageReceived([b"server", b"x" * 300]))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_every_split_gives_the_same_events(mechanism: str) -> None:
    ends: list[int] = []

    def measuring(offset: int, length: int) -> list[int]:
        ends.append(offset + length)
        return _whole(offset, length)

    reference = _exchange(*_pair(mechanism), measuring)
    longest = max(ends)  # of the two directions' streams, handshake and message
    assert longest > 64 + 300
    for point in range(1, longest):
        assert _exchange(*_pair(mechanism), _split_at(point)) == reference, point


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_byte_by_byte_gives_the_same_events(mechanism: str) -> None:
    reference = _exchange(*_pair(mechanism), _whole)
    assert _exchange(*_pair(mechanism), _bytewise) == reference


# -- one read bringing the handshake's end and the first message -------------------------

NULL_CLIENT_STREAM = (
    make_greeting("NULL", False)
    + encode_command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x04PUSH")
    + b"\x00\x05hello"
    + encode_command(b"SUBSCRIBE", b"topic")
    + encode_command(b"PING", b"\x00\x32ctx")
)


def _server_events(chunks: list[bytes]) -> list[Any]:
    _, server = _pair("NULL")
    events = []
    for chunk in chunks:
        server.receive_data(chunk)
        events += _drain(server)
    return events


def test_null_stream_every_split_and_bytewise() -> None:
    data = NULL_CLIENT_STREAM
    reference = _server_events([data])
    assert [type(e) for e in reference] == [
        GreetingReceived,
        Ready,
        MessageReceived,
        CommandReceived,
        PingAnswered,
    ]
    assert reference[2] == MessageReceived([b"hello"])
    assert reference[3] == CommandReceived(Command(b"SUBSCRIBE", b"topic"))
    assert reference[4] == PingAnswered(5.0, b"ctx")  # TTL 50 ds, reported in seconds
    for point in range(1, len(data)):
        assert _server_events([data[:point], data[point:]]) == reference, point
    assert _server_events([data[i : i + 1] for i in range(len(data))]) == reference


# -- the transition table ----------------------------------------------------------------


def test_the_table_closes_every_live_state_and_nothing_leaves_closed() -> None:
    for state in State:
        for kind in (Input.EOF, Input.ERROR, Input.CLOSE):
            expected = None if state is State.CLOSED and kind is not Input.CLOSE else State.CLOSED
            assert TRANSITIONS.get((state, kind)) is expected, (state, kind)
    assert {target for (state, _), target in TRANSITIONS.items() if state is State.CLOSED} == {
        State.CLOSED
    }


def _in_state(state: State) -> Connection:
    """A NULL server connection brought to ``state`` through its public methods."""
    _, server = _pair("NULL", zap_domain=b"global" if state is State.ZAP_PENDING else b"")
    if state is State.GREETING:
        return server
    server.receive_data(make_greeting("NULL", False))
    if state in (State.HANDSHAKE, State.ZAP_PENDING):
        assert server.state is state
        return server
    server.receive_data(encode_command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x04PUSH"))
    _drain(server)
    server.data_to_send()
    if state is State.READY:
        assert server.state is State.READY
        return server
    server.close()
    return server


ILLEGAL: list[tuple[State, str, Callable[[Connection], object]]] = [
    (State.GREETING, "zap reply", lambda c: c.zap_reply(APPROVE)),
    (State.GREETING, "ping", lambda c: c.send_ping(10)),
    (State.GREETING, "command", lambda c: c.receive_command(Command(b"PING", b"\x00\x00"))),
    (State.HANDSHAKE, "message", lambda c: c.receive_data(b"\x00\x03abc")),
    (State.HANDSHAKE, "zap reply", lambda c: c.zap_reply(None)),
    (State.HANDSHAKE, "send", lambda c: c.send_encoded(encode_command(b"SUBSCRIBE"))),
    (State.ZAP_PENDING, "ping", lambda c: c.send_ping(10)),
    (State.ZAP_PENDING, "command", lambda c: c.receive_command(Command(b"PONG", b""))),
    (State.ZAP_PENDING, "message", lambda c: c.receive_data(b"\x00\x03abc")),
    (State.READY, "zap reply", lambda c: c.zap_reply(APPROVE)),
    (State.CLOSED, "bytes", lambda c: c.receive_data(b"\x00\x03abc")),
    (State.CLOSED, "ping", lambda c: c.send_ping(10)),
    (State.CLOSED, "eof", lambda c: c.receive_data(b"")),
]


@pytest.mark.parametrize(
    ("state", "call"), [(s, f) for s, _, f in ILLEGAL], ids=[f"{s.name}-{n}" for s, n, _ in ILLEGAL]
)
def test_an_illegal_event_raises_protocol_error(
    state: State, call: Callable[[Connection], object]
) -> None:
    conn = _in_state(state)
    with pytest.raises(ProtocolError) as info:
        call(conn)
    assert state.value in str(info.value) or "before the handshake completed" in str(info.value)
    assert conn.state is State.CLOSED


def test_every_missing_pair_is_refused_with_both_names() -> None:
    for state in State:
        for kind in Input:
            if (state, kind) in TRANSITIONS:
                continue
            conn = _in_state(state)
            conn.state = state  # _in_state closed nothing for live states
            with pytest.raises(ProtocolError) as info:
                conn._move(kind)
            text = str(info.value)
            assert state.value in text or "before the handshake" in text, (state, kind)
            assert conn.state is State.CLOSED


# -- PING, PONG, TTL, commands -----------------------------------------------------------


def test_ping_is_answered_with_its_context_and_ttl_reported() -> None:
    conn = _in_state(State.READY)
    conn.data_to_send()
    conn.receive_data(ping(25, b"abc"))
    assert _drain(conn) == [PingAnswered(2.5, b"abc")]
    assert conn.data_to_send() == [pong(b"abc")]
    conn.receive_data(encode_command(b"PING", b"\x00\x00" + b"c" * 20))
    assert _drain(conn) == [PingAnswered(0.0, b"c" * 20)]
    assert conn.data_to_send() == [pong(b"c" * 16)]  # libzmq truncates the context


def test_pong_and_other_commands_are_reported() -> None:
    conn = _in_state(State.READY)
    conn.receive_data(pong(b"xyz") + encode_command(b"CANCEL", b"t"))
    assert _drain(conn) == [PongReceived(b"xyz"), CommandReceived(Command(b"CANCEL", b"t"))]
    assert conn.data_to_send() == []


def test_a_ping_without_ttl_is_a_protocol_error() -> None:
    conn = _in_state(State.READY)
    with pytest.raises(ProtocolError):
        conn.receive_data(encode_command(b"PING", b"\x01"))
    assert conn.state is State.CLOSED


def test_heartbeat_ping_is_queued() -> None:
    conn = _in_state(State.READY)
    conn.data_to_send()
    conn.send_ping(30)
    assert conn.data_to_send() == [ping(30)]


def test_curve_ping_and_pong_go_through_the_codec() -> None:
    client, server = _pair("CURVE")
    _exchange(client, server, _whole)
    client.send_ping(7, b"hb")
    wire = b"".join(client.data_to_send())
    assert b"PING" not in wire  # boxed
    server.receive_data(wire)
    assert _drain(server) == [PingAnswered(0.7, b"hb")]
    client.receive_data(b"".join(server.data_to_send()))
    assert _drain(client) == [PongReceived(b"hb")]


def test_eof_is_reported() -> None:
    conn = _in_state(State.READY)
    conn.receive_data(b"\x01\x01a")  # half a message
    conn.receive_data(b"")
    assert _drain(conn) == [ConnectionClosed(mid_message=True)]
    assert conn.state is State.CLOSED


# -- ZAP -----------------------------------------------------------------------------------


def _waiting_for_zap() -> Connection:
    conn = _in_state(State.ZAP_PENDING)
    (event,) = [e for e in _drain(conn) if isinstance(e, ZapRequested)]
    assert event.domain == b"global" and event.request.mechanism == b"NULL"
    assert conn.data_to_send() == [make_greeting("NULL", False)]  # no READY yet
    return conn


def test_zap_approval_completes_the_handshake() -> None:
    conn = _waiting_for_zap()
    # The peer's READY arrives while ZAP decides: held, then handled.
    conn.receive_data(encode_command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x04PUSH"))
    assert _drain(conn) == [] and conn.state is State.ZAP_PENDING
    conn.zap_reply(ZapReply(b"200", b"OK", b"bob"))
    (ready,) = _drain(conn)
    assert isinstance(ready, Ready) and ready.user_id == b"bob" and ready.codec is None
    assert conn.data_to_send()[0].startswith(encode_command(b"READY", b"")[:1])


@pytest.mark.parametrize("status", [b"400", b"500"])
def test_zap_refusal_sends_error_and_closes(status: bytes) -> None:
    conn = _waiting_for_zap()
    conn.zap_reply(ZapReply(status, b"denied"))
    (refused,) = _drain(conn)
    assert isinstance(refused, ZapRefused)
    assert isinstance(refused.error, AuthenticationFailed)
    assert refused.error.status == int(status)
    assert conn.data_to_send() == [encode_command(b"ERROR", bytes((3,)) + status)]
    assert conn.state is State.CLOSED


def test_a_malformed_zap_reply_is_a_protocol_error() -> None:
    conn = _waiting_for_zap()
    bad = ProtocolError("bad reply", ProtocolErrorCode.ZAP_MALFORMED_REPLY)
    with pytest.raises(ProtocolError):
        conn.zap_reply(bad)
    assert conn.state is State.CLOSED


def test_plain_without_a_zap_handler_refuses() -> None:
    client, server = _pair("PLAIN")
    server.receive_data(b"".join(client.data_to_send()))
    client.receive_data(b"".join(server.data_to_send()))
    server.receive_data(b"".join(client.data_to_send()))
    assert any(isinstance(e, ZapRequested) for e in _drain(server))
    with pytest.raises(MQError) as info:
        server.zap_reply(None)
    assert info.value.errno == errno.EFAULT
    assert server.state is State.CLOSED


# -- the handshake's input bounds ----------------------------------------------------------


def test_a_handshake_frame_over_the_mechanism_limit_is_refused_from_its_header() -> None:
    _, server = _pair("NULL")
    server.receive_data(make_greeting("NULL", False))
    header = b"\x06" + (64 * 1024 + 1).to_bytes(8, "big")  # long command, 64 KiB + 1
    with pytest.raises(ProtocolError) as info:
        server.receive_data(header + b"\x05READY")
    assert info.value.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_READY
    assert server.state is State.CLOSED


def test_a_message_during_the_handshake_is_refused_from_its_header() -> None:
    _, server = _pair("NULL")
    server.receive_data(make_greeting("NULL", False))
    with pytest.raises(ProtocolError, match="before the handshake completed"):
        server.receive_data(b"\x00\x64")  # just the header of a 100-byte message


def test_a_wrong_mechanism_is_refused_in_the_greeting() -> None:
    _, server = _pair("NULL")
    with pytest.raises(ProtocolError) as info:
        server.receive_data(make_greeting("PLAIN", False))
    assert info.value.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH


# -- no I/O ------------------------------------------------------------------------------


def test_the_module_imports_nothing_that_does_io() -> None:
    # Found through the package: a compiled module's __file__ names its extension
    # module (and mypyc may compute it wrongly), never the source.
    source = Path(mqsdk.zmtp.__file__).with_name("connection.py")
    tree = ast.parse(source.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0] if node.level == 0 else node.module)
    forbidden = {"socket", "select", "selectors", "threading", "time", "asyncio", "os", "ssl"}
    assert not imported & forbidden, imported & forbidden


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_whole_exchange_makes_no_system_call(
    mechanism: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, server = _pair(mechanism)  # CURVE's keys are made here, before the guard

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the connection did I/O or read a clock")

    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(select, "select", forbidden)
    monkeypatch.setattr(time, "monotonic", forbidden)
    monkeypatch.setattr(time, "time", forbidden)
    monkeypatch.setattr(threading.Thread, "start", forbidden)
    _, server_events = _exchange(client, server, _whole)
    assert server_events[-1][0] == "MessageReceived"
