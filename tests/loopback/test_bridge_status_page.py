"""The bridge and the status page, over real HTTP on 127.0.0.1 (stand-in forge and Drone):
the PR comment links the run's page, that page exists before the run starts and
becomes the run's own, and a page that cannot be rendered never stops the bridge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ccci.entry.common import load_config
from ccci.pure import results
from ccci.pure.results import Mode, RunResult, StageResult, Status, Teardown
from tests.fixtures.bridge import RECIPE, REPO, issue_comment_payload, send_webhook

BASE = "https://status.ci.test/page/"


def ccci_config(root: Path, site: Path, base_url: str | None = BASE):
    path = root / "ccci.json"
    path.write_text(json.dumps({
        "base_domain": "ccci.test", "state_dir": str(root / "ccci-state"),
        "status_page": {"dir": str(site), **({"base_url": base_url} if base_url else {})}}))
    return load_config(path)


@pytest.fixture
def world(bridge_world):
    # The NixOS layout: the bridge keeps its state in <ccci state_dir>/bridge.
    bridge_world.data["state_dir"] = str(bridge_world.root / "ccci-state" / "bridge")
    return bridge_world


def test_the_comment_links_the_runs_page_which_shows_queued_then_the_run(world):
    site = world.root / "site"
    server, service = world.start(ccci_config(world.root, site))
    status, reply = send_webhook(server.url + "/hook", issue_comment_payload(201, "!testme", "alice"))
    assert (status, reply["outcome"]) == (202, "triggered")
    run_id = world.drone.builds[0]["RUN_ID"]
    page = f"{BASE}runs/{RECIPE}-{run_id}.html"
    assert f"Page: {page}" in world.forge.posted[0][2]
    assert service.pages.wait(30)
    queued = (site / "runs" / f"{RECIPE}-{run_id}.html").read_text()  # the link works before the run starts
    assert "Queued" in queued and f"{REPO}#3" in queued and "has not started yet" in queued

    # The CI step runs `ccci-run RECIPE --ref REF --run-id RUN_ID`: its result lands under that id.
    folder = world.root / "ccci-state" / "runs" / f"{RECIPE}-{run_id}"
    folder.mkdir(parents=True)
    result = RunResult(recipe=RECIPE, ref=world.drone.builds[0]["REF"], mode=Mode.COLD, run_id=run_id,
                       domain="d.test", stack="d_test", status=Status.FAILED, reason="install: boom",
                       stages=[StageResult("install", Status.FAILED, 2.0, "boom")],
                       teardown=Teardown(Status.PASSED, 1.0), seconds=3.0)
    (folder / "result.json").write_text(results.to_json(result))
    world.drone.finish(1, "failure")
    [done] = service.report()
    assert done.run_id == run_id and f"Page: {page}" in world.forge.posted[-1][2]
    assert service.pages.wait(30)
    shown = (site / "runs" / f"{RECIPE}-{run_id}.html").read_text()
    assert "Failed at stage <b>install</b>" in shown and "Queued" not in shown


def test_without_a_base_url_the_page_is_refreshed_but_not_linked(world):
    site = world.root / "site"
    server, service = world.start(ccci_config(world.root, site, base_url=None))
    assert send_webhook(server.url + "/hook", issue_comment_payload(202, "!testme --quick", "alice"))[0] == 202
    assert "Page:" not in world.forge.posted[0][2]
    assert service.pages.wait(30) and (site / "index.html").is_file()


def test_a_page_that_cannot_be_rendered_never_stops_the_bridge_and_alerts_once(world, caplog):
    site = world.root / "site"
    site.mkdir()
    (site / "operator-notes.txt").write_text("not ccci's")  # a folder ccci-status never replaces
    server, service = world.start(ccci_config(world.root, site))
    for comment in (203, 204):
        status, reply = send_webhook(server.url + "/hook", issue_comment_payload(comment, "!testme", "alice"))
        assert (status, reply["outcome"]) == (202, "triggered")
        assert service.pages.wait(30)
    assert len(world.drone.builds) == 2 and len(world.forge.posted) == 2
    alerts = list((world.root / "ccci-state" / "alerts").glob("*.json"))
    assert [json.loads(a.read_text())["kind"] for a in alerts] == ["status-page-failed"]
    assert "status page: not rendered" in caplog.text
    assert (site / "operator-notes.txt").read_text() == "not ccci's"


def test_the_page_request_returns_at_once_and_renders_coalesce(world, monkeypatch):
    """Events while a render runs ask for one more render, not one each; the webhook never waits."""
    import threading

    from ccci.capabilities import status_page

    release, calls = threading.Event(), []
    monkeypatch.setattr(status_page, "refresh", lambda config: (calls.append(1), release.wait(30)))
    server, service = world.start(ccci_config(world.root, world.root / "site"))
    for comment in (205, 206, 207):
        assert send_webhook(server.url + "/hook", issue_comment_payload(comment, "!testme", "alice"))[0] == 202
    release.set()
    assert service.pages.wait(30)
    assert len(world.drone.builds) == 3 and 1 <= len(calls) <= 2
    assert all(re.fullmatch(r"[0-9a-f]{6}", b["RUN_ID"]) for b in world.drone.builds)
