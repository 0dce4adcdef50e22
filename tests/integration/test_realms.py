"""Per-run realms against the test bed's real Keycloak, over HTTP on 127.0.0.1.

Each test proves one invariant of ccci.capabilities.realms the way an adversary would
check it: log in for real, break the run on purpose (exception, SIGTERM),
race two runs, reap with one of them live, and look for credentials in
everything ccci printed.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import attrs
import pytest

from ccci.capabilities import realms
from ccci.seams.keycloak import Keycloak
from ccci.pure.names import BadInput, RunId

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FX_SSO_TESTS = REPO / "tests/bed/recipes/fx-sso/1.0.0+1.35.0/tests/ccci/test_sso.py"


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def grant(settings, held: realms.RealmLease) -> dict:
    return Keycloak(settings).password_grant(
        held.realm.value, held.client_id, held.client_secret, held.username, held.password
    )


def exists(settings, name: str) -> bool:
    return Keycloak(settings).realm(name) is not None


def discovery_issuer(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["issuer"]


def test_password_grant_gives_a_jwt_from_the_discovery_issuer(keycloak_settings):
    run = RunId.new()
    with realms.lease(keycloak_settings, "fx-sso", run) as held:
        assert held.realm.value == f"fx-sso-{run}"
        assert exists(keycloak_settings, held.realm.value)
        issuer = discovery_issuer(held.env()["CCCI_OIDC_DISCOVERY_URL"])
        assert issuer == held.env()["CCCI_OIDC_ISSUER"]
        token = grant(keycloak_settings, held)
        assert claims(token["access_token"])["iss"] == issuer
        assert claims(token["access_token"])["azp"] == "fx-sso"
    assert not exists(keycloak_settings, held.realm.value)


def test_realm_is_gone_after_a_red_run(keycloak_settings):
    with pytest.raises(RuntimeError, match="stage failed"):
        with realms.lease(keycloak_settings, "fx-sso", RunId.new()) as held:
            assert exists(keycloak_settings, held.realm.value)
            raise RuntimeError("stage failed")
    assert not exists(keycloak_settings, held.realm.value)


HOLDER = textwrap.dedent(
    """
    import json, signal, sys, time
    from ccci.pure import config
    from ccci.capabilities import realms
    settings = config.CONVERTER.structure(json.loads(sys.argv[1]), config.KeycloakSettings)
    class Stop(BaseException):
        pass
    if sys.argv[2] == "job-handler":  # like the cold run: SIGTERM becomes an exception
        def handler(signum, frame):
            raise Stop()
        signal.signal(signal.SIGTERM, handler)
    try:
        with realms.lease(settings, "fx-sso", sys.argv[3]) as held:
            print(held.realm.value, flush=True)
            time.sleep(120)
    except Stop:
        sys.exit(99)
    """
)


@pytest.mark.parametrize("handler, code", [("none", 128 + signal.SIGTERM), ("job-handler", 99)])
def test_realm_is_gone_after_sigterm(keycloak_settings, handler, code):
    run = RunId.new().value
    settings_json = json.dumps(attrs.asdict(keycloak_settings))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, settings_json, handler, run],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        line = holder.stdout.readline().strip()
        assert line == f"fx-sso-{run}", holder.stderr.read()
        assert exists(keycloak_settings, line)
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=60) == code
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not exists(keycloak_settings, line)


def test_concurrent_runs_get_distinct_realms_and_reaping_keeps_the_live_one(keycloak_settings):
    runs = [RunId.new(), RunId.new()]
    while runs[0] == runs[1]:
        runs[1] = RunId.new()
    server = Keycloak(keycloak_settings)
    # Not ccci's: a realm of the per-run shape without the mark.
    foreign = f"fx-sso-{RunId.new()}"
    server.create_realm({"realm": foreign, "enabled": True})
    try:
        with ExitStack() as stack:
            held: list[realms.RealmLease | None] = [None, None]
            errors: list[BaseException] = []
            barrier = threading.Barrier(2)

            def take(i: int) -> None:
                try:
                    barrier.wait(timeout=30)
                    held[i] = stack.enter_context(realms.lease(keycloak_settings, "fx-sso", runs[i]))
                except BaseException as error:  # reported below
                    errors.append(error)

            threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not errors, errors
            live, orphan = held
            assert live is not None and orphan is not None
            assert live.realm != orphan.realm and live.issuer != orphan.issuer
            for lease_ in held:
                token = grant(keycloak_settings, lease_)
                assert claims(token["access_token"])["iss"] == lease_.issuer

            # The orphan's run is over (e.g. SIGKILLed); the live one is still testing.
            young = realms.reap(keycloak_settings, {runs[0].value})
            assert orphan.realm.value not in young  # inside the grace period
            deleted = realms.reap(keycloak_settings, {runs[0].value}, grace_seconds=0)
            assert orphan.realm.value in deleted
            assert live.realm.value not in deleted and foreign not in deleted
            names = {r["realm"] for r in server.realms()}
            assert {"master", live.realm.value, foreign} <= names
            assert orphan.realm.value not in names
            # The live run still logs in after the reap.
            assert claims(grant(keycloak_settings, live)["access_token"])["iss"] == live.issuer
        # Leaving both leases: the reaped one is already gone, which is fine.
        assert not exists(keycloak_settings, live.realm.value)
    finally:
        server.delete_realm(foreign)


@pytest.mark.parametrize(
    "recipe, run",
    [("fx-sso/../master", "abc123"), ("a" * 65, "abc123"), ("fx-sso", "abc123/../x"), ("FX", "abc123")],
)
def test_hostile_names_are_refused_before_anything_is_read(recipe, run):
    # Neither the password file nor the server exists: BadInput proves nothing was touched.
    settings = realms.KeycloakSettings(url="http://127.0.0.1:1", admin_password_file="/nonexistent")
    with pytest.raises(BadInput):
        with realms.lease(settings, recipe, run):
            pass


def test_preflight_names_an_unreachable_keycloak(keycloak_settings, tmp_path):
    down = attrs.evolve(keycloak_settings, url="http://127.0.0.1:9")
    with pytest.raises(realms.KeycloakUnavailable, match=r"127\.0\.0\.1:9 does not answer"):
        realms.preflight(down)


def test_no_credential_in_logs_or_errors(keycloak_settings, keycloak_admin_password, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    seen: set[str] = {keycloak_admin_password}
    # The happy path, with every library logging at DEBUG.
    with realms.lease(keycloak_settings, "fx-sso", RunId.new()) as held:
        seen |= held.secrets()
        grant(keycloak_settings, held)
        realms.reap(keycloak_settings, {held.realm.run.value})
    # A wrong admin password (a marker in a file): refused, and not echoed.
    wrong = tmp_path / "pw"
    wrong.write_text("wrong-ADMIN-marker-5e1d\n")
    seen.add("wrong-ADMIN-marker-5e1d")
    bad = attrs.evolve(keycloak_settings, admin_password_file=str(wrong))
    messages = []
    with pytest.raises(realms.KeycloakUnavailable) as refused:
        realms.preflight(bad)
    messages.append(str(refused.value))
    assert "refused the admin login" in messages[0] and str(wrong) in messages[0]
    with pytest.raises(realms.RealmError) as failed:
        with realms.lease(bad, "fx-sso", RunId.new()):
            pass
    messages.append(str(failed.value))
    # Unreachable, with the real password.
    with pytest.raises(realms.RealmError) as unreachable:
        realms.reap(attrs.evolve(keycloak_settings, url="http://127.0.0.1:9"), set())
    messages.append(str(unreachable.value))
    out, err = capfd.readouterr()
    everything = "\n".join([caplog.text, out, err, *messages, repr(held)])
    for secret in seen:
        assert secret not in everything


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"fx-sso test\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fx_sso_recipe_tests_pass_with_a_lease(keycloak_settings, tmp_path):
    """The fixture recipe's own tests, run as ccci runs them, against a real realm.
    (A local page stands in for the deployed app; the cold run deploys the real one.)"""
    page = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    try:
        with realms.lease(keycloak_settings, "fx-sso", RunId.new()) as held:
            env = {
                **os.environ, **held.env(),
                "CCCI_URL": f"http://127.0.0.1:{page.server_address[1]}",
                "CCCI_DOMAIN": "fx-sso.ccci.test",
            }
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(FX_SSO_TESTS)],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "4 passed" in done.stdout
    finally:
        page.shutdown()
