"""Alerts: one JSON file per alert, then an optional push.

Invariants:
- The file `<state>/alerts/<UTC timestamp>-<app>-<kind>.json` is written
  atomically before any push is tried. A push that fails, is refused or hangs
  (bounded by its timeout) is logged and noted in the file; it never hides
  the file, and it never fails the caller.
- The push is ntfy-compatible: POST the message as the body to `push_url`,
  with `Title`, `Priority` and `Tags` headers and, when a token file is
  configured, `Authorization: Bearer <token>`. The token is read at push time
  and is never logged, kept or written anywhere; the URL is logged without
  its userinfo and query.
- The pushed body is cut to what ntfy accepts (4 KiB); the file keeps it all.
- The push goes through the one HTTP seam (ccci.seams.http), which does not
  follow redirects: a redirect would carry the token elsewhere and drop the
  body, so it counts as a failed push.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import attrs

from ccci.pure.config import AlertSettings
from ccci.seams import http
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")

PUSH_LIMIT = 3800  # bytes of body; ntfy refuses (or attaches) longer messages
# ntfy priorities: 5 urgent, 4 high, 3 default, 2 low.
PRIORITY = {
    "rollback-failed": 5,
    "rolled-back": 4,
    "install-failed": 4,
    "unhealthy": 4,
    "held-major": 4,
    "held-manual-migration": 4,
    "held-unparseable": 4,
    "upgraded": 2,
    "installed": 2,
}
_KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


@attrs.frozen
class Alert:
    app: str
    kind: str
    title: str
    message: str
    at: str
    details: Mapping[str, object] = attrs.Factory(dict)

    def as_json(self, push: str) -> str:
        body = {"app": self.app, "kind": self.kind, "title": self.title, "message": self.message,
                "at": self.at, **self.details, "push": push}
        return json.dumps(body, indent=2, sort_keys=True, default=str)


def _ascii(text: str) -> str:
    # HTTP header values: keep them to printable ASCII.
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:250]


class Alerts:
    """The alerts folder of one state directory, and where to push."""

    def __init__(self, state: Path, settings: AlertSettings | None):
        self.folder = state / "alerts"
        self.settings = settings

    def send(self, app: str, kind: str, title: str, message: str, **details: object) -> Path:
        """Write the alert's file, then push it; the file's path."""
        if not _KIND.fullmatch(kind) or not _KIND.fullmatch(app):
            raise ValueError(f"bad alert app/kind: {app!r}/{kind!r}")
        now = datetime.datetime.now(datetime.UTC)
        alert = Alert(app, kind, title, message, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), dict(details))
        stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{app}-{kind}.json"
        if path.exists():  # same microsecond: never overwrite an alert
            path = self.folder / f"{stamp}-{secrets.token_hex(2)}-{app}-{kind}.json"
        pending = "pending" if self.settings else "not configured"
        write_atomic(path, alert.as_json(pending) + "\n")
        log.warning("alert %s: %s", path.name, title)
        if self.settings is not None:
            outcome = self._push(alert, path)
            write_atomic(path, alert.as_json(outcome) + "\n")
        return path

    def _push(self, alert: Alert, path: Path) -> str:
        settings = self.settings
        assert settings is not None
        where = http.shown_url(settings.push_url)
        headers = {
            "Title": _ascii(alert.title),
            "Priority": str(PRIORITY.get(alert.kind, 3)),
            "Tags": _ascii(f"ccci,{alert.app},{alert.kind}"),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if settings.token_file:
            try:
                token = Path(settings.token_file).read_text().strip()
            except OSError as error:
                log.warning("alert %s not pushed: cannot read the token file %s (%s)",
                            path.name, settings.token_file, error.strerror)
                return "failed: cannot read the token file"
            headers["Authorization"] = f"Bearer {token}"
        body = alert.message.encode()
        if len(body) > PUSH_LIMIT:
            tail = f"\n[cut: the whole alert is in {path}]".encode()
            body = body[: PUSH_LIMIT - len(tail)].decode(errors="ignore").encode() + tail
        try:
            status = http.call("POST", settings.push_url, headers=headers, body=body,
                               timeout=settings.timeout, limit=0).status
        except http.HttpError as error:  # refused, unreachable, timed out, bad URL
            log.warning("alert %s not pushed to %s: %s", path.name, where, error.reason)
            return f"failed: {error.reason}"
        if status >= 300:
            log.warning("alert %s not pushed to %s: HTTP %s", path.name, where, status)
            return f"failed: HTTP {status}"
        log.info("alert %s pushed to %s", path.name, where)
        return "sent"
