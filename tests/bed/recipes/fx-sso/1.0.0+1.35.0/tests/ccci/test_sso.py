"""fx-sso recipe tests, run by ccci against a deployed app and its run's realm.

Environment: CCCI_URL, CCCI_DOMAIN (the app), and the realm ccci leased for
this run: CCCI_OIDC_DISCOVERY_URL, CCCI_OIDC_ISSUER, CCCI_OIDC_CLIENT_ID,
CCCI_OIDC_CLIENT_SECRET, CCCI_OIDC_USERNAME, CCCI_OIDC_PASSWORD.
Standard library only.
"""
import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

ENV = os.environ


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return json.load(resp)


def password_grant(password):
    discovery = get_json(ENV["CCCI_OIDC_DISCOVERY_URL"])
    form = urllib.parse.urlencode({
        "grant_type": "password",
        "client_id": ENV["CCCI_OIDC_CLIENT_ID"],
        "client_secret": ENV["CCCI_OIDC_CLIENT_SECRET"],
        "username": ENV["CCCI_OIDC_USERNAME"],
        "password": password,
        "scope": "openid",
    }).encode()
    req = urllib.request.Request(discovery["token_endpoint"], data=form, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return discovery, json.load(resp)


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_app_serves():
    req = urllib.request.Request(ENV["CCCI_URL"].rstrip("/") + "/",
                                 headers={"Host": ENV.get("CCCI_DOMAIN", "")})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.read().decode().startswith("fx-sso ")


def test_discovery_names_the_issuer():
    assert get_json(ENV["CCCI_OIDC_DISCOVERY_URL"])["issuer"] == ENV["CCCI_OIDC_ISSUER"]


def test_password_grant_gives_a_token_from_the_issuer():
    discovery, token = password_grant(ENV["CCCI_OIDC_PASSWORD"])
    body = claims(token["access_token"])
    assert body["iss"] == discovery["issuer"]
    assert body["azp"] == ENV["CCCI_OIDC_CLIENT_ID"]
    assert claims(token["id_token"])["preferred_username"] == ENV["CCCI_OIDC_USERNAME"]


def test_wrong_password_is_refused():
    try:
        password_grant("not-" + ENV["CCCI_OIDC_PASSWORD"])
    except urllib.error.HTTPError as error:
        assert error.code == 401
    else:
        raise AssertionError("a wrong password was accepted")
