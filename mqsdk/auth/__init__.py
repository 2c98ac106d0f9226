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

Failures refuse, never admit. A request whose handling raises is answered 500 (logged)
and the next one is served as usual. If the serving thread or task dies anyway, the
context's engines are told so (:func:`mqsdk._kernel.zap.mark_zap_handler_failed`) before the ZAP
endpoint unbinds, and they refuse every client with 500 until an authenticator is
started again: an unbound endpoint would otherwise mean "no handler", which admits
every NULL and CURVE client.
"""

from __future__ import annotations

import asyncio as _asyncio  # the name `asyncio` is our submodule's once it is imported
import contextlib
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from mqsdk._kernel.mechanism import ZAP_ENDPOINT, ZAP_VERSION
from mqsdk._kernel.zap import clear_zap_handler_failure, mark_zap_handler_failed
from mqsdk.auth.certs import create_certificates, load_certificate, load_certificates
from mqsdk.errors import ContextTerminated
from mqsdk.z85 import z85_encode
from mqsdk.zmtp.commands import encode_metadata

_T = TypeVar("_T")

CURVE_ALLOW_ANY = "*"
"""``configure_curve(location=CURVE_ALLOW_ANY)``: accept every client key (encryption
without client authentication)."""


class CredentialsProvider(Protocol):
    """What ``configure_curve_callback`` takes: ``callback(domain, z85_key) -> bool``.

    :class:`ThreadAuthenticator` and :class:`~mqsdk.auth.asyncio.AsyncioAuthenticator`
    await an ``async def`` callback's result; an authenticator that cannot (a plain
    :class:`Authenticator` driven by hand) refuses one when it is configured."""

    def callback(self, domain: str, key: bytes) -> bool | Awaitable[bool]:
        """Whether the client with public ``key`` (Z85, 40 bytes) may connect in ZAP
        ``domain``; a false result refuses it."""
        ...


@dataclass(frozen=True)
class _CurveQuestion:
    """A CURVE request that the domain's credentials provider decides. Its callback is
    called outside the authenticator's lock: it may take long (or be awaited), and may
    call the authenticator's own methods."""

    request_id: bytes
    domain: str
    address: str
    key: bytes
    provider: CredentialsProvider

    def ask(self) -> object:
        return self.provider.callback(self.domain, z85_encode(self.key))


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _is_async_callable(function: object) -> bool:
    # The second test catches an object whose class has an ``async def __call__``.
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )


class Authenticator:
    """The policy and the ZAP request handling; :class:`ThreadAuthenticator` and
    :class:`~mqsdk.auth.asyncio.AsyncioAuthenticator` run it. Thread-safe."""

    awaits_callbacks: ClassVar[bool] = False
    """Whether this authenticator awaits what a credentials callback returns; if not,
    an ``async def`` callback is refused when configured (it would never be awaited)."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        import mqsdk

        self.context = context if context is not None else mqsdk.Context.instance()
        """The context whose servers this authenticator answers (default: the global
        ``Context.instance()``)."""
        self.encoding = encoding
        """How PLAIN usernames and passwords are decoded."""
        self.log = log or logging.getLogger("mqsdk.auth")
        """Where decisions are logged (logger ``mqsdk.auth`` by default)."""
        self.allow_any = False
        """True after ``configure_curve(location=CURVE_ALLOW_ANY)``: any CURVE key passes."""
        self.passwords: dict[str, dict[str, str]] = {}
        """PLAIN credentials by domain: username -> password."""
        self.certs: dict[str, dict[bytes, bool]] = {}
        """Accepted CURVE client public keys by domain, as ``{z85_key: True}``."""
        self.credentials_providers: dict[str, CredentialsProvider] = {}
        """The ``configure_curve_callback`` providers by domain."""
        self._allowed: set[str] = set()
        self._denied: set[str] = set()
        self._lock = threading.Lock()
        self.zap_socket: Any = None
        """The REP socket bound at ``inproc://zeromq.zap.01`` while started, else None."""

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
        """CURVE: ask ``credentials_provider.callback(domain, z85_key)`` for each client.

        :raises TypeError: the callback is an ``async def`` and this authenticator cannot
            await it (a plain :class:`Authenticator`; the thread and asyncio ones can).
        """
        if credentials_provider is not None:
            self._check_provider(credentials_provider)
        with self._lock:
            self.allow_any = False
            if credentials_provider is not None:
                self.credentials_providers[domain] = credentials_provider

    def _check_provider(self, provider: object) -> None:
        callback = getattr(provider, "callback", None)
        if not callable(callback):
            raise TypeError(f"{provider!r} has no callback(domain, key) method")
        if not self.awaits_callbacks and _is_async_callable(callback):
            raise TypeError(
                f"{type(self).__name__} cannot await the async credentials callback "
                f"{callback!r}: every client would be refused. Make it a plain def, or "
                "use ThreadAuthenticator or AsyncioAuthenticator, which await it."
            )

    def _check_providers(self) -> None:
        """Refuse to start with a provider that cannot be served (``credentials_providers``
        is public: it may have been filled without :meth:`configure_curve_callback`)."""
        with self._lock:
            providers = list(self.credentials_providers.values())
        for provider in providers:
            self._check_provider(provider)

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an accepted CURVE client: its Z85 public key (override to map)."""
        return z85_encode(client_public_key).decode("ascii")

    def user_metadata(self, mechanism: str, user_id: str) -> Mapping[str, bytes]:
        """ZAP metadata for an accepted client; it reaches each message it sends as
        properties (``frame.get(name)``). None by default; override to add some."""
        return {}

    # -- requests ----------------------------------------------------------------------

    def handle_zap_message(self, msg: Sequence[bytes]) -> list[bytes]:
        """The reply (REP view, without the delimiter) to one ZAP request.

        A credentials callback must answer here and now: if it returns an awaitable,
        which nothing here can await, the client is refused (500) and an error logged.
        """
        step = self._examine(msg)
        if not isinstance(step, _CurveQuestion):
            return step
        verdict = step.ask()
        if inspect.isawaitable(verdict):
            if inspect.iscoroutine(verdict):
                verdict.close()  # never to be awaited: say so now, not as a GC warning
            self.log.error(
                "refusing CURVE client %s: the credentials callback of %r returned an "
                "awaitable, which %s cannot await (use AsyncioAuthenticator)",
                step.address,
                step.provider,
                type(self).__name__,
            )
            return self._reply(step.request_id, b"500", b"Internal error")
        return self._curve_verdict(step, bool(verdict))

    def _examine(self, msg: Sequence[bytes]) -> list[bytes] | _CurveQuestion:
        with self._lock:
            return self._decide(msg)

    def _curve_verdict(self, question: _CurveQuestion, allowed: bool) -> list[bytes]:
        """The reply once the credentials provider has answered."""
        if not allowed:
            self.log.debug("DENIED CURVE from %s: unknown key", question.address)
            return self._reply(question.request_id, b"400", b"Unknown key")
        with self._lock:
            user = self.curve_user_id(question.key)
            return self._accepted(question.request_id, b"CURVE", user)

    def _refuse_after_error(self, msg: Sequence[bytes]) -> list[bytes]:
        """Log the exception being handled and refuse the request with 500: a handler's
        bug must cost one client its handshake, never admit it or stop the handler."""
        self.log.exception("refusing a client: handling its ZAP request failed")
        request_id = msg[1] if len(msg) > 1 and isinstance(msg[1], bytes) else b""
        return self._reply(request_id, b"500", b"Internal error")

    def _decide(self, msg: Sequence[bytes]) -> list[bytes] | _CurveQuestion:
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
            provider = None if self.allow_any else self.credentials_providers.get(domain)
            if provider is not None:
                return _CurveQuestion(request_id, domain, address, credentials[0], provider)
            ok, reason = self._check_curve(domain, credentials[0])
            if ok:
                user = self.curve_user_id(credentials[0])
        else:
            ok, reason = False, b"Invalid credentials"
        if not ok:
            self.log.debug("DENIED %s from %s: %s", mechanism, address, reason)
            return self._reply(request_id, b"400", reason)
        return self._accepted(request_id, mechanism, user)

    def _accepted(self, request_id: bytes, mechanism: bytes, user: str) -> list[bytes]:
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
        """Allow-any and certificate directories (credentials providers are asked by
        :meth:`handle_zap_message`, outside the lock)."""
        if self.allow_any:
            return True, b"OK"
        z85_key = z85_encode(key)
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
    """An authenticator answering in its own thread: ``start()``, configure, ``stop()``.

    Its sockets are plain blocking ones whatever the context's class, so it serves an
    :class:`mqsdk.asyncio.Context` too. An ``async def`` credentials callback is awaited
    in an event loop of the thread's own (as pyzmq's does), one request at a time.
    """

    awaits_callbacks: ClassVar[bool] = True
    """An ``async def`` credentials callback is awaited (in the thread's own loop)."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        super().__init__(context, encoding, log)
        self._thread: threading.Thread | None = None
        self._stop_name = f"inproc://mqsdk.auth.stop.{id(self)}"
        self._stop_sender: Any = None
        self._callback_loop: _asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Bind the ZAP endpoint (before any server accepts clients) and start answering."""
        import mqsdk

        self._check_providers()
        zap = self._blocking_socket(mqsdk.REP)
        zap.set("linger", 0)
        zap.bind(ZAP_ENDPOINT)
        # Bound: engines reach us from now on, so a predecessor's failure no longer applies.
        clear_zap_handler_failure(self.context)
        stop_receiver = self._blocking_socket(mqsdk.PAIR)
        stop_receiver.bind(self._stop_name)
        self._stop_sender = self._blocking_socket(mqsdk.PAIR)
        self._stop_sender.connect(self._stop_name)
        self.zap_socket = zap
        self._thread = threading.Thread(
            target=self._run, args=(zap, stop_receiver), name="mqsdk-auth", daemon=True
        )
        self._thread.start()

    def _blocking_socket(self, socket_type: int) -> Any:
        """A plain socket in our context: ``context.socket()`` may make asyncio ones,
        whose methods return coroutines that this thread has no loop to run."""
        from mqsdk._kernel.socket import Socket

        if self.context.closed:
            raise ContextTerminated("the context was terminated")
        return Socket(self.context, socket_type)

    def _run(self, zap: Any, stop_receiver: Any) -> None:
        try:
            self._serve(zap, stop_receiver)
        except BaseException as exc:  # even SystemExit: it would end the thread silently
            if not self.context.closed:  # a terminated context has no clients to protect
                # Before our socket unbinds: from then on engines would see "no handler".
                self.log.error(
                    "the ZAP handler thread died: refusing every client of this context "
                    "until an authenticator is started again",
                    exc_info=exc,
                )
                mark_zap_handler_failed(self.context, self, f"{type(exc).__name__}: {exc}")
        finally:
            zap.close(linger=0)
            stop_receiver.close(linger=0)

    def _serve(self, zap: Any, stop_receiver: Any) -> None:
        import mqsdk

        poller = mqsdk.Poller()
        poller.register(zap, mqsdk.POLLIN)
        poller.register(stop_receiver, mqsdk.POLLIN)
        try:
            while True:
                ready = dict(poller.poll())
                if stop_receiver in ready:
                    return
                if zap in ready:
                    request = zap.recv_multipart()
                    try:
                        reply = self.handle_zap_message(request)
                    except Exception:
                        reply = self._refuse_after_error(request)
                    zap.send_multipart(reply)
        finally:
            loop, self._callback_loop = self._callback_loop, None
            if loop is not None:
                loop.close()

    def handle_zap_message(self, msg: Sequence[bytes]) -> list[bytes]:
        """The reply to one ZAP request, awaiting the credentials callback if it returns
        an awaitable, in an event loop of this thread's own (made when first needed)."""
        step = self._examine(msg)
        if not isinstance(step, _CurveQuestion):
            return step
        verdict = step.ask()
        if inspect.isawaitable(verdict):
            loop = self._callback_loop
            if loop is None:
                loop = self._callback_loop = _asyncio.new_event_loop()
            verdict = loop.run_until_complete(_awaited(verdict))
        return self._curve_verdict(step, bool(verdict))

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
        # Stopped on purpose: no handler now means what it means in libzmq.
        clear_zap_handler_failure(self.context, self)

    def is_alive(self) -> bool:
        """Whether the serving thread runs (started and not stopped or dead)."""
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
