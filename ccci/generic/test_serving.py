"""Generic: the app is converged and answers HTTP. Runs first in every stage."""

import os
import urllib.error
import urllib.request

from ccci.seams import engine


def test_every_service_runs_all_its_replicas():
    stack = os.environ["CCCI_STACK"]
    replicas = engine.Stack(engine.connect(), stack).replicas()
    assert replicas, f"stack {stack} has no services"
    for service, (running, want) in replicas.items():
        assert running == want, f"{service}: {running}/{want} running"


def test_app_answers_http():
    request = urllib.request.Request(
        os.environ["CCCI_URL"].rstrip("/") + "/", headers={"Host": os.environ["CCCI_DOMAIN"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status < 400, f"{os.environ['CCCI_DOMAIN']} answered HTTP {status}"
