"""The bridge's HTTP server answers every malformed request with a 4xx and closes (issue 11, class 6).

A real server on 127.0.0.1 (tests/unit/fuzz_targets.py's), raw bytes on a
socket; the generated share of the same check is in test_fuzz.py.
"""

import pytest

from tests.unit.fuzz_targets import http_server


@pytest.fixture(scope="module")
def check():
    with http_server() as check:
        yield check


@pytest.mark.parametrize("raw", [
    b"POST /hook HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n",  # "²": isdigit() but not int()
    b"POST /hook HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",  # over int()'s digit limit
    "POST /hook HTTP/1.1\r\nContent-Length: ١٢\r\n\r\n0123456789ab".encode(),  # int() reads Arabic digits
    b"POST /hook HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello",
    b"POST /hook HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"POST /hook HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /hook HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
    b"POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
    b"BREW /hook HTTP/1.1\r\n\r\n",
    b"GET /hook HTTP/2.0\r\n\r\n",
    b"GET /hook HTTP/1.x\r\n\r\n",
    b"GET /healthz\r\n",
    b"GET\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello
    b"POST /hook HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    b"POST /hook HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
])
def test_malformed_requests_get_a_4xx_and_a_closed_connection(check, raw):
    check(raw + b"GET /healthz HTTP/1.1\r\n\r\n")

