"""health.Endpoint follows redirects as a browser would, but through the app's
ingress while they stay on the app's domain (which need not resolve: a bed's
host port, a proxy reached by address). Keycloak redirects `/` to its own
https URL; a probe that looked the domain up would never see it answer."""

from __future__ import annotations

import http.server
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities import health
from ccci.seams import http as http_seam

label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
domains = st.lists(label, min_size=2, max_size=4).map(".".join)
segments = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=10)
paths = st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join(parts))
queries = st.one_of(st.just(""), st.lists(segments, min_size=1, max_size=3).map(lambda q: "?" + "&".join(q)))
endpoints = st.sampled_from(["http://127.0.0.1:32768", "http://127.0.0.1:1/", "https://app.example.org"])


@given(endpoints, domains, st.sampled_from(["http", "https"]), st.booleans(), paths, queries)
def test_a_url_on_the_apps_domain_goes_through_the_endpoint(endpoint, domain, scheme, upper, path, query):
    public = f"{scheme}://{domain.upper() if upper else domain}{path}{query}"
    url, headers = health.route(endpoint, domain, public)
    assert url == endpoint.rstrip("/") + path + query
    assert headers == {"Host": domain}


@given(endpoints, domains, domains, paths)
def test_a_url_elsewhere_is_requested_as_it_is(endpoint, domain, other, path):
    if other == domain:
        other = "x" + other
    public = f"https://{other}{path}"
    assert health.route(endpoint, domain, public) == (public, {})


class _App(http.server.BaseHTTPRequestHandler):
    """An app on `app.test` that redirects `/` to its own https URL, like Keycloak."""

    def do_GET(self):  # noqa: N802
        if self.headers.get("Host") != "app.test":
            self.send_response(421)
        elif self.path == "/":
            self.send_response(302)
            self.send_header("Location", "https://app.test/admin/")
        elif self.path == "/admin/":
            self.send_response(302)
            self.send_header("Location", "console?x=1")  # relative: resolved against /admin/
        elif self.path == "/admin/console?x=1":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"console")
            return
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def app_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_redirect_to_the_apps_own_https_url_is_followed_through_the_endpoint(app_port):
    endpoint = health.Endpoint(f"http://127.0.0.1:{app_port}", "app.test")
    assert endpoint.get("/") == (200, "console")


def test_endless_redirects_end_in_an_error(app_port):
    endpoint = health.Endpoint(f"http://127.0.0.1:{app_port}", "app.test")
    with pytest.raises(http_seam.HttpError, match="more than 10 redirects"):
        endpoint.get("/loop")


def test_a_redirect_reply_carries_its_location_when_not_followed(app_port):
    reply = http_seam.call("GET", f"http://127.0.0.1:{app_port}/", headers={"Host": "app.test"})
    assert (reply.status, reply.location) == (302, "https://app.test/admin/")
