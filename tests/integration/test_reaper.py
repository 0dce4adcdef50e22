"""The reaper on the real engine: what a dead run left goes, nothing else does (issue 19, item 2).

A dead run's objects are made by hand here, the way a run killed by SIGKILL
leaves them: a service, a volume, a network and a config labelled with its
stack, abra's secret named after it, and its ABRA_DIR. Beside them: a live
run's (it holds a run slot), a canonical's (`warm-*`) and an infra app's
objects, which must survive every sweep.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from ccci.capabilities import capacity, reaper
from ccci.entry.common import load_config
from ccci.pure import config as config_mod
from ccci.pure.names import Domain, RecipeName, RunId, cold_domain, stack_name, warm_domain
from ccci.seams import engine

pytestmark = pytest.mark.integration

IMAGE = "ccci-fixture/busybox:1.35.0"


def config_at(bed_config, tmp_path: Path, **changes) -> tuple[config_mod.Config, Path]:
    data = json.loads(config_mod.dump(bed_config))
    data.update({"state_dir": str(tmp_path / "state"), "recipes": {}, "infra": {}, **changes})
    data.pop("keycloak", None)  # realms have their own tests (test_realms.py)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return load_config(path), path


def leave_objects(client, config, stack: str, *, service: bool = True) -> None:
    """What a run that could not tear down leaves under `stack`."""
    labels = {engine.NAMESPACE: stack}
    client.volumes.create(f"{stack}_data", labels=labels)
    client.networks.create(f"{stack}_default", driver="overlay", labels=labels, attachable=True)
    client.configs.create(name=f"{stack}_conf_v1", data=b"x", labels=labels)
    client.secrets.create(name=f"{stack}_db_password_v1", data=b"s3cret")  # abra's: no label
    if service:
        client.services.create(IMAGE, ["sleep", "3600"], name=f"{stack}_app", labels=labels)


def run_stack_of(config, run: str, recipe: str = "fx-web") -> str:
    return stack_name(cold_domain(RecipeName(recipe), RunId(run), config.domain))


def abra_dir(config, run: str) -> Path:
    path = config.state / "abra" / run / "servers" / "default"
    path.mkdir(parents=True)
    return path.parent.parent


@pytest.fixture
def cleanup(docker_client):
    stacks: list[str] = []
    yield stacks
    for stack in stacks:
        engine.Stack(docker_client, stack).clear()


def test_the_nightly_reaps_a_dead_runs_objects_and_reports_them(bed_config, tmp_path, docker_client, cleanup):
    config, path = config_at(bed_config, tmp_path, base_domain="r1.ccci.test")
    dead = run_stack_of(config, "d0d0d1")
    canonical = stack_name(warm_domain(RecipeName("fx-web"), config.domain))
    cleanup += [dead, canonical]
    leave_objects(docker_client, config, dead)
    leave_objects(docker_client, config, canonical, service=False)
    dead_dir = abra_dir(config, "d0d0d1")
    done = subprocess.run([sys.executable, "-m", "ccci.entry.nightly", "--config", str(path)],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert sorted(summary["reaped"]) == sorted([dead, str(dead_dir)])
    assert engine.Stack(docker_client, dead).leftovers() == {}
    assert not dead_dir.exists()
    kept = engine.Stack(docker_client, canonical).leftovers()
    assert set(kept) == {"volumes", "networks", "configs", "secrets"}, kept


def test_a_live_run_and_an_infra_app_are_never_reaped(bed_config, tmp_path, docker_client, cleanup):
    # An infra app whose domain happens to look like a run's: protected by the config, not by luck.
    infra_domain = "ab-0fac35.r2.ccci.test"
    config, _ = config_at(bed_config, tmp_path, base_domain="r2.ccci.test", max_concurrent_runs=2,
                          infra={"look": {"recipe": "fx-web", "domain": infra_domain}})
    live, dead = run_stack_of(config, "a11ce1"), run_stack_of(config, "deadd1")
    infra = stack_name(Domain(infra_domain))
    cleanup += [live, dead, infra]
    for stack in (live, dead, infra):
        leave_objects(docker_client, config, stack, service=False)
    live_dir, dead_dir = abra_dir(config, "a11ce1"), abra_dir(config, "deadd1")
    with capacity.slot(config, "cold run a11ce1 of fx-web", RunId.parse("a11ce1")):
        reaped = reaper.reap(config, docker_client)
    assert reaped.stacks == [dead] and reaped.abra_dirs == [str(dead_dir)]
    assert engine.Stack(docker_client, dead).leftovers() == {} and not dead_dir.exists()
    assert live_dir.is_dir()
    for stack in (live, infra):
        assert set(engine.Stack(docker_client, stack).leftovers()) == {"volumes", "networks", "configs", "secrets"}


def test_every_run_reaps_at_its_start(bed_config, plain_config_path, docker_client, cleanup):
    config = load_config(plain_config_path)
    dead = run_stack_of(config, "deadd2", "fx-pair")
    cleanup.append(dead)
    leave_objects(docker_client, config, dead)
    done = subprocess.run(
        [sys.executable, "-m", "ccci.entry.run", "--config", str(plain_config_path), "fx-web", "--stages", "install"],
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"reap: removing stack {dead} (run deadd2 is not live)" in done.stderr
    assert engine.Stack(docker_client, dead).leftovers() == {}
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"{dead}_data")
