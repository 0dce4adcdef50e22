"""pytest plugin loaded into every suite ccci runs: reach the apps as ccci does.

Under an ingress with a fixed proxy address (config `ingress: local-proxy`),
ccci sets CCCI_CONNECT_TO (the address) and CCCI_CONNECT_NAMES (space
separated domains, the base domain): inside this test process, every name
equal to or under one of those domains resolves to that address, so
`https://<app domain>/` connects to the proxy with the domain as SNI and Host
and TLS is verified against the CA in SSL_CERT_FILE, exactly as a browser in
production would. No other name is touched, and neither is the host's
resolver. Without CCCI_CONNECT_TO the plugin does nothing.
"""

from __future__ import annotations

import os
import socket


def under(host: object, domains: list[str]) -> bool:
    """Whether `host` is one of `domains` or a name under one (case and a final dot ignored)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.rstrip(".").lower()
    return any(name == d or name.endswith("." + d) for d in domains)


def domains_of(names: str) -> list[str]:
    return [d for d in (n.strip(".").lower() for n in names.split()) if d]


def pytest_configure(config) -> None:  # noqa: ARG001 (pytest's hook signature)
    address = os.environ.get("CCCI_CONNECT_TO")
    if not address:
        return
    domains = domains_of(os.environ.get("CCCI_CONNECT_NAMES", ""))
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        return resolve(address if under(host, domains) else host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
