"""``mqsdk.auth``: a ZAP handler (RFC 27) shaped like pyzmq's ``zmq.auth``.

An authenticator binds a REP socket at ``inproc://zeromq.zap.01`` in a context; every
PLAIN or CURVE server (and every NULL server with a ``zap_domain``) of that context asks
it about each new client. Policies, as in pyzmq:

* ``allow(*addresses)`` or ``deny(*addresses)`` (not both): an address not allowed (or
  denied) is refused whatever its credentials; NULL clients from other addresses pass.
* ``configure_plain(domain, passwords)``: PLAIN username -> password per ZAP domain
  (``"*"`` covers every domain).
* ``configure_curve(domain, location)``: client public keys from the ``*.key``
  certificates in a directory (see :func:`create_certificates`), or every key with
  :data:`CURVE_ALLOW_ANY`; ``configure_curve_callback`` asks an object instead.

Accepted clients get a User-Id (PLAIN: the username; CURVE: the Z85 public key) which
reaches every message they send (``frame.get("User-Id")``), plus any properties
:meth:`Authenticator.user_metadata` returns. Refusals are status 400 (the client gets
ERROR and does not reconnect; the server's monitor reports HANDSHAKE_FAILED_AUTH 400).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mqsdk.auth.certs import create_certificates, load_certificate, load_certificates
from mqsdk.mechanism import ZAP_ENDPOINT, ZAP_VERSION
from mqsdk.z85 import z85_encode
from mqsdk.zmtp.commands import encode_metadata

CURVE_ALLOW_ANY = "*"
"""``configure_curve(location=CURVE_ALLOW_ANY)``: accept every client key (encryption
without client authentication)."""


class CredentialsProvider(Protocol):
    """What ``configure_curve_callback`` takes: ``callback(domain, z85_key) -> bool``."""

    def callback(self, domain: str, key: bytes) -> bool: ...


class Authenticator:
    """The policy and the ZAP request handling; :class:`ThreadAuthenticator` and
    :class:`~mqsdk.auth.asyncio.AsyncioAuthenticator` run it. Thread-safe."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        import mqsdk

        self.context = context if context is not None else mqsdk.Context.instance()
        self.encoding = encoding
        self.log = log or logging.getLogger("mqsdk.auth")
        self.allow_any = False
        self.passwords: dict[str, dict[str, str]] = {}
        self.certs: dict[str, dict[bytes, bool]] = {}
        self.credentials_providers: dict[str, CredentialsProvider] = {}
        self._allowed: set[str] = set()
        self._denied: set[str] = set()
        self._lock = threading.Lock()
        self.zap_socket: Any = None

    # -- policy ------------------------------------------------------------------------

    def allow(self, *addresses: str) -> None:
        """Accept only these client IP addresses (then authenticate them as usual)."""
        with self._lock:
            if self._denied:
                raise ValueError("use allow() or deny(), not both")
            self._allowed.update(addresses)

    def deny(self, *addresses: str) -> None:
        """Refuse these client IP addresses; the others go on to authentication."""
        with self._lock:
            if self._allowed:
                raise ValueError("use allow() or deny(), not both")
            self._denied.update(addresses)

    def configure_plain(
        self, domain: str = "*", passwords: Mapping[str, str] | None = None
    ) -> None:
        """PLAIN: the usernames and passwords accepted in ``domain``."""
        with self._lock:
            if passwords:
                self.passwords[domain] = dict(passwords)

    def configure_curve(self, domain: str = "*", location: str | os.PathLike[str] = ".") -> None:
        """CURVE: accept the public keys of the ``*.key`` certificates in ``location``
        (call again after changing the directory), or any key with CURVE_ALLOW_ANY."""
        with self._lock:
            if location == CURVE_ALLOW_ANY:
                self.allow_any = True
                return
            self.allow_any = False
            self.certs[domain] = load_certificates(location)

    def configure_curve_callback(
        self, domain: str = "*", credentials_provider: CredentialsProvider | None = None
    ) -> None:
        """CURVE: ask ``credentials_provider.callback(domain, z85_key)`` for each client."""
        with self._lock:
            self.allow_any = False
            if credentials_provider is not None:
                self.credentials_providers[domain] = credentials_provider

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an accepted CURVE client: its Z85 public key (override to map)."""
        return z85_encode(client_public_key).decode("ascii")

    def user_metadata(self, mechanism: str, user_id: str) -> Mapping[str, bytes]:
        """ZAP metadata for an accepted client; it reaches each message it sends as
        properties (``frame.get(name)``). None by default; override to add some."""
        return {}

    # -- requests ----------------------------------------------------------------------

    def handle_zap_message(self, msg: Sequence[bytes]) -> list[bytes]:
        """The reply (REP view, without the delimiter) to one ZAP request."""
        with self._lock:
            return self._decide(msg)

    def _decide(self, msg: Sequence[bytes]) -> list[bytes]:
        if len(msg) < 6:
            self.log.error("invalid ZAP request, %d frames: %r", len(msg), msg)
            request_id = msg[1] if len(msg) > 1 else b""
            return self._reply(request_id, b"400", b"Not enough frames")
        version, request_id, raw_domain, raw_address, _identity, mechanism = msg[:6]
        credentials = list(msg[6:])
        if version != ZAP_VERSION:
            return self._reply(request_id, b"400", b"Invalid version")
        domain = raw_domain.decode(self.encoding, "replace") or "*"
        address = raw_address.decode(self.encoding, "replace")
        if self._allowed and address not in self._allowed:
            return self._reply(request_id, b"400", b"Address not allowed")
        if address in self._denied:
            return self._reply(request_id, b"400", b"Address denied")
        user = "anonymous"
        if mechanism == b"NULL":
            ok, reason = True, b"OK"
        elif mechanism == b"PLAIN" and len(credentials) == 2:
            user, password = (c.decode(self.encoding, "replace") for c in credentials)
            ok, reason = self._check_plain(domain, user, password)
        elif mechanism == b"CURVE" and len(credentials) == 1:
            ok, reason = self._check_curve(domain, credentials[0])
            if ok:
                user = self.curve_user_id(credentials[0])
        else:
            ok, reason = False, b"Invalid credentials"
        if not ok:
            self.log.debug("DENIED %s from %s: %s", mechanism, address, reason)
            return self._reply(request_id, b"400", reason)
        metadata = self.user_metadata(mechanism.decode("ascii", "replace"), user)
        return self._reply(request_id, b"200", b"OK", user, metadata)

    def _check_plain(self, domain: str, user: str, password: str) -> tuple[bool, bytes]:
        if not self.passwords:
            return False, b"No passwords defined"
        table = self.passwords.get(domain)
        if table is None:
            return False, b"Invalid domain"
        if user not in table:
            return False, b"Invalid username"
        if table[user] != password:
            return False, b"Invalid password"
        return True, b"OK"

    def _check_curve(self, domain: str, key: bytes) -> tuple[bool, bytes]:
        if self.allow_any:
            return True, b"OK"
        z85_key = z85_encode(key)
        provider = self.credentials_providers.get(domain)
        if provider is not None:
            return (True, b"OK") if provider.callback(domain, z85_key) else (False, b"Unknown key")
        certs = self.certs.get(domain)
        if certs is None:
            return False, b"Unknown domain"
        return (True, b"OK") if z85_key in certs else (False, b"Unknown key")

    def _reply(
        self,
        request_id: bytes,
        status: bytes,
        text: bytes,
        user_id: str = "",
        metadata: Mapping[str, bytes] | None = None,
    ) -> list[bytes]:
        return [
            ZAP_VERSION,
            request_id,
            status,
            text,
            user_id.encode(self.encoding),
            encode_metadata(metadata) if metadata else b"",
        ]


class ThreadAuthenticator(Authenticator):
    """An authenticator answering in its own thread: ``start()``, configure, ``stop()``."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        super().__init__(context, encoding, log)
        self._thread: threading.Thread | None = None
        self._stop_name = f"inproc://mqsdk.auth.stop.{id(self)}"
        self._stop_sender: Any = None

    def start(self) -> None:
        """Bind the ZAP endpoint (before any server accepts clients) and start answering."""
        import mqsdk

        zap = self.context.socket(mqsdk.REP)
        zap.set("linger", 0)
        zap.bind(ZAP_ENDPOINT)
        stop_receiver = self.context.socket(mqsdk.PAIR)
        stop_receiver.bind(self._stop_name)
        self._stop_sender = self.context.socket(mqsdk.PAIR)
        self._stop_sender.connect(self._stop_name)
        self.zap_socket = zap
        self._thread = threading.Thread(
            target=self._run, args=(zap, stop_receiver), name="mqsdk-auth", daemon=True
        )
        self._thread.start()

    def _run(self, zap: Any, stop_receiver: Any) -> None:
        import mqsdk

        poller = mqsdk.Poller()
        try:
            poller.register(zap, mqsdk.POLLIN)
            poller.register(stop_receiver, mqsdk.POLLIN)
            while True:
                ready = dict(poller.poll())
                if stop_receiver in ready:
                    return
                if zap in ready:
                    zap.send_multipart(self.handle_zap_message(zap.recv_multipart()))
        except mqsdk.MQError:  # the context was terminated under us (ContextTerminated...)
            return
        finally:
            zap.close(linger=0)
            stop_receiver.close(linger=0)

    def stop(self) -> None:
        """Stop answering and unbind the ZAP endpoint (waits for the thread)."""
        if self._thread is None:
            return
        import mqsdk

        with contextlib.suppress(mqsdk.MQError):  # the context may be gone already
            self._stop_sender.send(b"stop", mqsdk.NOBLOCK)
        self._thread.join(10)
        self._stop_sender.close(linger=0)
        self._thread = None
        self.zap_socket = None

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> ThreadAuthenticator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "CURVE_ALLOW_ANY",
    "Authenticator",
    "CredentialsProvider",
    "ThreadAuthenticator",
    "create_certificates",
    "load_certificate",
    "load_certificates",
]
