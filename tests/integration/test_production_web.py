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
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ccci.pure.names import Domain, stack_name
from ccci.seams import engine, http
from tests.fixtures.production import build_traefik_image, front_door_script, repo_env
from tests.integration.test_cold_run import assert_nothing_left, ccci_run, stage_map

pytestmark = pytest.mark.integration

OLD, NEW, BROKEN = "5.0.0+v3.6.12", "5.1.0+v3.6.15", "5.2.0+v3.6.15"


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


class Traffic:
    """GETs an app through the front door every 100 ms and counts what failed."""

    def __init__(self, door, domain: str):
        self.door, self.domain = door, domain
        self.ok = self.failed = 0
        self.failures: list[str] = []
        self.outage_from: float | None = None
        self.longest = 0.0
        self.last: list[bool] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                reply = self.door.get(self.domain, timeout=2)
                good = reply.status == 200 and reply.body.startswith(b"custom-html on ")
                why = f"HTTP {reply.status}"
            except http.HttpError as error:
                good, why = False, str(error.reason)[:80]
            if good:
                self.ok += 1
                if self.outage_from is not None:
                    self.longest = max(self.longest, now - self.outage_from)
                    self.outage_from = None
            else:
                self.failed += 1
                self.failures.append(why)
                self.outage_from = self.outage_from if self.outage_from is not None else now
            self.last = (self.last + [good])[-10:]
            self._stop.wait(0.1)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(1.5)  # a few requests after the reconcile's verdict
        self._stop.set()
        self._thread.join(10)
        if self.outage_from is not None:
            self.longest = max(self.longest, time.monotonic() - self.outage_from)

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for why in self.failures:
            kinds[why] = kinds.get(why, 0) + 1
        return {"requests": self.ok + self.failed, "failed": self.failed, "longest_outage_s": round(self.longest, 1),
                "failures": kinds}


class Reconciles:
    """ccci-reconcile with a config of the test's own, on private copies of the recipes."""

    def __init__(self, door, tmp_path: Path):
        self.door = door
        self.repos = tmp_path / "recipes"
        for recipe in ("traefik", "custom-html"):
            subprocess.run(["git", "clone", "--quiet", "--mirror", str(door.recipes / recipe),
                            str(self.repos / recipe)], check=True)
        self.site = f"site-{secrets.token_hex(3)}.{door.base}"
        health = door.data["infra"]["traefik"]["health"]
        self.path = door.config(tmp_path, recipe_source=f"file://{self.repos}/{{recipe}}", infra={
            "traefik": door.data["infra"]["traefik"],
            "site": {"recipe": "custom-html", "domain": self.site,
                     "health": {**health, "path": "/", "contains": "custom-html on "}},
        })

    def git(self, recipe: str, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.repos / recipe), *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    def run(self, app: str) -> tuple[int, dict, str]:
        env = repo_env(WILDCARD_DIR=str(self.door.ca.parent / "wildcard"))
        done = subprocess.run([sys.executable, "-m", "ccci.entry.reconcile", "--config", str(self.path), app],
                              capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, env=env)
        result = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        return done.returncode, result, done.stderr

    def traefik_version(self) -> str:
        reply = self.door.get(self.door.domain, "/api/version")
        assert reply.status == 200, reply
        return json.loads(reply.body)["Version"]


def test_the_reconciler_upgrades_the_front_door_and_rolls_a_broken_one_back_while_counting_failed_requests(
        front_door, docker_client, tmp_path, record_property):
    build_traefik_image("v3.6.12")
    world = Reconciles(front_door, tmp_path)
    stacks = [front_door.stack(docker_client), engine.Stack(docker_client, stack_name(Domain.parse(world.site)))]
    numbers: dict[str, dict] = {}
    try:
        # The warm front door makes way: one traefik owns 80/443. Install the old release.
        assert front_door_script("down").returncode == 0
        new_commit = world.git("traefik", "rev-parse", f"{NEW}^{{commit}}")
        world.git("traefik", "tag", "-d", NEW)
        code, result, err = world.run("traefik")
        world.git("traefik", "tag", "-a", NEW, "-m", f"Release {NEW}", new_commit)
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
        world.git("traefik", "tag", "-a", BROKEN, "-m", f"Release {BROKEN}",
                  world.git("traefik", "rev-parse", "refs/heads/broken/static-config"))
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
