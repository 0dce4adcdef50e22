"""Generic: the app is converged and answers HTTP. Runs first in every stage."""

import os
import urllib.error
import urllib.request

import docker


def test_every_service_runs_all_its_replicas():
    client = docker.from_env()
    stack = os.environ["CCCI_STACK"]
    services = client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"})
    assert services, f"stack {stack} has no services"
    for service in services:
        spec = service.attrs["Spec"]
        want = (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas", 1)
        running = [t for t in service.tasks({"desired-state": "running"}) if t["Status"]["State"] == "running"]
        assert len(running) == want, f"{service.name}: {len(running)}/{want} running"


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
