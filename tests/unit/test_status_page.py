"""ccci-status over a state directory on disk: the canary, unreadable records, the atomic swap."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ccci.capabilities import status_page
from ccci.entry import status as entry
from ccci.entry.common import load_config
from ccci.pure import config as config_mod
from ccci.pure import results
from ccci.pure.names import BadInput
from ccci.pure.results import Mode, RunResult, StageResult, Status, Teardown

CANARY = "CANARY-9f3e1d-s3cr3t"
ADMIN_CANARY = "KC-ADMIN-CANARY-77aa"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def red_result(run_id: str, reason: str) -> RunResult:
    return RunResult(
        recipe="fx-web", ref="broken/unhealthy", mode=Mode.COLD, run_id=run_id, domain="fx-w.test", stack="s",
        status=Status.FAILED, reason=f"install: {reason}",
        stages=[StageResult("install", Status.FAILED, 3.0, reason), StageResult("custom", Status.SKIPPED, 0.0)],
        teardown=Teardown(Status.PASSED, 1.0), seconds=5.0, note=reason,
    )


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


def make_config(tmp_path: Path, state: Path, **extra) -> config_mod.Config:
    password = write(tmp_path / "kc-admin", ADMIN_CANARY + "\n")
    data = {"base_domain": "ccci.test", "state_dir": str(state),
            "keycloak": {"url": "http://127.0.0.1:1", "admin_password_file": str(password)},
            "infra": {"proxy": {"recipe": "fx-proxy", "domain": "proxy.ccci.test"}},
            "status_page": {"dir": str(tmp_path / "site")}} | extra
    path = write(tmp_path / "config.json", json.dumps(data))
    return load_config(path)


def plant_canaries(state: Path) -> None:
    """The canary wherever a secret could hide in a state dir."""
    env = f"TYPE=fx-web:1.1.0+1.35.0\nDOMAIN=fx-w.test\nSECRET_ADMIN_PASSWORD={CANARY}\n"
    write(state / "abra" / "abc123" / "servers" / "default" / "fx-w.test.env", env)
    write(state / "infra" / "proxy" / "abra" / "servers" / "default" / "proxy.ccci.test.env",
          f"TYPE=fx-proxy:1.1.0+v2.10.1\nAPI_TOKEN={CANARY}x\n")
    run = state / "runs" / "fx-web-abc123"
    write(run / "result.json", results.to_json(red_result("abc123", f"abra said password={CANARY} ({ADMIN_CANARY})")))
    write(run / "junit.xml", "<testsuite/>")
    write(run / "calls" / "001-abra-app-new.log", f"$ abra app new\nSECRET_ADMIN_PASSWORD={CANARY}\n")
    write(run / "failure" / "app.log", f"app log line with {CANARY}\n")
    write(run / "failure" / "tasks.json", json.dumps([{"service": "app", "state": "failed", "error": "exit 1"}]))
    write(state / "alerts" / "20270101T000000.000000Z-proxy-rolled-back.json", json.dumps(
        {"app": "proxy", "kind": "rolled-back", "title": f"proxy rolled back {CANARY}", "message": CANARY,
         "at": "2027-01-01T00:00:00.000000Z", "reason": CANARY}))
    write(state / "infra" / "proxy" / "rejected", json.dumps({"2.0.0+v3": {"at": "x", "reason": CANARY}}))
    write(state / "nightly" / "20270101T030000Z" / "summary.json", json.dumps(
        {"status": "failed", "reason": CANARY, "recipes": [{"recipe": "fx-web", "status": "failed", "seconds": 5.0,
                                                             "reason": CANARY, "artifacts": str(run)}],
         "infra": [{"app": "proxy", "exit_code": 4, "outcome": "rolled-back", "detail": CANARY}]}))


def rendered_files(site: Path) -> dict[str, str]:
    """Every file the page wrote (the artifacts link is ccci's own redacted evidence, not rendered)."""
    out = {}
    for root, dirs, files in os.walk(site, followlinks=False):
        for name in files:
            path = Path(root) / name
            out[str(path.relative_to(site))] = path.read_text()
    return out


def test_the_canary_secret_never_appears_in_any_rendered_file(tmp_path, state):
    plant_canaries(state)
    config = make_config(tmp_path, state)
    site = status_page.render(config)
    assert site is not None and site.is_symlink()
    files = rendered_files(site)
    assert {"index.html", "status.json", "runs/fx-web-abc123.html"} <= set(files)
    for name, text in files.items():
        assert CANARY not in text, name
        assert ADMIN_CANARY not in text, name
    run_page = files["runs/fx-web-abc123.html"]
    # The leaking fields were shown (blanked), and the evidence is linked, not inlined.
    assert "abra said password=&lt;redacted&gt;" in run_page
    assert 'href="../artifacts/fx-web-abc123/failure/app.log"' in run_page
    assert (site / "artifacts" / "fx-web-abc123" / "failure" / "app.log").is_file()
    data = json.loads(files["status.json"])
    assert data["infra"][0]["running"] == "1.1.0+v2.10.1"


def test_unreadable_records_each_say_why_and_the_rest_renders(tmp_path, state):
    plant_canaries(state)
    write(state / "runs" / "fx-web-bad000" / "result.json", "{ not json")
    write(state / "runs" / "fx-web-bad111" / "result.json", json.dumps({"recipe": "fx-web"}))
    write(state / "canonical" / "fx-web" / "canonical.json", "[]")
    write(state / "alerts" / "20270102T000000.000000Z-proxy-x.json", "")
    write(state / "nightly" / "20270102T030000Z" / "summary.json", "garbage")
    write(state / "bridge-state.json", "{")
    write(state / "infra" / "proxy" / "rollback-failed", "{")
    site = status_page.render(make_config(tmp_path, state))
    assert site is not None
    index = (site / "index.html").read_text()
    data = json.loads((site / "status.json").read_text())
    runs = {r["run_id"]: r for r in data["runs"]["fx-web"]}
    assert runs["bad000"]["unreadable"] == "not JSON (line 1, column 3)"
    assert runs["bad111"]["status"] == "unreadable" and runs["bad111"]["unreadable"].startswith("does not fit")
    assert runs["abc123"]["status"] == "failed"  # the readable one is still there
    assert data["canonicals"][0]["state"] == "broken" and "not a JSON object" in data["canonicals"][0]["why"]
    assert data["nightly"]["status"] == "unreadable"
    assert any(a["unreadable"] for a in data["alerts"])
    assert data["infra"][0]["outcome"] == "rollback-failed" and "marker unreadable" in data["infra"][0]["why"]
    assert any(line.startswith("bridge-state.json: not JSON") for line in data["unreadable"])
    assert index.count("unreadable: ") >= 5
    assert "unreadable: not JSON (line 1, column 3)" in (site / "runs" / "fx-web-bad000.html").read_text()


def test_a_render_swaps_whole_generations_and_keeps_only_the_one_before(tmp_path, state):
    config = make_config(tmp_path, state)
    seen = []
    for _ in range(4):
        site = status_page.render(config)
        assert site is not None
        seen.append(os.readlink(site))
    assert len(set(seen)) == 4
    left = sorted(p.name for p in site.parent.glob(".site.gen-*"))
    assert left == sorted(seen[-2:])
    assert not list(site.parent.glob(".site.link-*"))


def test_a_folder_it_did_not_make_is_never_replaced_and_the_job_does_not_fail(tmp_path, state):
    config = make_config(tmp_path, state)
    keep = write(tmp_path / "site" / "precious.txt", "mine")
    assert status_page.render(config) is None
    assert keep.read_text() == "mine" and not list(tmp_path.glob(".site.gen-*"))
    # The job hook: never raises, alerts once, and a good render clears it.
    status_page.refresh(config)
    status_page.refresh(config)
    alerts = list((state / "alerts").glob("*status-page-failed.json"))
    assert len(alerts) == 1 and (state / status_page.FAILED_MARKER).exists()
    keep.unlink()
    status_page.refresh(config)
    assert not (state / status_page.FAILED_MARKER).exists()
    assert (tmp_path / "site" / "index.html").is_file()


def test_refresh_does_nothing_when_the_page_is_not_configured(tmp_path, state):
    config = make_config(tmp_path, state, status_page=None)
    status_page.refresh(config)
    assert not (tmp_path / "site").exists() and not state.exists()


def test_the_entry_point(tmp_path, state, capsys):
    make_config(tmp_path, state, status_page=None)
    assert entry.main(["--config", str(tmp_path / "config.json")]) == 2
    assert "no status_page in the config" in capsys.readouterr().err
    out = tmp_path / "elsewhere"
    assert entry.main(["--config", str(tmp_path / "config.json"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert (out / "index.html").is_file()
    assert entry.main(["--config", str(tmp_path / "config.json"), "--bogus"]) == 2


@pytest.mark.parametrize("bad, message", [
    ({"dir": "relative/site"}, "must be an absolute path"),
    ({"dir": "/srv/s", "base_url": "ftp://x"}, "must be an http(s) URL"),
    ({"dir": "/srv/s", "runs_per_recipe": 0}, "status_page.runs_per_recipe: expected a positive count"),
    ({"dir": "/srv/s", "colour": "red"}, "colour"),
    ({"dir": "/srv/s", "runs_per_recipe": "5"}, "status_page.runs_per_recipe: expected a positive count, got a string"),
])
def test_status_page_settings_are_checked(bad, message):
    with pytest.raises(config_mod.BadConfig, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_mod.parse({"base_domain": "ccci.test", "status_page": bad})
    good = config_mod.parse({"base_domain": "ccci.test", "status_page": {"dir": "/srv/s",
                                                                          "base_url": "https://ci.example/"}})
    assert good.status_page == config_mod.StatusPageSettings("/srv/s", "https://ci.example/", 10)


def test_runs_in_flight_and_a_canonical_in_use_come_from_held_locks_only(tmp_path, state):
    import fcntl

    write(state / "locks" / "slot-1.lock", "a holder that died (pid 1)\n")  # not held: not in flight
    write(state / "runs" / "fx-web-0a0b0c" / "calls" / "001-git-clone.log", "$ git clone\n")
    write(state / "canonical" / "fx-web" / "canonical.json", json.dumps(
        {"recipe": "fx-web", "domain": "w", "version": "1.0.0", "commit": "c", "status": "quick",
         "volumes": "used", "updated": ""}))
    write(state / "locks" / "app-fx-web.holder", json.dumps({"what": "quick run 0a0b0c of fx-web", "pid": 9,
                                                              "since": "now"}))
    write(state / "canonical" / "fx-web" / "snapshot" / "gen-1" / "meta.json", json.dumps(
        {"recipe": "fx-web", "version": "1.0.0", "commit": "c", "taken": "20270101T000000Z", "volumes": []}))
    os.symlink("gen-1", state / "canonical" / "fx-web" / "snapshot" / "current")
    config = make_config(tmp_path, state)
    fds = []
    try:
        for name, text in (("slot-0.lock", "quick run 0a0b0c of fx-web at x (pid 9)\n"), ("app-fx-web.lock", "")):
            fd = os.open(write(state / "locks" / name, text), os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fds.append(fd)
        before = sorted(p.name for p in (state / "locks").iterdir())
        data = json.loads((status_page.render(config) / "status.json").read_text())
        assert sorted(p.name for p in (state / "locks").iterdir()) == before  # nothing created
    finally:
        for fd in fds:
            os.close(fd)
    assert data["in_flight"] == ["quick run 0a0b0c of fx-web at x (pid 9)"]
    assert data["runs"]["fx-web"][0]["status"] == "running"
    assert data["canonicals"][0]["state"] == "in use" and "quick run 0a0b0c" in data["canonicals"][0]["why"]
    after = json.loads((status_page.render(config) / "status.json").read_text())
    assert after["in_flight"] == [] and after["runs"]["fx-web"][0]["status"] == "unreadable"
    assert after["canonicals"][0]["state"] == "interrupted"


def test_a_job_refreshes_the_page_however_it_ends_but_not_after_refused_input(tmp_path, state):
    config = make_config(tmp_path, state)
    site = Path(config.status_page.dir)
    with status_page.refreshed_after(config):
        pass
    assert (site / "index.html").is_file()
    first = site.resolve()

    with pytest.raises(RuntimeError), status_page.refreshed_after(config):
        raise RuntimeError("a red job still shows on the page")
    assert site.resolve() != first  # a new generation was swapped in
    second = site.resolve()

    with pytest.raises(BadInput), status_page.refreshed_after(config):
        raise BadInput("refused input changes nothing")
    assert site.resolve() == second


def test_renders_at_the_same_time_never_break_each_other(tmp_path, state):
    """Jobs, the timer and the bridge render into one folder; a render removes the
    generations it does not keep, so renders take turns (a flock beside the site)."""
    import threading

    config = make_config(tmp_path, state)
    failed: list[object] = []

    def renders() -> None:
        for _ in range(4):
            if status_page.render(config) is None:
                failed.append("render")

    workers = [threading.Thread(target=renders) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    site = tmp_path / "site"
    assert failed == [] and (site / "index.html").is_file()
    assert len(list(tmp_path.glob(".site.gen-*"))) <= 2
