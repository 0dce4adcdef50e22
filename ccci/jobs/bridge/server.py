"""The webhook endpoint: `POST /hook` from the forge, `GET /healthz` for probes.

Before anything is parsed the request must declare exactly one Content-Length
of ASCII digits no larger than the cap (the body is not read otherwise) and
carry a valid signature. Every refusal is one log line, a 4xx with a JSON
reason (or http.server's own 4xx for a request line or headers it cannot
read) and a closed connection; nothing is stored for a request that fails
these checks, and no malformed request ends in a traceback. Replies: 202 a build was
queued, 200 the comment was read and deliberately not acted on, 401 bad or
missing signature, 400 malformed, 411/413 missing or oversized body, 502 the
forge or CI kept a trusted trigger from being queued.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ccci.pure import webhook
from ccci.pure.bridge_config import Secret
from ccci.jobs.bridge.service import Bridge, Disposition
from ccci.pure.names import BadInput

log = logging.getLogger("ccci")

HOOK_PATH = "/hook"
_STATUS = {Disposition.TRIGGERED: 202, Disposition.IGNORED: 200, Disposition.REFUSED: 200, Disposition.FAILED: 502}
# ASCII digits only: str.isdigit() accepts "²" (which int() refuses) and int()
# accepts "١٢"; neither is HTTP. Twelve digits is far over any cap.
_LENGTH = re.compile(r"[0-9]{1,12}")


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # bursts of deliveries queue instead of waiting on SYN retries

    def __init__(self, address: tuple[str, int], bridge: Bridge, secret: Secret):
        self.bridge = bridge
        self.secret = secret
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, poll_interval: float = 0.5) -> threading.Thread:
        """Serve on a thread; `poll_interval` bounds how long shutdown() waits."""
        thread = threading.Thread(target=self.serve_forever, args=(poll_interval,),
                                  name="ccci-bridge-http", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    server_version = "ccci-bridge"
    sys_version = ""
    timeout = 15  # a client that stalls mid-request loses its thread after this

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("http: %s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers a method it has no do_* for with 501, a server
        # fault; it is the client's request that is wrong: 405.
        if code == 501:
            code, message = 405, f"method {str(self.command)[:20]!r} not allowed"
        elif code == 505:  # likewise an HTTP version other than 1.x: the request's fault
            code, message = 400, message or "HTTP version not supported"
        # A request line it cannot read leaves the version at HTTP/0.9, whose
        # replies have no status line: a client would not see the 4xx.
        self.request_version = "HTTP/1.0"
        self.close_connection = True
        super().send_error(code, message, explain)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":  # a two-word request line: not served
            self.send_error(400, "HTTP/0.9 requests are not served")
            return False
        return True

    def _reply(self, status: int, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, reason: str, close: bool = False) -> None:
        """Answer a refusal and close the connection; `close`: the body is unread, drain it."""
        log.warning("webhook from %s refused (%d): %s", self.client_address[0], status, reason)
        self.close_connection = True
        self._reply(status, {"outcome": "rejected", "reason": reason})
        if close:
            self._linger()

    def _linger(self) -> None:
        """Close after a refusal without the unread body turning into a reset.

        Closing a socket with unread input sends RST, which can destroy the
        reply before the client reads it. So: send the reply, stop writing,
        and discard what the client still sends, bounded in bytes and time.
        Nothing discarded is parsed or kept.
        """
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            budget = 4 * self.server.bridge.config.max_body_bytes
            while budget > 0:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                budget -= len(chunk)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/healthz":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"outcome": "rejected", "reason": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != HOOK_PATH:
            self._refuse(404, f"POST to {self.path[:60]!r}, the webhook path is {HOOK_PATH}", close=True)
            return
        cap = self.server.bridge.config.max_body_bytes
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None or not lengths:
            self._refuse(411, "no Content-Length (chunked bodies are not accepted)", close=True)
            return
        if len(lengths) > 1:
            self._refuse(400, "more than one Content-Length", close=True)
            return
        declared = lengths[0].strip()
        if not _LENGTH.fullmatch(declared):
            self._refuse(400, "Content-Length is not a number", close=True)
            return
        if int(declared) > cap:
            self._refuse(413, f"body of {int(declared)} bytes is over the {cap}-byte cap", close=True)
            return
        try:
            body = self.rfile.read(int(declared))
        except OSError as error:
            self._refuse(400, f"body could not be read: {error}", close=True)
            return
        if len(body) != int(declared):
            self._refuse(400, "body is shorter than its Content-Length", close=True)
            return
        kind = self.server.bridge.config.forge.kind
        headers = dict(self.headers.items())
        try:
            webhook.verify(headers, body, self.server.secret.value, kind)
        except webhook.BadSignature as error:
            self._refuse(401, str(error))
            return
        event_name = webhook.event_name(headers, kind)
        if event_name != webhook.EVENT:
            log.info("webhook: event %r ignored, only %s is read", event_name[:40], webhook.EVENT)
            self._reply(200, {"outcome": "ignored", "reason": f"event {event_name[:40]!r}"})
            return
        try:
            event = webhook.CommentEvent.parse(body)
        except BadInput as error:
            self._refuse(400, str(error))
            return
        try:
            outcome = self.server.bridge.handle(event)
        except Exception as error:  # a bug or a full disk: say so, never a half-answer
            log.exception("%s: failed: %s", event.where(), error)
            self._reply(500, {"outcome": "failed", "reason": type(error).__name__})
            return
        self._reply(_STATUS[outcome.disposition], outcome.to_json())
