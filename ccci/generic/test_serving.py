"""Generic: the app is converged and answers HTTP. Runs first in every stage."""

import os

from ccci.capabilities.health import Endpoint
from ccci.seams import engine


def test_every_service_runs_all_its_replicas():
    stack = os.environ["CCCI_STACK"]
    replicas = engine.Stack(engine.connect(), stack).replicas()
    assert replicas, f"stack {stack} has no services"
    for service, (running, want) in replicas.items():
        assert running == want, f"{service}: {running}/{want} running"


def test_app_answers_http():
    # Redirects are followed as ccci's own probe follows them (on the app's
    # domain, through the same ingress): Keycloak sends `/` to its https URL.
    endpoint = Endpoint(os.environ["CCCI_URL"], os.environ["CCCI_DOMAIN"])
    status, _ = endpoint.get("/", timeout=20)
    assert status < 400, f"{os.environ['CCCI_DOMAIN']} answered HTTP {status}"
