"""The production-shaped front door on the real swarm: traefik by domain on 443, TLS from the bed's CA.

Everything here is reached as production reaches it: ccci's config says
ingress `local-proxy` and names the bed's CA, so every probe and every test
suite connects to 127.0.0.1:443 with the app's domain as SNI and Host and
verifies the certificate (tests/fixtures/production.py). The apps publish
no port of their own: traefik is the only way in.

 - a cold run of custom-html (Debian's nginx, backupbot labels, traefik
   labels as real recipes write them) is green in every stage and leaves
   nothing behind;
 - the reconciler's stateless path on traefik itself: a healthy upgrade
   (5.0.0+v3.6.12 -> 5.1.0+v3.6.15) commits; a release whose static config
   traefik refuses rolls back to the last good one. During each, a loop
   counts failed requests to an app routed through traefik; the numbers are
   printed (run with -s) and recorded as the test's properties.
"""

from __future__ import annotations

import json
import sys

import pytest

from ccci.pure.names import Domain, stack_name
from ccci.seams import engine
from tests.fixtures.production import TRAEFIK_BROKEN as BROKEN, TRAEFIK_NEW as NEW, TRAEFIK_OLD as OLD
from tests.fixtures.production import Reconciles, Traffic, build_traefik_image, front_door_script
from tests.integration.test_cold_run import assert_nothing_left, ccci_run, stage_map

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _lock(swarm_lock):
    yield


def test_a_cold_run_of_custom_html_through_the_front_door_is_green_and_leaves_nothing(
        front_door, docker_client, tmp_path):
    from ccci.entry.common import load_config

    path = front_door.config(tmp_path, recipes={})
    done = ccci_run(path, "custom-html")
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    assert result["status"] == "passed" and result["mode"] == "cold"
    assert [s["name"] for s in result["stages"]] == ["install", "upgrade", "backup", "restore", "custom"]
    assert all(s["status"] == "passed" for s in result["stages"]), result["stages"]
    assert (result["from_version"], result["to_version"]) == ("1.0.0+1.22.1", "1.1.0+1.22.1")
    assert result["domain"].endswith(f".{front_door.base}")
    # The recipe's own tests ran (through traefik: the app publishes no port)
    # and saw the upgraded release's header.
    custom = stage_map(result)["custom"]["tests"]
    assert "custom-recipe: 2 passed" in custom, custom
    assert_nothing_left(docker_client, load_config(path), result)


# -- the reconciler's stateless path on the front door itself -------------------------------


def test_the_reconciler_upgrades_the_front_door_and_rolls_a_broken_one_back_while_counting_failed_requests(
        front_door, docker_client, tmp_path, record_property):
    build_traefik_image("v3.6.12")
    world = Reconciles(front_door, tmp_path)
    stacks = [front_door.stack(docker_client), engine.Stack(docker_client, stack_name(Domain.parse(world.site)))]
    numbers: dict[str, dict] = {}
    try:
        # The warm front door makes way: one traefik owns 80/443. Install the old release.
        assert front_door_script("down").returncode == 0
        code, result, err = world.install_before("traefik", "traefik", NEW)
        assert code == 0 and result["outcome"] == "installed" and result["last_good"] == OLD, err[-3000:]
        assert world.traefik_version() == "v3.6.12"
        code, result, err = world.run("site")
        assert code == 0 and result["outcome"] == "installed", err[-3000:]

        # A healthy upgrade commits.
        with Traffic(front_door, world.site) as traffic:
            code, result, err = world.run("traefik")
        numbers["upgrade"] = traffic.summary()
        assert code == 0 and result["outcome"] == "upgraded" and result["last_good"] == NEW, err[-3000:]
        assert world.traefik_version() == "v3.6.15"
        assert traffic.ok > 0 and all(traffic.last[-5:]), traffic.summary()

        # A release whose static config traefik refuses rolls back to the last good one.
        world.tag("traefik", BROKEN, "refs/heads/broken/static-config")
        with Traffic(front_door, world.site) as traffic:
            code, result, err = world.run("traefik")
        numbers["rollback"] = traffic.summary()
        assert result.get("outcome") == "rolled-back" and result["last_good"] == NEW, err[-3000:]
        assert code != 0
        assert result["running"] == NEW and world.traefik_version() == "v3.6.15"
        assert traffic.ok > 0 and all(traffic.last[-5:]), traffic.summary()
    finally:
        for stack in stacks:
            stack.remove_leftovers()
        print(f"\nfailed requests through the front door: {json.dumps(numbers)}", file=sys.stderr)
        for phase, summary in numbers.items():
            record_property(f"{phase}_failed_requests", summary["failed"])
            record_property(f"{phase}_requests", summary["requests"])
            record_property(f"{phase}_longest_outage_s", summary["longest_outage_s"])
        # The warm front door again, as the session had it.
        back = front_door_script("up")
        assert back.returncode == 0, f"tests/bed/front-door up failed: {back.stderr[-2000:]}"
