"""Alerts: the file always lands; the push goes to a real loopback HTTP server; the token never shows.

The receiver is a real HTTP server on 127.0.0.1 started by the test (the
same one the integration tests use), answering with whatever status the test
sets, or not at all.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ccci.capabilities.alerts import PUSH_LIMIT, Alerts
from ccci.seams.http import shown_url
from ccci.pure.config import AlertSettings

TOKEN = "tok-9f8e7d-never-in-logs"
NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-proxy-rolled-back\.json")


@pytest.fixture
def token_file(tmp_path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


def send(alerts: Alerts, message: str = "proxy: 1.2.0 rolled back to 1.1.0") -> Path:
    return alerts.send("proxy", "rolled-back", "proxy: 1.2.0 rolled back", message,
                       attempted="1.2.0+v2", last_good="1.1.0+v2", recovered=True)


def test_without_a_push_the_alert_is_one_json_file(tmp_path):
    path = send(Alerts(tmp_path, None))
    assert path.parent == tmp_path / "alerts" and NAME.fullmatch(path.name)
    data = json.loads(path.read_text())
    assert data["app"] == "proxy" and data["kind"] == "rolled-back" and data["push"] == "not configured"
    assert (data["attempted"], data["last_good"], data["recovered"]) == ("1.2.0+v2", "1.1.0+v2", True)
    assert [p.name for p in (tmp_path / "alerts").iterdir()] == [path.name]  # no temp files left


def test_alerts_never_overwrite_each_other(tmp_path):
    alerts = Alerts(tmp_path, None)
    paths = {send(alerts) for _ in range(20)}
    assert len(paths) == 20 and all(p.exists() for p in paths)


def test_the_push_is_ntfy_shaped_with_the_bearer_token(tmp_path, token_file, push_receiver):
    alerts = Alerts(tmp_path, AlertSettings(push_receiver.url, str(token_file), timeout=5))
    path = send(alerts)
    (push,) = push_receiver.pushes
    assert push["path"] == "/ccci-alerts"
    assert push["body"] == "proxy: 1.2.0 rolled back to 1.1.0"
    headers = push["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Title"] == "proxy: 1.2.0 rolled back" and headers["Priority"] == "4"
    assert headers["Tags"] == "ccci,proxy,rolled-back"
    assert json.loads(path.read_text())["push"] == "sent"
    assert TOKEN not in path.read_text()


@pytest.mark.parametrize("status", [401, 500])
def test_a_refused_push_keeps_the_file_and_never_logs_the_token(tmp_path, token_file, push_receiver, caplog, status):
    push_receiver.status = status
    caplog.set_level(logging.DEBUG, logger="ccci")
    path = send(Alerts(tmp_path, AlertSettings(push_receiver.url, str(token_file), timeout=5)))
    data = json.loads(path.read_text())
    assert data["push"] == f"failed: HTTP {status}" and data["message"].startswith("proxy: 1.2.0")
    assert f"not pushed to {push_receiver.url}: HTTP {status}" in caplog.text
    assert TOKEN not in caplog.text


def test_an_unreachable_push_keeps_the_file(tmp_path, token_file, caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="ccci")
    path = send(Alerts(tmp_path, AlertSettings(f"http://127.0.0.1:{port}/x", str(token_file), timeout=2)))
    assert json.loads(path.read_text())["push"].startswith("failed: ")
    assert "not pushed" in caplog.text and TOKEN not in caplog.text


def test_a_push_that_hangs_is_bounded_by_its_timeout(tmp_path, token_file):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    try:
        began = time.monotonic()
        path = send(Alerts(tmp_path, AlertSettings(f"http://127.0.0.1:{listener.getsockname()[1]}/x",
                                                   str(token_file), timeout=1)))
        assert time.monotonic() - began < 5
        assert json.loads(path.read_text())["push"].startswith("failed: ")
    finally:
        for conn in held:
            conn.close()
        listener.close()


def test_an_unreadable_token_file_fails_the_push_not_the_alert(tmp_path, push_receiver):
    path = send(Alerts(tmp_path, AlertSettings(push_receiver.url, str(tmp_path / "missing"), timeout=5)))
    assert json.loads(path.read_text())["push"] == "failed: cannot read the token file"
    assert push_receiver.pushes == []


def test_a_long_message_is_cut_for_the_push_but_kept_whole_in_the_file(tmp_path, push_receiver):
    notes = "release notes line ✓\n" * 2000
    path = send(Alerts(tmp_path, AlertSettings(push_receiver.url, None, timeout=5)), message=notes)
    (push,) = push_receiver.pushes
    assert len(push["body"].encode()) <= PUSH_LIMIT and str(path) in push["body"]
    assert "Authorization" not in push["headers"]
    assert json.loads(path.read_text())["message"] == notes


def test_the_url_is_logged_without_credentials_or_query():
    assert shown_url("https://user:secret@ntfy.example.org:8443/ci?auth=abc#x") == "https://ntfy.example.org:8443/ci"
    assert shown_url("http://127.0.0.1:9/t") == "http://127.0.0.1:9/t"


def test_bad_app_or_kind_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        Alerts(tmp_path, None).send("../x", "rolled-back", "t", "m")
    assert not (tmp_path / "alerts").exists()


# -- the one HTTP seam, as alerts and health probes use it (real loopback servers) ------------

class Redirector(ThreadingHTTPServer):
    """Answers every request with a redirect to `target`, and records what it got."""

    daemon_threads = True

    def __init__(self, target: str):
        self.seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _redirect(self) -> None:
                server.seen.append(self.command)
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect  # noqa: N815 (http.server's naming)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/moved"


@pytest.fixture
def redirector(push_receiver):
    server = Redirector(push_receiver.url)
    yield server
    server.shutdown()
    server.server_close()


def test_a_redirected_push_fails_and_never_carries_the_token_elsewhere(tmp_path, token_file, push_receiver, redirector):
    path = send(Alerts(tmp_path, AlertSettings(redirector.url, str(token_file), timeout=5)))
    assert json.loads(path.read_text())["push"] == "failed: HTTP 302"
    assert redirector.seen == ["POST"] and push_receiver.pushes == []


def test_a_health_probe_follows_redirects_an_api_call_would_not(push_receiver, redirector):
    from ccci.capabilities.health import Endpoint

    push_receiver.status = 200
    status, body = Endpoint(redirector.url, "proxy.ci.test").get("/")
    # The receiver answers GET with 501 (it only does POST): the redirect was followed.
    assert redirector.seen == ["GET"] and status == 501 and body


def test_the_seam_logs_urls_without_userinfo_or_query_and_says_why_no_reply_came(caplog):
    from ccci.seams import http

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="ccci")
    with pytest.raises(http.HttpError) as caught:
        http.call("GET", f"http://user:pw-secret@127.0.0.1:{port}/x?token=q-secret", timeout=2)
    assert "secret" not in caplog.text and "secret" not in str(caught.value)
    assert f"GET http://127.0.0.1:{port}/x" in caplog.text
    assert "no reply" in str(caught.value) and str(caught.value.reason)
    with pytest.raises(http.HttpError) as caught:
        http.call("GET", f"http://127.0.0.1:{port}/x?token=q-secret", timeout=2)
    assert "refused" in str(caught.value.reason).lower() and "secret" not in caplog.text + str(caught.value)
    with pytest.raises(http.HttpError):
        http.call("GET", "not a url at all")
