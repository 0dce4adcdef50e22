"""The one seam through which the bridge speaks HTTP to the forge and the CI.

`call` returns every HTTP status as a `Reply` (callers decide what a 404
means) and raises `HttpError` only when no reply came: refused, timed out,
reset. Redirects are not followed: an API that redirects is answering
something else, and callers fail closed on it. The request is logged as
method and URL; headers (where the tokens are) and bodies never are, and
URLs carry no secrets.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Mapping

import attrs

log = logging.getLogger("ccci")


class HttpError(Exception):
    """No HTTP reply came back (connection refused, timeout, reset)."""


@attrs.frozen
class Reply:
    status: int
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect())


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Reply:
    log.debug("%s %s", method, url)
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.read())
    except (urllib.error.URLError, OSError) as error:
        why = getattr(error, "reason", None) or error
        raise HttpError(f"{method} {url}: no reply ({why})") from None
