"""Driving security mechanisms the way the engine does, with a hostile peer in the loop.

A *plan* (plain data, so it fits in a reproducer file) describes one input: which
mechanism and role the target plays, the metadata and options of both sides, and what
happens to each command the honest peer sends the target (passed, its body mutated,
renamed, replaced, replayed, dropped, an extra command injected before it, its wire
bytes mutated before the frame decoder...), what the ZAP handler answers, and, for
CURVE, mutations of the peer's plaintext *before* it is encrypted, which is the only
way random bytes reach the parsers behind the crypto.

CURVE is made deterministic for the duration of one input: the module's key-pair and
random-bytes functions are swapped for seeded ones (``crypto_box_seed_keypair``), so a
plan replays to the same bytes. Everything is restored afterwards.

:class:`Handshake` follows the engine's contract (``mqsdk/_kernel/mechanism.py``): ``on_command``
only while the target is not done and waits for no ZAP verdict; items after the
handshake go to CURVE's traffic codec; a message before the end is the engine's
protocol error. A plan may end with a *probe*: one command delivered after the target
is done, refused, or while its ZAP verdict is withheld. That is outside the contract,
so the only requirement is the security one: the command must not complete a
handshake or change what was authenticated.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

from mqsdk._kernel.mechanism import Mechanism, ZapReply
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp.commands import Metadata, PeerError, encode_metadata
from mqsdk.zmtp.constants import (
    CANCEL,
    ERROR,
    HELLO,
    INITIATE,
    MESSAGE,
    PING,
    PONG,
    READY,
    SUBSCRIBE,
    WELCOME,
)
from mqsdk.zmtp.frames import Command, FrameDecoder, Item
from mqsdk.zmtp.null import NullMechanism

from .mutate import Op, apply_ops, random_bytes, random_ops


class InvariantViolation(Exception):
    """The component produced a result it must never produce (a wrong decode, a
    handshake completed without authentication...). Counted as a crash."""


SOCKET_PAIRS = (
    ("DEALER", "ROUTER"),
    ("ROUTER", "DEALER"),
    ("PUSH", "PULL"),
    ("PULL", "PUSH"),
    ("PUB", "SUB"),
    ("SUB", "PUB"),
    ("REQ", "REP"),
    ("REP", "REQ"),
    ("PAIR", "PAIR"),
    ("XPUB", "XSUB"),
)
COMMAND_NAMES = (
    HELLO,
    WELCOME,
    INITIATE,
    READY,
    ERROR,
    PING,
    PONG,
    SUBSCRIBE,
    CANCEL,
    MESSAGE,
    b"ZAP",  # the mechanisms' name for "waiting for ZAP"; must never match a state
    b"",
)
# Exact and boundary body sizes of CURVE's commands (after the name): HELLO 194,
# WELCOME 160, INITIATE >= 248, READY >= 24; PLAIN's HELLO is at most 512.
BODY_SIZES = (0, 1, 2, 23, 24, 25, 159, 160, 161, 193, 194, 195, 247, 248, 249, 512, 513)
MAX_ROUNDS = 12


# -- deterministic CURVE -----------------------------------------------------------------


class SeededNacl:
    """``nacl.bindings`` with seeded key pairs, and a hook that rewrites plaintexts
    before they are boxed (set only while the hostile peer computes)."""

    def __init__(self, real: Any, rng: random.Random) -> None:
        self._real = real
        self._rng = rng
        self.mutate: Callable[[bytes], bytes] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def keypair(self) -> tuple[bytes, bytes]:
        public, secret = self._real.crypto_box_seed_keypair(self._rng.randbytes(32))
        return bytes(public), bytes(secret)

    def crypto_box_keypair(self) -> tuple[bytes, bytes]:
        return self.keypair()

    def _plain(self, message: bytes) -> bytes:
        return message if self.mutate is None else self.mutate(bytes(message))

    def crypto_box(self, message: bytes, nonce: bytes, public: bytes, secret: bytes) -> bytes:
        return bytes(self._real.crypto_box(self._plain(message), nonce, public, secret))

    def crypto_box_afternm(self, message: bytes, nonce: bytes, key: bytes) -> bytes:
        return bytes(self._real.crypto_box_afternm(self._plain(message), nonce, key))

    def crypto_secretbox(self, message: bytes, nonce: bytes, key: bytes) -> bytes:
        return bytes(self._real.crypto_secretbox(self._plain(message), nonce, key))


def curve_module() -> Any:
    import mqsdk_mechanism_curve.mechanism as module

    return module


@contextlib.contextmanager
def seeded_curve(seed: int) -> Iterator[SeededNacl]:
    module = curve_module()
    rng = random.Random(seed)
    proxy = SeededNacl(module._nacl, rng)
    saved = module._nacl, module._random
    module._nacl, module._random = proxy, rng.randbytes
    try:
        yield proxy
    finally:
        module._nacl, module._random = saved


# -- plans -------------------------------------------------------------------------------


def random_name(rng: random.Random) -> bytes:
    if rng.random() < 0.85:
        return rng.choice(COMMAND_NAMES)
    return rng.randbytes(rng.randint(1, 12))


def random_body(rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return rng.randbytes(rng.choice(BODY_SIZES))
    return random_bytes(rng, 600)


def random_metadata(rng: random.Random, socket_type: str) -> list[tuple[str, bytes]]:
    pairs = [("Socket-Type", socket_type.encode())]
    if rng.random() < 0.4:
        identity = rng.choice((b"", b"id", rng.randbytes(rng.randint(1, 255))))
        pairs.append(("Identity", identity.lstrip(b"\x00") or b"x"))
    if rng.random() < 0.2:
        pairs.append(("X-Fuzz", random_bytes(rng, 300)))
    return pairs


def random_action(rng: random.Random) -> tuple[Any, ...]:
    roll = rng.random()
    if roll < 0.35:
        return ("pass",)
    if roll < 0.55:
        return ("data", random_ops(rng))
    if roll < 0.62:
        return ("name", random_name(rng))
    if roll < 0.70:
        return ("wire", random_ops(rng, 3))
    if roll < 0.78:
        return ("random", random_name(rng), random_body(rng))
    if roll < 0.84:
        return ("inject", random_name(rng), random_body(rng))
    if roll < 0.90:
        return ("replay",)
    if roll < 0.95:
        return ("drop",)
    return ("size", rng.choice(BODY_SIZES))


def random_zap(rng: random.Random) -> tuple[Any, ...]:
    roll = rng.random()
    if roll < 0.6:
        props = [("X-Role", random_bytes(rng, 40))] if rng.random() < 0.3 else []
        return ("ok", random_bytes(rng, 20), props)
    if roll < 0.7:
        return ("none",)
    if roll < 0.9:
        return ("refuse", rng.choice((b"300", b"400", b"500")))
    return ("hold",)


def random_plan(rng: random.Random, kind: str, role: str) -> dict[str, Any]:
    """One hostile (or, one time in ten, honest) handshake against ``kind`` as ``role``."""
    own_type, peer_type = rng.choice(SOCKET_PAIRS)
    if rng.random() < 0.03:
        peer_type = rng.choice(("PUB", "PUSH", "RADIO", "X-UNKNOWN"))
    honest = rng.random() < 0.1
    plan: dict[str, Any] = {
        "kind": kind,
        "role": role,
        "crypto": rng.getrandbits(64),
        "target_md": random_metadata(rng, own_type),
        "peer_md": random_metadata(rng, peer_type),
        "zap_domain": b"global" if kind == "null" and rng.random() < 0.4 else b"",
        "enforce": rng.random() < 0.2,
        "username": random_bytes(rng, 255)[:255],
        "password": random_bytes(rng, 255)[:255],
        "wrong_server_key": not honest and kind == "curve" and rng.random() < 0.03,
        "server_publickey": rng.random() < 0.5,
        "actions": [] if honest else [random_action(rng) for _ in range(rng.randint(0, 6))],
        "zap": [("ok", b"user", [])] if honest else [random_zap(rng) for _ in range(2)],
        "peer_crypto": {},
        "peer_props": None,
        "probe": None,
        "honest": honest and peer_type == dict(SOCKET_PAIRS).get(own_type),
    }
    if not honest:
        if kind == "curve" and rng.random() < 0.25:
            plan["peer_crypto"] = {rng.randrange(4): random_ops(rng)}
        if kind != "null" and rng.random() < 0.15:
            plan["peer_props"] = random_ops(rng)
    if rng.random() < 0.2:
        name = rng.choice((b"", b"ZAP", b"ZAP", READY, INITIATE, HELLO, WELCOME, ERROR))
        forged = kind == "curve" and rng.random() < 0.6
        data: Any = ("forged_ready",) if forged else random_body(rng)
        plan["probe"] = (name, data)
    return plan


# -- running a plan ----------------------------------------------------------------------


def make_pair(plan: dict[str, Any], crypto: SeededNacl | None) -> tuple[Mechanism, Mechanism]:
    """(target, honest peer) as the plan describes them."""
    kind = plan["kind"]
    target_server = plan["role"] == "server"
    target_md = dict(plan["target_md"])
    peer_md = dict(plan["peer_md"])
    if kind == "null":
        options = {"zap_domain": plan["zap_domain"], "zap_enforce_domain": plan["enforce"]}
        return (
            NullMechanism(target_server, target_md, options),
            NullMechanism(not target_server, peer_md, {}),
        )
    if kind == "plain":
        from mqsdk_mechanism_plain import PlainMechanism

        server_options: dict[str, object] = {"zap_domain": b"global"}
        client_options: dict[str, object] = {
            "plain_username": plan["username"],
            "plain_password": plan["password"],
        }
        cls: Any = PlainMechanism
    else:
        from mqsdk_mechanism_curve import CurveMechanism

        assert crypto is not None
        server_public, server_secret = crypto.keypair()
        client_public, client_secret = crypto.keypair()
        server_options = {"curve_secretkey": server_secret}
        if plan["server_publickey"]:
            server_options["curve_publickey"] = server_public
        client_options = {
            "curve_serverkey": crypto.keypair()[0] if plan["wrong_server_key"] else server_public,
            "curve_publickey": client_public,
            "curve_secretkey": client_secret,
        }
        cls = CurveMechanism
    if target_server:
        return cls(True, target_md, server_options), cls(False, peer_md, client_options)
    return cls(False, target_md, client_options), cls(True, peer_md, server_options)


def needs_zap_verdict(plan: dict[str, Any], target: Mechanism) -> bool:
    """The target may only complete after a ZAP verdict let the peer in."""
    if plan["kind"] == "null":
        return bool(plan["zap_domain"])
    return target.as_server


class Handshake:
    """One plan, run between a target and an honest peer (see the module docstring)."""

    def __init__(self, plan: dict[str, Any], crypto: SeededNacl | None) -> None:
        self.plan = plan
        self.crypto = crypto
        self.target, self.peer = make_pair(plan, crypto)
        self.to_target: list[bytes] = []
        self.to_peer: list[bytes] = []
        self.target_decoder = FrameDecoder()
        self.peer_decoder = FrameDecoder()
        limit = self.target.handshake_frame_limit
        if limit >= 0:  # as the engine bounds handshake frames
            self.target_decoder.maxmsgsize = limit
        self.actions: list[tuple[Any, ...]] = list(plan["actions"])
        self.zap: list[tuple[Any, ...]] = list(plan["zap"])
        self.peer_crypto: dict[int, list[Op]] = dict(plan["peer_crypto"])
        self.peer_boxes = 0
        self.approved = False
        self.sent: list[Command] = []
        if plan["peer_props"] is not None:
            real = self.peer.own_properties
            ops = plan["peer_props"]
            self.peer.own_properties = lambda: apply_ops(real(), ops)  # type: ignore[method-assign]

    # -- the honest peer ---------------------------------------------------------------

    def _mutate_peer_plaintext(self, plain: bytes) -> bytes:
        ops = self.peer_crypto.get(self.peer_boxes)
        self.peer_boxes += 1
        return plain if ops is None else apply_ops(plain, ops)

    def _as_peer(self, call: Callable[..., list[bytes]], *args: Any) -> list[bytes]:
        if self.crypto is not None:
            self.crypto.mutate = self._mutate_peer_plaintext
        try:
            return call(*args)
        finally:
            if self.crypto is not None:
                self.crypto.mutate = None

    def _peer_zap(self) -> None:
        if self.peer.pending_zap is not None:
            reply = ZapReply(b"200") if self.plan["kind"] == "plain" else None
            self.to_target += self._as_peer(self.peer.on_zap_reply, reply)

    def _feed_peer(self) -> str:
        data = b"".join(self.to_peer)
        self.to_peer = []
        try:
            items = self.peer_decoder.feed(data)
        except ProtocolError as exc:
            raise InvariantViolation(f"the target sent frames the decoder refuses: {exc}") from exc
        for item in items:
            if self.peer.done:
                codec = self.peer.traffic_codec()
                if codec is not None:
                    try:
                        codec.decode_items([item])
                    except ProtocolError:
                        return "rejected-by-peer"
                continue
            if type(item) is list:
                raise InvariantViolation("the target sent a message before its handshake ended")
            assert isinstance(item, Command)
            try:
                self.to_target += self._as_peer(self.peer.on_command, item)
            except PeerError:
                return "refused-with-error"
            except ProtocolError:
                return "rejected-by-peer"
            self._peer_zap()
        return ""

    # -- the target --------------------------------------------------------------------

    def _check_auth(self) -> None:
        target = self.target
        if target.done and target.zap_refusal is not None:
            raise InvariantViolation("the handshake completed after ZAP refused the peer")
        if target.done and needs_zap_verdict(self.plan, target) and not self.approved:
            raise InvariantViolation("the handshake completed without a ZAP verdict")

    def _answer_zap(self) -> str:
        action = self.zap.pop(0) if self.zap else ("ok", b"", [])
        if action[0] == "hold":
            return "zap-withheld"
        if action[0] == "none":
            reply = None
        elif action[0] == "ok":
            reply = ZapReply(b"200", b"OK", action[1], Metadata(action[2]))
        else:
            reply = ZapReply(action[1], b"refused")
        try:
            self.to_peer += self.target.on_zap_reply(reply)
        except MQError:  # no handler where one is required: documented, the engine closes
            return "closed-without-zap"
        if self.target.zap_refusal is not None:
            self._check_auth()
            return "refused-by-zap"
        self.approved = True
        self._check_auth()
        return ""

    def _deliver(self, command: Command) -> str:
        target = self.target
        self.sent.append(command)
        try:
            self.to_peer += target.on_command(command)
        except ProtocolError:
            return "rejected"
        self._check_auth()
        if target.pending_zap is not None:
            return self._answer_zap()
        return ""

    def _expand(self, command: Command, action: tuple[Any, ...]) -> list[Command]:
        kind = action[0]
        if kind == "data":
            return [Command(command.name, apply_ops(command.data, action[1]))]
        if kind == "name":
            return [Command(action[1], command.data)]
        if kind == "random":
            return [Command(action[1], action[2])]
        if kind == "inject":
            return [Command(action[1], action[2]), command]
        if kind == "replay":
            return [command, command]
        if kind == "drop":
            return []
        if kind == "size":
            return [Command(command.name, command.data[: action[1]].ljust(action[1], b"\x00"))]
        return [command]

    def _take_items(self, item: Item, action: tuple[Any, ...]) -> str:
        target = self.target
        if target.done:
            # What follows the handshake in the same read is traffic (the engine's
            # _activate); CURVE decrypts it, the others hand it on unchanged.
            codec = target.traffic_codec()
            if codec is not None:
                try:
                    codec.decode_items([item])
                except ProtocolError:
                    return "rejected-traffic"
            return ""
        if type(item) is list:
            return "message-before-handshake"  # the engine's protocol error
        assert isinstance(item, Command)
        for command in self._expand(item, action):
            if self.target_done():  # the rest of an expansion is traffic, not handshake
                break
            outcome = self._deliver(command)
            if outcome:
                return outcome
        return ""

    def target_done(self) -> bool:
        return self.target.done

    def _feed_target(self) -> str:
        frames = self.to_target
        self.to_target = []
        for sent in frames:
            action = self.actions.pop(0) if self.actions else ("pass",)
            wire = sent
            if action[0] == "wire":
                wire = apply_ops(sent, action[1])
                action = ("pass",)
            try:
                items = self.target_decoder.feed(wire)
            except ProtocolError:
                return "rejected-by-decoder"
            for item in items:
                outcome = self._take_items(item, action)
                action = ("pass",)
                if outcome:
                    return outcome
        return ""

    # -- the whole exchange ------------------------------------------------------------

    def run(self) -> str:
        self.to_peer += self.target.start()
        outcome = self._answer_zap() if self.target.pending_zap is not None else ""
        if not outcome:
            self.to_target += self._as_peer(self.peer.start)
            self._peer_zap()
            outcome = self._exchange()
        self._check_auth()
        if self.plan["honest"] and not (self.target.done and self.peer.done):
            raise InvariantViolation(f"an honest handshake did not complete ({outcome})")
        if self.plan["probe"] is not None and outcome in (
            "complete",
            "zap-withheld",
            "refused-by-zap",
        ):
            self._probe()
        return outcome

    def _exchange(self) -> str:
        for _ in range(MAX_ROUNDS):
            if not self.to_target and not self.to_peer:
                break
            outcome = self._feed_target() or self._feed_peer()
            if outcome:
                return outcome
        return "complete" if self.target.done else "stalled"

    def _probe(self) -> None:
        target = self.target
        name, data = self.plan["probe"]
        if type(data) is tuple:
            data = self._forged_ready()
        was_done = target.done
        refusal = target.zap_refusal
        metadata = dict(target.peer_metadata)
        try:
            target.on_command(Command(name, data))
        except ProtocolError:
            return
        if was_done:
            raise InvariantViolation(
                f"a {name!r} command was accepted after the handshake had completed"
            )
        if target.done or target.zap_refusal is not refusal:
            raise InvariantViolation(
                f"a {name!r} command changed the handshake's outcome while "
                + ("ZAP refused the peer" if refusal is not None else "its ZAP verdict was pending")
            )
        if dict(target.peer_metadata) != metadata:
            raise InvariantViolation(f"a {name!r} command replaced the authenticated metadata")

    def _forged_ready(self) -> bytes:
        """A READY body boxed with the session key, which the (hostile) client knows."""
        module = curve_module()
        key = getattr(self.peer, "_shared", b"")
        if len(key) != 32:
            return b""
        nonce = module._NONCE.pack(2**40)
        box = module._nacl.crypto_box_afternm(
            encode_metadata({"Socket-Type": b"DEALER"}), b"CurveZMQREADY---" + nonce, key
        )
        return bytes(nonce) + bytes(box)


def run_plan(plan: dict[str, Any]) -> str:
    if plan["kind"] == "curve":
        with seeded_curve(plan["crypto"]) as crypto:
            return Handshake(plan, crypto).run()
    return Handshake(plan, None).run()


# -- CURVE traffic after a clean handshake -----------------------------------------------


def random_traffic(rng: random.Random) -> dict[str, Any]:
    sends: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.75:
            frames = [random_bytes(rng, 2000) for _ in range(rng.randint(1, 3))]
            sends.append(("message", frames))
        else:
            name = rng.choice((PING, PONG, SUBSCRIBE, CANCEL, rng.randbytes(rng.randint(1, 8))))
            sends.append(("command", name, random_bytes(rng, 100)))
    clean = rng.random() < 0.15
    item_ops: list[tuple[Any, ...]] = []
    if not clean and rng.random() < 0.4:
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            index = rng.getrandbits(16)
            if roll < 0.3:
                item_ops.append(("drop", index))
            elif roll < 0.55:
                item_ops.append(("dup", index))  # a replayed box
            elif roll < 0.75:
                item_ops.append(("swap", index))  # reordered boxes
            elif roll < 0.9:
                item_ops.append(("plain", index, random_name(rng), random_body(rng)))
            else:
                item_ops.append(("raw", index, random_bytes(rng, 80)))
    plan: dict[str, Any] = {
        "crypto": rng.getrandbits(64),
        "server_sends": rng.random() < 0.5,
        "sends": sends,
        "plaintext": {} if clean else {rng.randrange(8): random_ops(rng)},
        "wire": None if clean or rng.random() < 0.5 else random_ops(rng),
        "items": item_ops,
        "batches": rng.randint(1, 4),
        "clean": clean,
    }
    if not clean and rng.random() < 0.3:
        plan["plaintext"] = {}
    return plan


def run_traffic(plan: dict[str, Any]) -> str:
    with seeded_curve(plan["crypto"]) as crypto:
        handshake_plan = random_plan(random.Random(plan["crypto"]), "curve", "server")
        handshake_plan.update(actions=[], zap=[("none",)], peer_crypto={}, peer_props=None)
        handshake_plan.update(probe=None, honest=True, wrong_server_key=False)
        handshake_plan["peer_md"] = [("Socket-Type", b"DEALER")]
        handshake_plan["target_md"] = [("Socket-Type", b"ROUTER")]
        shake = Handshake(handshake_plan, crypto)
        shake.run()
        server, client = shake.target, shake.peer
        sending, receiving = (server, client) if plan["server_sends"] else (client, server)
        sender, receiver = sending.traffic_codec(), receiving.traffic_codec()
        assert sender is not None and receiver is not None
        boxes = 0

        def mutate_plaintext(plain: bytes) -> bytes:
            nonlocal boxes
            ops = plan["plaintext"].get(boxes)
            boxes += 1
            return plain if ops is None else apply_ops(plain, ops)

        out: list[Any] = []
        expected: list[Item] = []
        crypto.mutate = mutate_plaintext
        try:
            for send in plan["sends"]:
                if send[0] == "message":
                    sender.encode_message(send[1], out)
                    expected.append(list(send[1]))
                else:
                    out.append(sender.encode_command(send[1], send[2]))
                    expected.append(Command(send[1], send[2]))
        finally:
            crypto.mutate = None
        wire = b"".join(out)
        if plan["wire"] is not None:
            wire = apply_ops(wire, plan["wire"])
        try:
            items = FrameDecoder().feed(wire)
        except ProtocolError:
            return "rejected-by-decoder"
        for op in plan["items"]:
            if not items and op[0] not in ("plain", "raw"):
                continue
            index = op[1] % max(1, len(items))
            if op[0] == "drop":
                del items[index]
            elif op[0] == "dup":
                items.insert(index, items[index])
            elif op[0] == "swap":
                items[index], items[-1] = items[-1], items[index]
            elif op[0] == "plain":
                items.insert(index, Command(op[2], op[3]))
            else:
                items.insert(index, [op[2]])
        decoded: list[Item] = []
        step = max(1, -(-len(items) // plan["batches"]))
        for start in range(0, len(items), step):
            try:
                decoded += receiver.decode_items(items[start : start + step])
            except ProtocolError:
                return "rejected"
        if plan["clean"] and decoded != expected:
            raise InvariantViolation(
                f"CURVE traffic decoded to {len(decoded)} items, {len(expected)} were sent"
            )
        return "accepted"
