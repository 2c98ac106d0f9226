"""``tls://`` endpoints: ``host:port`` as for tcp, then TLS settings as a query string.

``tls://127.0.0.1:5555?cert=server.pem&key=server.key`` (bind) and
``tls://localhost:5555?ca=ca.pem`` (connect). The settings (see the README):

=============  ================================================================================
``cert``       PEM certificate chain. Required on bind; on connect, a client certificate.
``key``        PEM private key of ``cert`` (default: read from the ``cert`` file).
``ca``         PEM CA bundle that verifies the peer. On connect the default is the system's
               trust store; on bind it turns on client certificates (mutual TLS).
``hostname``   Connect only: the name the server's certificate must carry (default: the host
               of the endpoint).
``verify``     Connect only: ``yes`` (default) or ``no``: ``no`` accepts any server
               certificate, which gives encryption without authentication (tests only).
=============  ================================================================================

The SSL context is built here, when ``bind()``/``connect()`` parses the endpoint, so a
missing or bad certificate file is an immediate :class:`~mqsdk.errors.EndpointError`.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from mqsdk.plugin import EndpointError

__all__ = ["SETTINGS", "TlsAddress", "parse_tls"]

SETTINGS = {
    "cert": "PEM certificate chain (required on bind)",
    "key": "PEM private key of cert",
    "ca": "PEM CA bundle verifying the peer",
    "hostname": "name the server certificate must carry (connect)",
    "verify": "yes or no (connect)",
}
EXAMPLE = "tls://127.0.0.1:5555?cert=server.pem&key=server.key or tls://localhost:5555?ca=ca.pem"


@dataclass(frozen=True)
class TlsAddress:
    """A parsed endpoint: where to listen or connect, and the SSL context to use."""

    host: str  # "*" on bind means every IPv4 address
    port: int  # 0 on bind means an ephemeral port
    context: ssl.SSLContext = field(compare=False, repr=False)
    server_hostname: str | None = None  # what the client checks the certificate against

    @property
    def sockaddr_host(self) -> str:
        return "0.0.0.0" if self.host == "*" else self.host


def parse_tls(address: str, *, bind: bool, socket_class: type[ssl.SSLSocket]) -> TlsAddress:
    """Parse what follows ``tls://``; raise EndpointError saying what is wrong."""
    endpoint = f"tls://{address}"
    where, _, query = address.partition("?")
    host, port = _host_port(endpoint, where, bind=bind)
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _error(endpoint, f"cannot read the settings {query!r} (name=value&...)") from None
    settings: dict[str, str] = {}
    for name, value in pairs:
        if name not in SETTINGS:
            known = ", ".join(SETTINGS)
            raise _error(endpoint, f"unknown setting {name!r} (known: {known})")
        if name in settings:
            raise _error(endpoint, f"setting {name!r} is given twice")
        settings[name] = value
    only_connect = sorted({"hostname", "verify"} & set(settings)) if bind else []
    if only_connect:
        raise _error(endpoint, f"{', '.join(only_connect)} only apply to connect")
    if bind and "cert" not in settings:
        raise _error(endpoint, "bind needs cert=PATH (and key=PATH unless cert holds the key)")
    if "key" in settings and "cert" not in settings:
        raise _error(endpoint, "key=PATH needs cert=PATH")
    verify = settings.get("verify", "yes")
    if verify not in ("yes", "no"):
        raise _error(endpoint, f"verify must be yes or no, not {verify!r}")
    try:
        context = _context(settings, bind=bind, verify=verify == "yes")
    except (OSError, ssl.SSLError) as exc:
        raise _error(endpoint, f"cannot load the certificates: {exc}") from None
    context.sslsocket_class = socket_class
    server_hostname = None if bind else settings.get("hostname", host)
    return TlsAddress(host, port, context, server_hostname)


def _host_port(endpoint: str, text: str, *, bind: bool) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise _error(endpoint, f"{text!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "*" and not bind:
        raise _error(endpoint, "'*' (every address) is only valid for bind")
    if port_text in ("*", "0"):
        if not bind:
            raise _error(endpoint, "connect needs a real port")
        return host, 0
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise _error(endpoint, f"{port_text!r} is not a port (1..65535, or * on bind)")
    return host, int(port_text)


def _context(settings: dict[str, str], *, bind: bool, verify: bool) -> ssl.SSLContext:
    if bind:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if "ca" in settings:
            context.load_verify_locations(cafile=settings["ca"])
            context.verify_mode = ssl.CERT_REQUIRED
    else:
        context = ssl.create_default_context(cafile=settings.get("ca"))
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # A renegotiation would need a write while the kernel waits to read: refuse it.
    context.options |= ssl.OP_NO_RENEGOTIATION
    if "cert" in settings:
        context.load_cert_chain(settings["cert"], settings.get("key"))
    return context


def resolve(address: TlsAddress) -> tuple[int, tuple[str, int]]:
    """Family and sockaddr to connect to (name resolution at every attempt, as tcp)."""
    infos = socket.getaddrinfo(address.host, address.port, 0, socket.SOCK_STREAM)
    family, _, _, _, sockaddr = infos[0]
    return int(family), (str(sockaddr[0]), int(sockaddr[1]))


def _error(endpoint: str, problem: str) -> EndpointError:
    return EndpointError(f"invalid endpoint {endpoint!r}: {problem}; for example {EXAMPLE}")
