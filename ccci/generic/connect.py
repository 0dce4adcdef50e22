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

from ccci.seams.http import domains_of, route_names


def pytest_configure(config) -> None:  # noqa: ARG001 (pytest's hook signature)
    address = os.environ.get("CCCI_CONNECT_TO")
    if not address:
        return
    route_names(address, domains_of(os.environ.get("CCCI_CONNECT_NAMES", "")))
