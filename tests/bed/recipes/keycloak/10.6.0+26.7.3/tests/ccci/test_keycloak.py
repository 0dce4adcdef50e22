"""keycloak recipe tests, run by ccci against a deployed app.

Environment: CCCI_URL (base URL), CCCI_DOMAIN (Host header), CCCI_VERSION.
Standard library only.
"""
import json
import os
import urllib.request

URL = os.environ["CCCI_URL"].rstrip("/")
DOMAIN = os.environ.get("CCCI_DOMAIN", "")


def get(path):
    headers = {"Host": DOMAIN} if DOMAIN else {}
    req = urllib.request.Request(URL + path, headers=headers)
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.status, resp.read().decode()


def test_master_realm_publishes_its_openid_configuration():
    status, body = get("/realms/master/.well-known/openid-configuration")
    assert status == 200
    config = json.loads(body)
    # The issuer is the public https URL of the app's domain (KC_HOSTNAME):
    # what OIDC clients of a real server see.
    assert config["issuer"] == f"https://{DOMAIN}/realms/master", config["issuer"]
    assert config["token_endpoint"].startswith(f"https://{DOMAIN}/"), config["token_endpoint"]
