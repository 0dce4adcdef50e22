"""fx-db recipe tests, run by ccci against a deployed app.

Environment: CCCI_URL (base URL), CCCI_DOMAIN (Host header), CCCI_STACK,
CCCI_VERSION. Standard library only.
"""
import os
import urllib.request

URL = os.environ["CCCI_URL"].rstrip("/")
DOMAIN = os.environ.get("CCCI_DOMAIN", "")


def get(path):
    headers = {"Host": DOMAIN} if DOMAIN else {}
    req = urllib.request.Request(URL + path, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_index_names_the_recipe():
    status, body = get("/")
    assert status == 200
    assert body.startswith("fx-db "), body


def test_value_comes_from_the_store():
    # The app has no data of its own: a non-empty value proves app -> db
    # traffic over the internal network works.
    status, body = get("/cgi-bin/value")
    assert status == 200
    assert body.strip() != "", "db returned an empty value"
