"""ccci-reconcile on the real swarm with the bed's abra: the issue's "done when", proven.

Two fixture apps per test: `proxy` (fx-proxy, stateless, upgraded in place)
and `store` (fx-store, stateful: undeploy, snapshot, deploy). Each broken
release is a branch of the fixture tagged as a newer release in the test's
private copy of the recipe, the way an upstream would publish it. The
adversary's checks: break it on purpose, then show the data is back byte for
byte, last_good did not move, the alert says what happened, and nothing is
retried or looped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ccci.capabilities import locks
from ccci.capabilities.health import Endpoint
from ccci.capabilities.infra_state import InfraState
from tests.fixtures.infra import TOKEN, WINDOW
from tests.fixtures.volumes import tree

pytestmark = pytest.mark.integration

PROXY_OLD, PROXY_NEW = "1.0.0+v2.10.0", "1.1.0+v2.10.1"
STORE_OLD, STORE_NEW = "1.0.0+1.35.0", "1.1.0+1.35.0"
OLD = {"proxy": PROXY_OLD, "store": STORE_OLD}
NEW = {"proxy": PROXY_NEW, "store": STORE_NEW}
NEXT = {"proxy": "1.2.0+v2.10.1", "store": "1.2.0+1.35.0"}
AFTER = {"proxy": "1.3.0+v2.10.1", "store": "1.3.0+1.35.0"}
MARKER = "KNOWN-GOOD-DATA-5c1e0a"


def page(infra, client, app: str, path: str = "/") -> tuple[int, str]:
    stack = infra.stack(client, app)
    endpoint = Endpoint(f"http://127.0.0.1:{stack.published_port('app')}", infra.domain(app).value)
    return endpoint.get(path)


def services(infra, client, app: str) -> dict[str, tuple]:
    """What would change if anything were deployed: each service's spec version, update time and labels."""
    return {s.name: (s.attrs["Version"]["Index"], s.attrs["UpdatedAt"], json.dumps(s.attrs["Spec"].get("Labels")))
            for s in infra.stack(client, app).services()}


def store_volume(infra, client) -> Path:
    names = infra.stack(client, "store").leftovers()["volumes"]
    assert len(names) == 1, names
    return Path(client.api.inspect_volume(names[0])["Mountpoint"])


def write_marker(infra, client) -> None:
    infra.stack(client, "store").exec("app", ["sh", "-c", f"printf {MARKER} > /data/marker"])


def alerts_of(infra, kind: str) -> list[dict]:
    return [a for a in infra.alerts() if a["kind"] == kind]


@pytest.mark.parametrize("app", ["proxy", "store"])
def test_a_healthy_minor_upgrade_advances_last_good_and_then_is_a_noop(infra, docker_client, app):
    infra.install_at(app, OLD[app])
    if app == "store":
        write_marker(infra, docker_client)
    # --plan says what it would do and changes nothing at all.
    before_state, before_services = infra.files(infra.state), services(infra, docker_client, app)
    code, result, err = infra.run(app, "--plan")
    assert code == 0 and result["plan"] is True and result["attempted"] == NEW[app], err[-2000:]
    assert f"would deploy {NEW[app]}" in result["steps"]
    assert ("would snapshot volumes" in result["steps"]) is (app == "store")
    assert infra.files(infra.state) == before_state
    assert services(infra, docker_client, app) == before_services

    code, result, err = infra.run(app)
    assert code == 0, err[-3000:]
    assert result["outcome"] == "upgraded" and result["current"] == OLD[app] and result["attempted"] == NEW[app]
    assert infra.last_good(app) == NEW[app] == result["last_good"] == result["running"]
    (gate,) = result["health"]
    assert gate["verdict"] == "healthy" and gate["window"] >= WINDOW and gate["seconds"] >= WINDOW
    assert page(infra, docker_client, app)[0] == 200
    if app == "store":
        assert (store_volume(infra, docker_client) / "marker").read_text() == MARKER
        assert (infra.app_dir(app) / "snapshot" / "current").is_symlink()  # taken before the deploy
    else:
        assert page(infra, docker_client, app)[1].strip() == f"fx-proxy {NEW[app]}"
        assert not (infra.app_dir(app) / "snapshot").exists()
    assert alerts_of(infra, "upgraded")[-1]["latest"] == NEW[app]

    spec = services(infra, docker_client, app)
    code, result, err = infra.run(app)
    assert code == 0 and result["outcome"] == "noop-healthy", err[-2000:]
    assert result["attempted"] is None and result["last_good"] == NEW[app]
    assert not [s for s in result["steps"] if s.startswith("deploy")]
    assert services(infra, docker_client, app) == spec  # nothing redeployed


@pytest.mark.parametrize(("app", "branch", "cause"), [
    ("proxy", "broken/lint", "failed lint checks"),
    ("store", "broken/missing-image", "No such image"),
])
def test_a_release_that_fails_to_deploy_rolls_back_and_is_not_retried(infra, docker_client, app, branch, cause):
    infra.install_at(app, NEW[app])
    if app == "store":
        write_marker(infra, docker_client)
        known_good = tree(store_volume(infra, docker_client))
    infra.release(app, NEXT[app], branch)

    code, result, err = infra.run(app)
    assert code == 4, err[-3000:]
    assert result["outcome"] == "rolled-back" and result["recovered"] is True
    assert result["attempted"] == NEXT[app] and cause in result["reason"]
    assert infra.last_good(app) == NEW[app] == result["last_good"] == result["running"]
    assert page(infra, docker_client, app)[0] == 200
    if app == "store":
        assert tree(store_volume(infra, docker_client)) == known_good
        assert "restore snapshot" in result["steps"]
    (alert,) = alerts_of(infra, "rolled-back")
    assert (alert["attempted"], alert["last_good"], alert["recovered"]) == (NEXT[app], NEW[app], True)
    assert cause in alert["reason"] and alert["push"] == "sent"
    push = [p for p in infra.receiver.pushes if p["headers"]["Tags"].endswith("rolled-back")][-1]
    assert push["headers"]["Authorization"] == f"Bearer {TOKEN}" and NEXT[app] in push["body"]
    assert TOKEN not in err
    assert NEXT[app] in infra.rejected(app)

    # The next reconcile does not try the same broken release again.
    spec = services(infra, docker_client, app)
    code, result, err = infra.run(app)
    assert code == 0 and result["outcome"] == "noop-healthy", err[-2000:]
    assert "rolled back before" in result["note"] and result["attempted"] is None
    assert not [s for s in result["steps"] if s.startswith("deploy")]
    assert services(infra, docker_client, app) == spec
    assert len(alerts_of(infra, "rolled-back")) == 1

    # A newer release is tried.
    infra.release(app, AFTER[app], "next")
    code, result, err = infra.run(app)
    assert code == 0 and result["outcome"] == "upgraded" and result["attempted"] == AFTER[app], err[-3000:]
    assert infra.last_good(app) == AFTER[app]
    if app == "store":
        assert (store_volume(infra, docker_client) / "marker").read_text() == MARKER


@pytest.mark.parametrize(("app", "branch", "verdict"), [
    ("store", "broken/migrates-then-dies", "docker"),  # rewrites the data, healthy ~2s, then unhealthy
    ("proxy", "broken/late-unhealthy", "docker"),  # healthy ~2s, then unhealthy; keeps serving HTTP
    ("proxy", "broken/http", "window"),  # healthy to Docker, 404 to the HTTP probe
])
def test_a_release_that_deploys_cleanly_but_is_not_healthy_rolls_back(infra, docker_client, app, branch, verdict):
    infra.install_at(app, NEW[app])
    if app == "store":
        write_marker(infra, docker_client)
        known_good = tree(store_volume(infra, docker_client))
    infra.release(app, NEXT[app], branch)

    code, result, err = infra.run(app)
    assert code == 4, err[-3000:]
    assert result["outcome"] == "rolled-back" and result["recovered"] is True
    attempt, rollback = result["health"]
    assert attempt["version"] == NEXT[app] and attempt["verdict"] == verdict
    if verdict == "docker":  # decided on Docker's verdict, before the window ran out
        assert "unhealthy" in attempt["reason"] and attempt["seconds"] < attempt["window"]
    else:
        assert "HTTP 404" in attempt["reason"]
    assert rollback["version"] == NEW[app] and rollback["verdict"] == "healthy"
    assert infra.last_good(app) == NEW[app] == result["running"]
    if app == "store":
        # The broken release rewrote every file; the snapshot put them back exactly.
        assert tree(store_volume(infra, docker_client)) == known_good
        assert (store_volume(infra, docker_client) / "marker").read_text() == MARKER
        assert not (store_volume(infra, docker_client) / "SCHEMA").exists()
    else:
        assert page(infra, docker_client, app) == (200, f"fx-proxy {NEW[app]}\n")
    (alert,) = alerts_of(infra, "rolled-back")
    assert (alert["attempted"], alert["last_good"], alert["recovered"]) == (NEXT[app], NEW[app], True)


def held_recorded(infra, app: str, outcome: str, current: str) -> bool:
    """The one thing a hold writes: its outcome record, for the status page."""
    record = InfraState(infra.app_dir(app)).last_outcome()
    return record is not None and (record.outcome, record.current) == (outcome, current) and bool(record.reason)


def test_major_bumps_unparseable_versions_and_flagged_release_notes_are_held(infra, docker_client):
    infra.install_at("store", STORE_NEW)
    write_marker(infra, docker_client)
    app_dir = infra.app_dir("store")
    before_files, before_services = infra.files(app_dir, but_outcome=True), services(infra, docker_client, "store")
    before_volume = tree(store_volume(infra, docker_client))
    cases = [
        ("2.0.0+1.35.0", "next", "held-major", "recipe major bump"),
        ("1.2.0+2.0.0", "next", "held-major", "upstream major change"),
        ("1.2.0+latest", "next", "held-unparseable", "no leading number"),
    ]
    for tag, ref, outcome, why in cases:
        infra.release("store", tag, ref)
        code, result, err = infra.run("store")
        assert code == 3 and result["outcome"] == outcome and why in result["reason"], err[-2000:]
        assert result["current"] == STORE_NEW and result["latest"] == tag
        assert not [s for s in result["steps"] if s.startswith(("deploy", "undeploy", "snapshot"))]
        alert = alerts_of(infra, outcome)[-1]
        assert alert["latest"] == tag and alert["release_notes"][0]["text"].startswith(f"Release {tag}")
        infra.git("store", "tag", "-d", tag)
    # A manual migration flagged in 1.2.0's notes holds 1.3.0 too: skipping a
    # release does not skip its migration.
    infra.release("store", "1.2.0+1.35.0", "notes/manual-migration")
    infra.release("store", "1.3.0+1.35.0", "next")
    code, result, err = infra.run("store")
    assert code == 3 and result["outcome"] == "held-manual-migration", err[-2000:]
    assert result["flagged"] == ["1.2.0+1.35.0 (release/1.2.0+1.35.0): manual migration"]
    alert = alerts_of(infra, "held-manual-migration")[-1]
    assert "MANUAL MIGRATION: stop the app" in alert["message"]
    assert any(n["source"] == "release/1.2.0+1.35.0" for n in alert["release_notes"])
    push = infra.receiver.pushes[-1]
    assert "MANUAL MIGRATION" in push["body"] and push["headers"]["Priority"] == "4"

    # Nothing was deployed, snapshotted or written but the outcome: same files, same times.
    assert infra.files(app_dir, but_outcome=True) == before_files
    assert held_recorded(infra, "store", "held-manual-migration", STORE_NEW)
    assert not (app_dir / "snapshot").exists()
    assert services(infra, docker_client, "store") == before_services
    assert tree(store_volume(infra, docker_client)) == before_volume


def test_release_notes_in_releasenotes_folder_hold_the_proxy(infra, docker_client):
    infra.install_at("proxy", PROXY_NEW)
    before = infra.files(infra.app_dir("proxy"), but_outcome=True), services(infra, docker_client, "proxy")
    infra.release("proxy", "1.2.0+v2.10.1", "notes/manual-migration")
    code, result, err = infra.run("proxy")
    assert code == 3 and result["outcome"] == "held-manual-migration", err[-2000:]
    assert result["flagged"] == [f"1.2.0+v2.10.1 (releaseNotes/1.2.0+v2.10.1.md): {marker}"
                                 for marker in ("manual migration", "migration required")]
    assert "**Manual-Migration required**" in alerts_of(infra, "held-manual-migration")[-1]["message"]
    assert (infra.files(infra.app_dir("proxy"), but_outcome=True), services(infra, docker_client, "proxy")) == before
    assert held_recorded(infra, "proxy", "held-manual-migration", PROXY_NEW)


def test_a_recipe_without_a_release_tag_is_held_unparseable_and_nothing_is_touched(infra, docker_client):
    # A real traefik recipe's only tag is `v2.4.8`: no tag is a release (x.y.z+upstream).
    infra.install_at("proxy", PROXY_NEW)
    before = infra.files(infra.app_dir("proxy"), but_outcome=True), services(infra, docker_client, "proxy")
    for tag in infra.git("proxy", "tag", "--list").split():
        infra.git("proxy", "tag", "-d", tag)
    infra.release("proxy", "v2.4.8", "next")

    code, result, err = infra.run("proxy", "--plan")
    assert code == 0 and result["outcome"] == "held-unparseable" and result["steps"][-1] == "would alert", err[-2000:]
    assert not alerts_of(infra, "held-unparseable")

    code, result, err = infra.run("proxy")
    assert code == 3 and result["outcome"] == "held-unparseable", err[-2000:]
    assert "no tag of the recipe is a release" in result["reason"] and "v2.4.8" in result["reason"]
    assert result["current"] == PROXY_NEW and result["latest"] is None and result["attempted"] is None
    assert not [s for s in result["steps"] if s.startswith(("deploy", "undeploy", "snapshot"))]
    (alert,) = alerts_of(infra, "held-unparseable")
    assert alert["current"] == PROXY_NEW and "v2.4.8" in alert["reason"] and alert["push"] == "sent"
    assert (infra.files(infra.app_dir("proxy"), but_outcome=True), services(infra, docker_client, "proxy")) == before
    assert held_recorded(infra, "proxy", "held-unparseable", PROXY_NEW)
    assert infra.last_good("proxy") == PROXY_NEW and page(infra, docker_client, "proxy")[0] == 200


def test_a_rollback_to_an_unhealthy_prior_fails_loudly_and_never_loops(infra, docker_client):
    infra.install_at("store", STORE_NEW)
    write_marker(infra, docker_client)
    known_good = tree(store_volume(infra, docker_client))
    # The prior release will not come back healthy: its env now breaks its healthcheck.
    with infra.env_file("store").open("a") as env:
        env.write("FX_BREAK=1\n")
    infra.release("store", NEXT["store"], "broken/missing-image")

    code, result, err = infra.run("store")
    assert code == 5, err[-3000:]
    assert result["outcome"] == "rollback-failed" and result["recovered"] is False
    assert "rollback to 1.1.0+1.35.0 failed" in result["reason"]
    (alert,) = alerts_of(infra, "rollback-failed")
    assert (alert["attempted"], alert["last_good"], alert["recovered"]) == (NEXT["store"], STORE_NEW, False)
    assert "--clear-failed" in alert["message"]
    assert [p["headers"]["Priority"] for p in infra.receiver.pushes if "rollback-failed" in p["headers"]["Tags"]] == ["5"]
    assert infra.last_good("store") == STORE_NEW
    assert (infra.app_dir("store") / "rollback-failed").is_file()
    # Left in place: the restored data is there, the app is still deployed for a human to look at.
    assert tree(store_volume(infra, docker_client)) == known_good
    assert infra.stack(docker_client, "store").services()

    # The next reconcile touches nothing and says so again: no loop, no new alert.
    files, spec, count = infra.files(infra.app_dir("store")), services(infra, docker_client, "store"), len(infra.alerts())
    began = time.monotonic()
    code, result, err = infra.run("store")
    assert code == 5 and result["outcome"] == "rollback-failed", err[-2000:]
    assert "left in place since" in result["reason"] and result["steps"] == [] and result["health"] == []
    assert time.monotonic() - began < WINDOW
    assert infra.files(infra.app_dir("store")) == files and services(infra, docker_client, "store") == spec
    assert len(infra.alerts()) == count

    code, result, err = infra.run("store", "--clear-failed")
    assert code == 0 and result["marker"]["attempted"] == NEXT["store"], err[-1000:]
    assert not (infra.app_dir("store") / "rollback-failed").exists()
    assert NEXT["store"] in infra.rejected("store")


def test_a_second_reconcile_of_the_same_app_waits_for_the_lock(infra):
    with locks.hold(infra.state, "infra-proxy", "a test holding the lock", 5):
        code, result, err = infra.run("proxy")
    assert code == 1 and result == {}
    assert "infra-proxy is busy: held by a test holding the lock" in err
    assert not (infra.state / "infra").exists()
