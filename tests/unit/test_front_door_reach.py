"""Reaching an app as production does, through a proxy on loopback (ingress `local-proxy`).

A real TLS server on 127.0.0.1 stands in for the front door, serving the
bed's wildcard (made by tests/bed/tls/make into a temporary bed, openssl
only). Proven here: ccci's HTTP seam and the suites it runs reach
`https://<domain>/` there with the domain as SNI and Host, verify TLS
against the bed's CA and nothing else (no CA, another CA or a name the
certificate does not cover: no reply), and touch no name outside the bed's
domain. Generated names probe the class (the resolver override) as well.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities import suites
from ccci.capabilities.health import Endpoint
from ccci.pure.config import Ingress
from ccci.seams import http
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = Path(__file__).resolve().parents[2]
MAKE = ROOT / "tests" / "bed" / "tls" / "make"


def make_ca(bed: Path, domain: str) -> Path:
    done = subprocess.run([str(MAKE), domain], env={**os.environ, "CCCI_TESTBED": str(bed)},
                          capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


class FrontDoor(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 with the bed's wildcard; answers with the SNI and Host it saw."""

    daemon_threads = True

    def __init__(self, tls: Path):
        self.seen: list[tuple[str | None, str | None]] = []
        door = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                sni = getattr(self.connection, "ccci_sni", None)
                door.seen.append((sni, self.headers.get("Host")))
                body = f"sni={sni} host={self.headers.get('Host')}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "wildcard" / "cert.pem", tls / "wildcard" / "key.pem")

        def remember(sock, name, _ctx):
            sock.ccci_sni = name

        context.sni_callback = remember
        self.socket = context.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    root = tmp_path_factory.mktemp("bed")
    tls = make_ca(root / "one", "ccci.test")
    other = make_ca(root / "two", "ccci.test")  # a second bed: another CA, same names
    door = FrontDoor(tls)
    yield tls, other, door
    door.shutdown()
    door.server_close()


def test_the_seam_reaches_a_domain_through_loopback_with_its_sni_host_and_the_beds_ca(bed):
    tls, _, door = bed
    reply = http.call("GET", f"https://app-1.ccci.test:{door.port}/", headers={"Host": "app-1.ccci.test"},
                      connect_to="127.0.0.1", ca_file=str(tls / "ca.pem"))
    assert (reply.status, reply.body) == (200, b"sni=app-1.ccci.test host=app-1.ccci.test")


@pytest.mark.parametrize(("url", "ca", "why"), [
    ("https://app.ccci.test:{port}/", None, "CERTIFICATE_VERIFY_FAILED"),  # the system store lacks the bed's CA
    ("https://app.ccci.test:{port}/", "other", "CERTIFICATE_VERIFY_FAILED"),  # another bed's CA
    ("https://app.other.test:{port}/", "mine", "match"),  # a name the wildcard does not cover
    ("https://a.b.ccci.test:{port}/", "mine", "match"),  # a wildcard covers one label only
    ("https://app.ccci.test:{port}/", "missing", "No such file"),
])
def test_tls_is_verified_never_skipped(bed, tmp_path, url, ca, why):
    tls, other, door = bed
    ca_file = {"mine": str(tls / "ca.pem"), "other": str(other / "ca.pem"), None: None,
               "missing": str(tmp_path / "nope.pem")}[ca]
    before = len(door.seen)
    with pytest.raises(http.HttpError, match=why):
        http.call("GET", url.format(port=door.port), connect_to="127.0.0.1", ca_file=ca_file)
    assert len(door.seen) == before  # no request went over an unverified connection


def test_without_a_fixed_address_the_name_is_resolved_as_usual(bed):
    tls, _, door = bed
    # ccci.test is in no resolver: without connect_to nothing is reached.
    with pytest.raises(http.HttpError):
        http.call("GET", f"https://app.ccci.test:{door.port}/", ca_file=str(tls / "ca.pem"), timeout=5)


def test_the_endpoint_of_the_local_proxy_ingress_is_the_domain_over_https_on_loopback():
    assert Ingress.LOCAL_PROXY.proxy_address == "127.0.0.1"
    assert Ingress.DOMAIN.proxy_address is None and Ingress.HOST_PORT.proxy_address is None


labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=2, max_size=3).map(".".join)


@given(domains, st.lists(labels, max_size=3), st.sampled_from(["", "."]), st.booleans())
def test_names_under_the_bed_domain_connect_to_the_proxy_and_no_others(base, sub, dot, upper):
    name = ".".join([*sub, base]) + dot
    assert http.under(name.upper() if upper else name, http.domains_of(f" {base}. "))
    # A look-alike that only ends with the same text, or a parent, is not the bed's.
    assert not http.under("x" + base, [base])
    assert not http.under(base.split(".", 1)[1], [base])
    assert not http.under(None, [base]) and not http.under(name, [])


def test_routed_names_resolve_to_the_proxy_in_this_process_and_no_others(monkeypatch):
    """What Keycloak's client (and the suites' plugin) rely on: names under a
    routed domain resolve to its address; a look-alike or any other does not."""
    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)  # undone after the test
    monkeypatch.setattr(http, "_ROUTES", {})
    http.route_names("127.0.0.1", ["Routed-Test.invalid."])
    http.route_names("127.0.0.2", ["other.invalid", "inner.routed-test.invalid"])
    assert {info[4][0] for info in socket.getaddrinfo("x.inner.routed-test.invalid", 443)} == {"127.0.0.2"}
    for name in ("routed-test.invalid", "sso.routed-test.invalid", "A.B.ROUTED-TEST.INVALID."):
        assert {info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)} == {"127.0.0.1"}
    assert {info[4][0] for info in socket.getaddrinfo("x.other.invalid", 443)} == {"127.0.0.2"}
    for name in ("xrouted-test.invalid", "invalid", "not-routed.invalid"):
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo(name, 443)


@given(domains, st.sampled_from([None, "/bed/tls/ca.pem"]), st.sampled_from([None, "127.0.0.1"]))
def test_a_suite_is_told_how_to_reach_the_app_and_what_to_trust_exactly_when_ccci_is(domain, ca, address):
    env = Endpoint(f"https://{domain}", domain, address, ca).test_env("ccci.test")
    assert env["CCCI_URL"] == f"https://{domain}"
    assert ("CCCI_CONNECT_TO" in env) == (address is not None)
    if address:
        assert env["CCCI_CONNECT_NAMES"] == "ccci.test" and env["CCCI_RESOLVE"] == f"{domain}:443:{address}"
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert env.get(name) == ca


def test_a_suite_reaches_the_app_by_domain_through_the_proxy_verifying_the_beds_ca(bed, tmp_path):
    tls, _, door = bed
    url = f"https://app-2.ccci.test:{door.port}"
    env = Endpoint(url, "app-2.ccci.test", "127.0.0.1", str(tls / "ca.pem")).test_env("ccci.test")
    test = tmp_path / "test_reach.py"
    test.write_text(
        "import os, socket, urllib.request\n"
        "def test_app():\n"
        "    with urllib.request.urlopen(os.environ['CCCI_URL'] + '/', timeout=10) as r:\n"
        "        assert r.read() == b'sni=app-2.ccci.test host=app-2.ccci.test:" + str(door.port).encode().decode()
        + "'\n"
        "def test_other_names_are_untouched():\n"
        "    try:\n"
        "        socket.getaddrinfo('app.not-the-bed.test', 443)\n"
        "    except socket.gaierror:\n"
        "        return\n"
        "    raise AssertionError('a name outside the bed resolved')\n"
    )
    result = suites.run_suite("reach", [test], env={**env, "PYTHONPATH": str(ROOT)}, out_dir=tmp_path / "out",
                              timeout=60)
    assert (result.passed, result.failed) == (2, 0), result.failures
    # The same suite without the CA in its environment cannot verify the proxy: it fails.
    bare = {k: v for k, v in env.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    result = suites.run_suite("bare", [test], env={**bare, "PYTHONPATH": str(ROOT)}, out_dir=tmp_path / "out",
                              timeout=60)
    assert result.failed == 1 and "CERTIFICATE_VERIFY_FAILED" in " ".join(result.failures), result.failures


@pytest.mark.parametrize(("ca", "verify_tls", "verify"), [
    (None, True, True), ("/bed/tls/ca.pem", True, "/bed/tls/ca.pem"), ("/bed/tls/ca.pem", False, False),
    (None, False, False),
])
def test_the_keycloak_seam_verifies_against_the_ca_it_is_given_and_never_less(ca, verify_tls, verify):
    from ccci.pure.config import KeycloakSettings
    from ccci.seams.keycloak import Keycloak

    settings = KeycloakSettings("https://sso.ccci.test", "/nonexistent", verify_tls=verify_tls)
    assert Keycloak(settings, password="pw", ca_file=ca).verify == verify
