"""custom-html recipe tests, run by ccci against a deployed app.

Environment: CCCI_URL (base URL), CCCI_DOMAIN (Host header), CCCI_STACK,
CCCI_VERSION. Standard library only.
"""
import os
import urllib.request

URL = os.environ["CCCI_URL"].rstrip("/")
DOMAIN = os.environ["CCCI_DOMAIN"]


def get(path):
    req = urllib.request.Request(URL + path, headers={"Host": DOMAIN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read().decode()


def test_index_is_the_content_volume():
    status, _, body = get("/")
    assert status == 200
    assert body.startswith("custom-html on "), body


def test_release_header_names_the_release():
    _, headers, _ = get("/")
    assert headers.get("X-Custom-Html-Release", "").startswith("1.1."), headers
