"""keycloak recipe tests, run by ccci against a deployed app.

Environment: CCCI_URL (base URL), CCCI_DOMAIN (Host header), CCCI_VERSION.
Standard library only.
"""
import json
import os
import time
import urllib.error
import urllib.request

URL = os.environ["CCCI_URL"].rstrip("/")
DOMAIN = os.environ.get("CCCI_DOMAIN", "")
SETTLE = 60  # seconds


def get(path):
    """The status and body. A 5xx is retried for up to SETTLE seconds: after a
    restore, whose post-hook drops and recreates the database under the running
    Keycloak, the first requests fail on pooled connections the drop ended
    until the pool replaces them (as on a real server after `abra app restore`)."""
    headers = {"Host": DOMAIN} if DOMAIN else {}
    deadline = time.monotonic() + SETTLE
    while True:
        req = urllib.request.Request(URL + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as error:
            if error.code < 500 or time.monotonic() >= deadline:
                raise
        time.sleep(1)


def test_master_realm_publishes_its_openid_configuration():
    status, body = get("/realms/master/.well-known/openid-configuration")
    assert status == 200
    config = json.loads(body)
    # The issuer is the public https URL of the app's domain (KC_HOSTNAME):
    # what OIDC clients of a real server see.
    assert config["issuer"] == f"https://{DOMAIN}/realms/master", config["issuer"]
    assert config["token_endpoint"].startswith(f"https://{DOMAIN}/"), config["token_endpoint"]
