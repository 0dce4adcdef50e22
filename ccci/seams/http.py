"""The one seam through which ccci speaks HTTP: the forge, the CI, alert pushes, health probes.

`call` returns every HTTP status as a `Reply` (callers decide what a 404
means) and raises `HttpError` only when no reply came: refused, timed out,
reset, a malformed answer or URL. Redirects are not followed unless a caller
asks (a health probe sees what a browser would): an API that redirects is
answering something else, and its callers fail closed on it. TLS is always
verified: against the system's trust store, or the CA file a caller names
(a test bed's own CA; read at every call, so a renewed file counts at once).
A caller may also name the address every connection goes to (`connect_to`,
e.g. a proxy on loopback; the port stays the URL's): the URL's host is still
the SNI, the certificate's name and the Host header, so a domain no DNS
knows is reached exactly as production reaches it. The request is logged as
method and URL without userinfo, query or fragment (`shown_url`); headers
(where the tokens are) and bodies never are.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
import threading
from collections.abc import Iterable, Mapping

import attrs

log = logging.getLogger("ccci")


class HttpError(Exception):
    """No HTTP reply came back (connection refused, timeout, reset); `reason` says which."""

    def __init__(self, message: str, reason: object = None):
        super().__init__(message)
        self.reason = reason if reason is not None else message


@attrs.frozen
class Reply:
    status: int
    body: bytes
    location: str | None = None  # a redirect's Location header, when it was not followed


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect())
_FOLLOWING = urllib.request.build_opener()


class _Pinned(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Connects every request to one address (on the URL's port); the URL's
    host stays SNI, the certificate's name and Host."""

    def __init__(self, address: str | None, context: ssl.SSLContext):
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self, context=context)
        self.address = address

    def _pin(self, connection: http.client.HTTPConnection) -> http.client.HTTPConnection:
        if self.address is not None:
            address = self.address
            connection._create_connection = (  # type: ignore[attr-defined]  # http.client's own hook
                lambda where, *rest: socket.create_connection((address, where[1]), *rest)
            )
        return connection

    def http_open(self, req: urllib.request.Request):  # type: ignore[no-untyped-def]
        return self.do_open(lambda host, **kw: self._pin(http.client.HTTPConnection(host, **kw)), req)

    def https_open(self, req: urllib.request.Request):  # type: ignore[no-untyped-def]
        return self.do_open(lambda host, **kw: self._pin(http.client.HTTPSConnection(host, **kw)), req,
                            context=self._context)


def _opener(address: str | None, ca_file: str | None, follow: bool) -> urllib.request.OpenerDirector:
    if address is None and ca_file is None:
        return _FOLLOWING if follow else _OPENER
    context = ssl.create_default_context(cafile=ca_file)  # verifies names and chains, as the default does
    handlers: list[urllib.request.BaseHandler] = [_Pinned(address, context)]
    if not follow:
        handlers.append(_NoRedirect())
    return urllib.request.build_opener(*handlers)


def shown_url(url: str) -> str:
    """A URL as it may be logged: no userinfo, no query, no fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    follow_redirects: bool = False,
    limit: int | None = None,
    connect_to: str | None = None,
    ca_file: str | None = None,
) -> Reply:
    """One request; the reply's body is read up to `limit` bytes (all of it by default).

    connect_to: the address every connection of this request goes to (on the
    URL's port), redirects included, whatever the URL's host resolves to. ca_file: the CAs to verify TLS against instead of
    the system's (a file that cannot be read is an HttpError)."""
    shown = shown_url(url)
    log.debug("%s %s%s", method, shown, f" via {connect_to}" if connect_to else "")
    try:
        opener = _opener(connect_to, ca_file, follow_redirects)
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, response.read(limit))
    except urllib.error.HTTPError as error:
        with error:
            location = error.headers.get("Location") if 300 <= error.code < 400 and error.headers else None
            return Reply(error.code, error.read(limit), location)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        why = getattr(error, "reason", None) or error
        raise HttpError(f"{method} {shown}: no reply ({why})", why) from None


# -- names that connect to a fixed address, for connections ccci does not open itself --


def under(host: object, domains: Iterable[str]) -> bool:
    """Whether `host` is one of `domains` or a name under one (case and a final dot ignored)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.rstrip(".").lower()
    return any(name == d or name.endswith("." + d) for d in domains)


def domains_of(names: str) -> list[str]:
    """The domains in a space-separated list, lower case, without dots at their ends."""
    return [d for d in (n.strip(".").lower() for n in names.split()) if d]


_ROUTES: dict[str, str] = {}  # domain -> the address its names connect to
_ROUTES_LOCK = threading.Lock()


def route_names(address: str, domains: Iterable[str]) -> None:
    """From now on, in this process, every name equal to or under one of
    `domains` resolves to `address` (connections made by a library, e.g.
    Keycloak's client, as `connect_to` does for `call`): the name stays SNI,
    the certificate's name and Host. No other name is touched, and neither
    is the host's resolver."""
    with _ROUTES_LOCK:
        if not _ROUTES:
            resolve = socket.getaddrinfo

            def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
                return resolve(_routed(host), port, *args, **kwargs)

            socket.getaddrinfo = getaddrinfo
        _ROUTES.update({domain: address for domain in domains_of(" ".join(domains))})


def _routed(host: object) -> object:
    """The address of the longest routed domain `host` is under, else `host`."""
    matching = [domain for domain in list(_ROUTES) if under(host, [domain])]
    return _ROUTES[max(matching, key=len)] if matching else host
