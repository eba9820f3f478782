"""Outgoing webhook requests that cannot be turned against the server's own network (SSRF).

1. The URL must be ``http`` or ``https``, with a host, without a user name, password or fragment.
2. The host is resolved once, here (``getaddrinfo``, which also reads ``2130706433``,
   ``0x7f000001``, ``0177.0.0.1`` or ``127.1`` as the IPv4 address they are), and *every* address
   it resolves to must be public: not loopback, private, link-local, multicast, reserved,
   unspecified or shared (100.64/10). IPv4-mapped, 6to4 and NAT64 IPv6 addresses are judged by
   the IPv4 address inside them. With private targets allowed (on-premises installs, the tests'
   local receiver) loopback, private and reserved ranges pass; unspecified, multicast and
   link-local (where cloud metadata services answer) never do.
3. The connection goes to that checked address: nothing is looked up a second time, so a name
   that changes its answer in between (DNS rebinding) cannot redirect the request. The Host
   header, TLS SNI and the certificate check still use the name from the URL.
4. No redirect is followed. Connecting and each read have short timeouts and the whole exchange
   a deadline, so a receiver that trickles bytes cannot hold a worker; at most ``max_body``
   bytes of the answer are read.

It reads no setting and knows no model: the caller passes the policy, the timeouts and the limit.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

#: IPv6 prefixes that carry an IPv4 address in their low 32 bits (RFC 6052's NAT64 prefix).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: "This network": the kernel treats these as the local host.
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
USER_AGENT = "ARV-Webhooks/1"


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why, in the user's language."""


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, timed out, TLS, malformed answer)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    #: As in the URL (IDNA-encoded): what the Host header, SNI and certificate check use.
    host: str
    port: int
    #: Path and query, as requested.
    path: str
    #: The checked addresses, in the resolver's order; the request connects to one of these.
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5
    read: float = 10
    total: float = 30


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes
    truncated: bool
    location: str


# --- URL and address checks -------------------------------------------------------------------------


def _host_of(url: str) -> tuple[str, str, int, str]:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UnsafeTarget(_("The URL must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(_("The URL or its port number is not valid.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget(_("Only http:// and https:// URLs can receive webhooks."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget(_("Put no user name or password in the URL: receivers check the signature instead."))
    if parts.fragment or url.endswith("#"):
        raise UnsafeTarget(_("The URL must not contain a fragment (#…)."))
    host = parts.hostname or ""
    if not host:
        raise UnsafeTarget(_("The URL has no host name."))
    if "%" in host:
        raise UnsafeTarget(_("IPv6 zone identifiers are not allowed."))
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsafeTarget(_("The host name is not valid.")) from None
    if port == 0:
        raise UnsafeTarget(_("The URL or its port number is not valid."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[str]:
    """Every address *host* resolves to, in the resolver's order (the tests stand in a resolver
    here to play DNS rebinding)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def address_problem(address: str, *, allow_private: bool) -> str | None:
    """Why *address* may not be called (a translated phrase), or None when it may."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(str(embedded), allow_private=allow_private)
    if ip.is_unspecified or ip in THIS_NETWORK:
        return _("an unspecified")
    if ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        return _("a multicast or broadcast")
    if ip.is_link_local:
        return _("a link-local")
    if allow_private:
        return None
    if ip.is_loopback:
        return _("a loopback")
    if ip.is_private:
        return _("a private")
    if ip.is_reserved or (ip.version == 6 and ip.is_site_local):
        return _("a reserved")
    if not ip.is_global:
        return _("a non-public")
    return None


def check_url(url: str, *, allow_private: bool) -> Target:
    """The URL's target after every check, or :class:`UnsafeTarget` saying which one failed."""
    scheme, host, port, path = _host_of(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise UnsafeTarget(_("The host name “%(host)s” could not be resolved.") % {"host": host})
    for address in addresses:
        problem = address_problem(address.split("%", 1)[0], allow_private=allow_private)
        if problem:
            if host.strip("[]") == address:
                message = _("%(address)s is %(kind)s address: webhooks go to public addresses only.")
            else:
                message = _(
                    "“%(host)s” resolves to %(address)s, %(kind)s address: webhooks go to public addresses only."
                )
            raise UnsafeTarget(message % {"host": host, "address": address, "kind": problem})
    return Target(scheme, host, port, path, tuple(addresses))


# --- The request --------------------------------------------------------------------------------------


class _Deadline:
    """Per-operation timeouts that never run past the whole exchange's deadline."""

    def __init__(self, timeouts: Timeouts):
        self.read = timeouts.read
        self.at = time.monotonic() + timeouts.total

    def arm(self, sock) -> None:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the whole exchange took too long")
        sock.settimeout(min(self.read, left))


class _DeadlineSocket(socket.socket):
    deadline: _Deadline | None = None

    def recv_into(self, buffer, nbytes=0, flags=0):
        if self.deadline is not None:
            self.deadline.arm(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):
        if self.deadline is not None:
            self.deadline.arm(self)
        return super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline: _Deadline | None = None

    def recv_into(self, buffer, nbytes=None, flags=0):
        if self.deadline is not None:
            self.deadline.arm(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):
        if self.deadline is not None:
            self.deadline.arm(self)
        return super().sendall(data, flags)


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to a checked address, never to a fresh lookup of ``self.host``."""

    def __init__(self, target: Target, address: str, timeouts: Timeouts, deadline: _Deadline, context=None):
        super().__init__(target.host, target.port, timeout=timeouts.connect)
        self.address = address
        self.deadline = deadline
        self.context = context

    def connect(self):
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(self.timeout, max(self.deadline.at - time.monotonic(), 0.001)))
            sock.connect((self.address, self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                # The handshake runs under the connect timeout; SNI and the certificate check
                # use the URL's host name although the socket was opened to an address.
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        sock.deadline = self.deadline
        self.sock = sock


def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def _describe(exc: BaseException, timeouts: Timeouts) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"Timed out (connect {timeouts.connect:g} s, read {timeouts.read:g} s, total {timeouts.total:g} s)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(exc, ConnectionResetError):
        return "Connection reset by the receiver"
    if isinstance(exc, http.client.HTTPException):
        return f"Not a valid HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"Network error: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def post(
    target: Target,
    *,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    max_body: int,
    context: ssl.SSLContext | None = None,
) -> Response:
    """POST *body* to a checked target; the answer whatever its status, or :class:`TransportError`."""
    deadline = _Deadline(timeouts)
    if target.scheme == "https":
        context = context or tls_context()
        context.sslsocket_class = _DeadlineSSLSocket
    else:
        context = None
    error: BaseException | None = None
    for address in target.addresses:
        connection = _PinnedConnection(target, address, timeouts, deadline, context)
        try:
            connection.connect()
        except (OSError, ValueError) as exc:
            connection.close()
            error = exc
            continue
        break
    else:
        raise TransportError(_describe(error, timeouts) if error else "No address to connect to")
    try:
        connection.putrequest("POST", target.path, skip_accept_encoding=True)
        for name, value in {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **headers,
        }.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        data = answer.read(max_body + 1)
        return Response(
            status=answer.status,
            reason=answer.reason or "",
            body=data[:max_body],
            truncated=len(data) > max_body,
            location=answer.getheader("Location", "") or "",
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise TransportError(_describe(exc, timeouts)) from None
    finally:
        connection.close()
