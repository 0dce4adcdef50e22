"""The status page's pure model (ccci.pure.status): facts in, page data out."""

from __future__ import annotations

import json

import attrs
from hypothesis import given, settings, strategies as st

from ccci.pure import status, status_facts
from ccci.pure.results import Mode, RunResult, StageResult, Status, Teardown

NOW = 1_800_000_000.0


def result(recipe="fx-web", run_id="abc123", *, ok=True, mode=Mode.COLD, requested=None, reason="", note="",
           seconds=60.0, ref=None) -> RunResult:
    stages = [StageResult("install", Status.PASSED, 10.0),
              StageResult("upgrade", Status.PASSED if ok else Status.FAILED, 20.0, "" if ok else reason)]
    return RunResult(recipe=recipe, ref=ref, mode=mode, run_id=run_id, domain="d.test", stack="d_test",
                     status=Status.PASSED if ok else Status.FAILED, stages=stages,
                     teardown=Teardown(Status.PASSED, 3.0), reason="" if ok else f"upgrade: {reason}",
                     seconds=seconds, requested_mode=requested, note=note)


def run(res: RunResult | status_facts.Unreadable | None, folder=None, finished=NOW - 100, **files) -> status_facts.RunFacts:
    folder = folder or (f"{res.recipe}-{res.run_id}" if isinstance(res, RunResult) else "fx-web-000000")
    return status_facts.RunFacts(folder=folder, finished=finished if res is not None else None, result=res, **files)


def facts(**overrides) -> status_facts.Facts:
    base = dict(now=NOW, state_dir="/state", runs_per_recipe=10, max_concurrent_runs=2, min_free_disk_mib=2048,
                free_disk_mib=9000)
    return status_facts.Facts(**(base | overrides))


def all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in all_strings(k) + all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


# -- runs -------------------------------------------------------------------------------------


def test_a_red_run_names_its_failing_stage_and_links_the_failing_services_log():
    red = run(result(ok=False, reason="app: task failed"), failure=("app.log", "db.log", "tasks.json"),
              failing_services=("app",), calls=("001-git-clone.log",), junit=True)
    entry = status.page(facts(runs=(red,)))["runs"]["fx-web"][0]
    assert entry["status"] == "failed" and entry["failed_stage"] == "upgrade"
    assert entry["failed_reason"] == "app: task failed"
    links = entry["links"]
    assert [f["href"] for f in links["failure"] if f["failing"]] == ["artifacts/fx-web-abc123/failure/app.log"]
    assert links["calls"] == [{"name": "001-git-clone.log", "href": "artifacts/fx-web-abc123/calls/001-git-clone.log"}]
    assert links["result"] == "artifacts/fx-web-abc123/result.json" and links["junit"].endswith("junit.xml")
    assert [s["name"] for s in entry["stages"]] == ["install", "upgrade", "teardown"]


def test_modes_say_when_quick_fell_back_to_cold():
    runs = (run(result(run_id="aaaaaa", mode=Mode.QUICK, requested=Mode.QUICK)),
            run(result(run_id="bbbbbb", mode=Mode.COLD, requested=Mode.QUICK), finished=NOW - 50),
            run(result(run_id="cccccc"), finished=NOW - 10))
    shown = {r["run_id"]: r["mode"] for r in status.page(facts(runs=runs))["runs"]["fx-web"]}
    assert shown == {"aaaaaa": "quick", "bbbbbb": "quick fell back to cold", "cccccc": "cold"}


def test_a_run_without_a_result_is_running_only_while_it_holds_a_slot():
    pending = run(None, folder="fx-web-0a0b0c")
    live = status.page(facts(runs=(pending,), in_flight=("cold run 0a0b0c of fx-web (pid 7)",)))
    dead = status.page(facts(runs=(pending,)))
    assert live["runs"]["fx-web"][0]["status"] == "running"
    assert dead["runs"]["fx-web"][0]["status"] == "unreadable"
    assert "no result.json" in dead["runs"]["fx-web"][0]["unreadable"]


def test_an_unreadable_result_is_one_entry_and_the_rest_still_shows():
    runs = (run(status_facts.Unreadable("not JSON (line 1, column 1)"), folder="fx-web-dddddd"), run(result()))
    page = status.page(facts(runs=runs))
    by_id = {r["run_id"]: r for r in page["runs"]["fx-web"]}
    assert by_id["dddddd"]["status"] == "unreadable" and by_id["dddddd"]["unreadable"].startswith("not JSON")
    assert by_id["abc123"]["status"] == "passed"


def test_folders_ccci_did_not_name_get_no_page():
    odd = run(result(), folder="../../etc")
    page = status.page(facts(runs=(odd,)))
    assert page["runs"] == {} and page["unreadable"] == ["../../etc: unexpected run folder name"]


@given(st.lists(st.tuples(st.sampled_from(["fx-web", "fx-pair", "a"]), st.integers(0, 10_000)), max_size=40),
       st.integers(1, 5))
def test_at_most_n_runs_per_recipe_newest_first(spec, n):
    runs = tuple(run(result(recipe, f"{i:06x}"), finished=float(when)) for i, (recipe, when) in enumerate(spec))
    page = status.page(facts(runs=runs, runs_per_recipe=n))
    for recipe, entries in page["runs"].items():
        mine = sorted((r for r in runs if r.folder.startswith(recipe + "-") and r.folder.count("-") ==
                       recipe.count("-") + 1), key=lambda r: -(r.finished or 0))
        assert len(entries) == min(n, len(mine))
        assert [e["finished"] for e in entries] == sorted((e["finished"] for e in entries), reverse=True)


def test_the_pr_a_bridge_build_came_from_is_shown():
    build = {"build": 12, "url": "https://ci.example/b/12", "repo": "coop/fx-web", "pr": 7,
             "sha": "f" * 40, "recipe": "fx-web", "mode": "quick", "comment_id": 1}
    quick = run(result(mode=Mode.QUICK, requested=Mode.QUICK, ref="f" * 40))
    other = run(result(run_id="eeeeee", ref="a" * 40), finished=NOW - 5)
    page = status.page(facts(runs=(quick, other), pending_builds=(build,)))
    by_id = {r["run_id"]: r for r in page["runs"]["fx-web"]}
    assert by_id["abc123"]["pr"] == {"repo": "coop/fx-web", "pr": "7", "build": "12", "url": "https://ci.example/b/12"}
    assert by_id["eeeeee"]["pr"] is None


# -- canonicals -------------------------------------------------------------------------------


RECORD = {"recipe": "fx-web", "domain": "warm-fx-web.test", "version": "1.1.0+1.35.0", "commit": "c" * 40,
          "status": "idle", "volumes": "known-good", "updated": "2027-01-15T08:00:00Z"}
META = {"recipe": "fx-web", "version": "1.1.0+1.35.0", "commit": "c" * 40, "taken": "20270110T080000Z",
        "volumes": [{"name": "v", "file": "v.tar", "size": 3 * 1024 * 1024, "sha256": "0" * 64}]}


def canonical(**kw) -> dict:
    facts_ = status_facts.CanonicalFacts(**({"recipe": "fx-web", "record": RECORD, "snapshot": META} | kw))
    return status.page(facts(canonicals=(facts_,)))["canonicals"][0]


def test_an_idle_canonical_shows_version_snapshot_age_size_and_last_verify():
    entry = canonical()
    assert entry["state"] == "idle" and entry["version"] == "1.1.0+1.35.0"
    assert entry["snapshot_size"] == "3.0 MiB" and entry["snapshot_age"] == "5.0 d"
    assert entry["last_verify"].startswith("ok, ")


def test_canonical_states():
    assert canonical(snapshot=None)["state"] == "broken"
    assert "no known-good snapshot" in canonical(snapshot=None)["why"]
    unreadable = canonical(record=status_facts.Unreadable("not JSON (line 1, column 2)"))
    assert unreadable["state"] == "broken" and "record unreadable: not JSON" in unreadable["why"]
    in_use = canonical(record=RECORD | {"status": "quick"}, lock_holder="quick run 0a0b0c of fx-web")
    assert in_use["state"] == "in use" and "0a0b0c" in in_use["why"]
    assert canonical(record=RECORD | {"status": "quick"})["state"] == "interrupted"


def test_a_canonical_a_quick_run_could_not_put_back_is_broken_and_a_failed_verify_shows():
    human = run(result(mode=Mode.QUICK, requested=Mode.QUICK, ok=False, reason="x",
                       note="CANONICAL NEEDS A HUMAN: restore failed"), finished=NOW)
    page = status.page(facts(canonicals=(status_facts.CanonicalFacts("fx-web", RECORD, META),), runs=(human,)))
    assert page["canonicals"][0]["state"] == "broken"
    assert page["canonicals"][0]["why"].startswith("CANONICAL NEEDS A HUMAN")
    failed = {"at": "2027-01-15T08:00:00Z", "ok": False, "taken": META["taken"], "why": "app.tar: checksum mismatch"}
    entry = canonical(verified=failed)
    assert entry["last_verify"].startswith("FAILED") and entry["verified_at"] == "2027-01-15 08:00:00Z"
    assert entry["state"] == "broken" and "checksum mismatch" in entry["why"]


# -- warm infra --------------------------------------------------------------------------------


def infra(**kw) -> status_facts.InfraFacts:
    return status_facts.InfraFacts(**({"app": "proxy", "recipe": "fx-proxy", "domain": "proxy.test", "stateful": False,
                                 "recorded": "1.1.0+v2.10.1", "last_good": "1.1.0+v2.10.1", "rejected": None,
                                 "rollback_failed": None} | kw))


def alert(file, kind, at, app="proxy") -> status_facts.AlertFacts:
    return status_facts.AlertFacts(file, {"app": app, "kind": kind, "at": at, "title": f"{app}: {kind}", "message": "m"})


def test_infra_last_outcome_comes_from_the_newest_alert_or_sweep_and_healthy_closes_alerts():
    alerts = (alert("1.json", "rolled-back", "2027-01-01T03:00:00.000000Z"),
              alert("2.json", "held-major", "2027-01-02T03:00:00.000000Z"),
              alert("3.json", "held-major", "2027-01-02T03:00:00.000000Z", app="store"))
    entry = status.page(facts(infra=(infra(),), alerts=alerts))["infra"][0]
    assert entry["outcome"] == "held-major" and entry["since"] == "2027-01-02 03:00:00Z"
    assert [a["kind"] for a in entry["open_alerts"]] == ["rolled-back", "held-major"]
    night = status_facts.NightlyFacts("20270103T030000Z", {"infra": [{"app": "proxy", "outcome": "noop-healthy"}],
                                                      "recipes": [], "status": "passed"})
    entry = status.page(facts(infra=(infra(),), alerts=alerts, nightlies=(night,)))["infra"][0]
    assert entry["outcome"] == "noop-healthy" and entry["open_alerts"] == []


def test_a_rollback_failed_marker_wins_and_unreadable_state_files_say_so():
    marker = {"at": "2027-01-04T03:00:00", "attempted": "2.0.0", "last_good": "1.1.0", "reason": "boom"}
    entry = status.page(facts(infra=(infra(rollback_failed=marker),),
                              alerts=(alert("9.json", "upgraded", "2027-01-05T03:00:00.000000Z"),)))["infra"][0]
    assert (entry["outcome"], entry["why"]) == ("rollback-failed", "boom")
    entry = status.page(facts(infra=(infra(last_good=status_facts.Unreadable("Permission denied"),
                                           rejected=status_facts.Unreadable("not JSON (line 1, column 1)")),)))["infra"][0]
    assert entry["last_good"] == "unreadable: Permission denied"
    assert entry["rejected"][0]["reason"] == "unreadable: not JSON (line 1, column 1)"


def test_an_unreadable_alert_is_listed_as_such():
    page = status.page(facts(alerts=(status_facts.AlertFacts("x.json", status_facts.Unreadable("empty")),)))
    assert page["alerts"][0]["unreadable"] == "empty"


# -- nightly and disk ---------------------------------------------------------------------------


def test_nightly_shows_the_last_sweep_and_the_disk_against_its_floor():
    old = status_facts.NightlyFacts("20270101T030000Z", {"status": "passed", "recipes": [], "infra": []})
    new = status_facts.NightlyFacts("20270102T030000Z", {
        "status": "failed", "reason": "red: fx-web",
        "recipes": [{"recipe": "fx-web", "status": "failed", "seconds": 61.0, "reason": "install: x",
                     "artifacts": "/state/runs/fx-web-abc123"}],
        "infra": [{"app": "proxy", "exit_code": 0, "outcome": "noop-healthy", "detail": ""}]})
    page = status.page(facts(nightlies=(new, old), runs=(run(result()),), free_disk_mib=100))
    nightly = page["nightly"]
    assert nightly["stamp"] == "20270102T030000Z" and nightly["status"] == "failed"
    assert nightly["recipes"][0]["page"] == "runs/fx-web-abc123.html"
    assert nightly["disk_low"] and "BELOW THE FLOOR" in nightly["disk"]
    unreadable = status.page(facts(nightlies=(status_facts.NightlyFacts("20270102T030000Z", status_facts.Unreadable("empty")),)))
    assert unreadable["nightly"]["status"] == "unreadable"


# -- trends --------------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.floats(0, 2e9), st.sampled_from(["cold", "quick"]), st.floats(0, 1e5)), max_size=60))
def test_trend_points_stay_inside_the_plot(points):
    plot = status.trend("r", points)
    assert plot["count"] == len(points)
    for series in plot["series"]:
        for dot in series["dots"]:
            assert status.SVG_PAD <= dot["x"] <= status.SVG_W - status.SVG_PAD
            assert status.SVG_PAD <= dot["y"] <= status.SVG_H - status.SVG_PAD
    assert sum(len(s["dots"]) for s in plot["series"]) == len(points)


# -- secrets ----------------------------------------------------------------------------------------


def test_secret_values_are_the_values_of_secret_looking_keys():
    env = ("TYPE=fx-web:1.0.0\nDOMAIN=x.test\nSECRET_DB_PASSWORD_VERSION=v1\nSMTP_PASSWORD='hunter22'\n"
           "export API_KEY=abcd1234\nADMIN_TOKEN=\"tok-xyz\" # set by hand\n")
    assert status_facts.secret_values(env) == {"hunter22", "abcd1234", "tok-xyz"}
    assert status_facts.recorded_version(env, "fx-web") == "1.0.0"
    assert status_facts.recorded_version(env, "other") is None


# Secrets as the page sees them: the marker's own text is not one (a secret
# spelled "dact" would "appear" in every redaction marker).
SECRET = st.text(st.characters(codec="utf-8", exclude_characters="<>"), min_size=status_facts.MIN_SECRET, max_size=20
                 ).filter(lambda s: s not in status_facts.REDACTED and s.strip() == s and s)
NOISE = st.text(max_size=30)


@settings(max_examples=200)
@given(st.lists(SECRET, min_size=1, max_size=3), NOISE, NOISE)
def test_no_secret_survives_anywhere_in_the_page(secrets, before, after):
    leak = before + secrets[0] + after + "".join(secrets[1:])
    red = run(attrs.evolve(result(ok=False, reason=leak), note=leak, promotion=leak),
              failure=(f"{leak[:10]}.log",), calls=("001-x.log",))
    marker = {"at": leak, "reason": leak}
    page = status.page(facts(
        runs=(red,), infra=(infra(recorded=leak, last_good=leak, rejected={leak: {"reason": leak}},
                                  rollback_failed=marker),),
        alerts=(alert("a.json", "held-major", leak),),
        canonicals=(status_facts.CanonicalFacts("fx-web", RECORD | {"version": leak}, META | {"version": leak}),),
        nightlies=(status_facts.NightlyFacts("20270102T030000Z", {"status": "failed", "reason": leak, "recipes": [
            {"recipe": "fx-web", "status": "failed", "reason": leak, "promotion": leak}], "infra": [
            {"app": "proxy", "outcome": leak, "detail": leak}]}),),
        in_flight=(leak,)), secrets)
    # The data, not its JSON text: JSON's own escapes ("\u0000") are not a leak.
    strings = all_strings(page)
    for secret in secrets:
        assert not any(secret in s for s in strings)
    assert any(status_facts.REDACTED in s for s in strings)  # the leak reached the page, and was blanked


def test_short_values_are_not_secrets():
    assert status_facts.redact({"a": "v1 yes"}, {"v1", "yes"}) == {"a": "v1 yes"}
    assert status_facts.redact(["hunter22!"], {"hunter22"}) == [f"{status_facts.REDACTED}!"]


def test_failing_services_come_from_failed_rejected_or_erroring_tasks():
    tasks = [{"service": "app", "state": "failed", "error": "exit 1"},
             {"service": "db", "state": "running", "error": ""},
             {"service": "web", "state": "rejected", "error": "No such image"},
             {"service": "app", "state": "shutdown", "error": "x"}]
    assert status_facts.failing_services(json.dumps(tasks)) == ("app", "web")
    assert status_facts.failing_services("not json") == ()
    assert status_facts.failing_services('{"a": 1}') == ()
