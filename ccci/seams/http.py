"""The one seam through which ccci speaks HTTP: the forge, the CI, alert pushes, health probes.

`call` returns every HTTP status as a `Reply` (callers decide what a 404
means) and raises `HttpError` only when no reply came: refused, timed out,
reset, a malformed answer or URL. Redirects are not followed unless a caller
asks (a health probe sees what a browser would): an API that redirects is
answering something else, and its callers fail closed on it. TLS is
verified against the system's trust store. The request is logged as method
and URL without userinfo, query or fragment (`shown_url`); headers (where
the tokens are) and bodies never are.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

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
) -> Reply:
    """One request; the reply's body is read up to `limit` bytes (all of it by default)."""
    shown = shown_url(url)
    log.debug("%s %s", method, shown)
    opener = _FOLLOWING if follow_redirects else _OPENER
    try:
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
