"""The reconciler's pure parts: the plan, the health window, outcomes and exit codes, config, argv."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.pure import config
from ccci.pure.config import BadConfig
from ccci.entry import reconcile as entry
from ccci.capabilities.health import healthcheck_floor
from ccci.pure.plan import (
    EXIT_CODES,
    Action,
    HealthRecord,
    HealthVerdict,
    Outcome,
    ReconcileError,
    ReconcileResult,
    plan,
)
from ccci.pure.versions import Release, releases

tags = st.builds(lambda a, b, c: f"{a}.{b}.{c}+1.35.0", *(st.integers(0, 9),) * 3)


@given(st.lists(tags, min_size=1, max_size=8, unique=True), st.data())
def test_the_plan_targets_the_newest_release_unless_it_was_rejected(all_tags, data):
    available = releases(all_tags)
    newest = available[-1]
    current = data.draw(st.sampled_from(all_tags))
    rejected = set(data.draw(st.lists(st.sampled_from(all_tags), max_size=3)))
    chosen = plan(current, available, rejected, blocked=False)
    if newest.tag in rejected:
        assert chosen.action is Action.CHECK and "rolled back before" in chosen.note
    elif newest <= Release.parse(current):
        assert chosen.action is Action.CHECK and chosen.target is None
    else:
        assert chosen.action is Action.UPGRADE and chosen.target == newest.tag and chosen.current == current
    assert chosen.target is None or chosen.target not in rejected


@given(st.lists(tags, min_size=1, max_size=8, unique=True), st.data())
def test_a_fresh_install_takes_the_newest_release_not_rejected(all_tags, data):
    available = releases(all_tags)
    rejected = set(data.draw(st.lists(st.sampled_from(all_tags), max_size=len(all_tags) - 1)))
    chosen = plan(None, available, rejected, blocked=False)
    assert chosen.action is Action.INSTALL
    assert chosen.target == max(r for r in available if r.tag not in rejected).tag


def test_a_failed_rollback_blocks_everything():
    assert plan("1.0.0+1", releases(["1.0.0+1", "1.1.0+1"]), set(), blocked=True).action is Action.BLOCKED


def test_every_release_rejected_before_an_install_is_an_error():
    with pytest.raises(ReconcileError, match="every release"):
        plan(None, releases(["1.0.0+1"]), {"1.0.0+1"}, blocked=False)


# Tags that are not releases: no `+`, a leading `v`, words, an empty recipe part.
not_releases = st.one_of(
    st.builds(lambda a, b, c: f"v{a}.{b}.{c}", *(st.integers(0, 99),) * 3),  # traefik's real only tag: v2.4.8
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 99),) * 3),
    st.sampled_from(["latest", "main", "1.0+x", "+1.2.3", "release-1", "1.0.0-rc1"]),
)


@given(st.lists(not_releases, max_size=6, unique=True), st.none() | tags,
       st.lists(tags, max_size=3), st.booleans())
def test_a_recipe_without_a_release_tag_is_held_not_an_error(only, current, rejected, blocked):
    assert releases(only) == []  # the generator makes no release by accident
    chosen = plan(current, releases(only), set(rejected), blocked=blocked, tags=only)
    if blocked:
        assert chosen.action is Action.BLOCKED
        return
    assert chosen.action is Action.HOLD and chosen.target is None and chosen.current == current
    assert ("no tags at all" in chosen.note) if not only else ("no tag of the recipe is a release" in chosen.note)
    assert Outcome.HELD_UNPARSEABLE.exit_code == 3


def test_an_unparseable_running_version_goes_to_the_gate():
    chosen = plan("a1b2c3d4", releases(["1.0.0+1"]), set(), blocked=False)
    assert chosen.action is Action.UPGRADE  # and the safety gate holds it as unparseable


S = 1_000_000_000


def service(image="img:1", check=None):
    spec = {"TaskTemplate": {"ContainerSpec": {"Image": image}}}
    if check is not None:
        spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"] = check
    return spec


def test_the_window_floor_is_the_slowest_start_period_plus_interval_times_retries():
    specs = [
        service(check={"Test": ["CMD", "true"], "Interval": 2 * S, "Retries": 3, "StartPeriod": 2 * S}),  # 8
        service(check={"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 4, "StartPeriod": 30 * S}),  # 50
        service(check={"Test": ["NONE"]}),
        service(),
    ]
    assert healthcheck_floor(specs, {}) == 50


def test_the_window_floor_uses_docker_defaults_and_image_healthchecks():
    # Interval and retries left at 0 mean Docker's defaults: 30 s, 3 retries.
    assert healthcheck_floor([service(check={"Test": ["CMD", "true"]})], {}) == 90
    from_image = {"img:2": {"Test": ["CMD-SHELL", "true"], "Interval": S, "Retries": 2, "StartPeriod": 3 * S}}
    assert healthcheck_floor([service("img:2")], from_image) == 5
    assert healthcheck_floor([service("img:3")], {}) == 0


def test_every_outcome_has_a_documented_exit_code():
    assert set(EXIT_CODES) == set(Outcome)
    assert {o.value for o, c in EXIT_CODES.items() if c == 0} == {"noop-healthy", "installed", "upgraded"}
    assert {o.value for o, c in EXIT_CODES.items() if c == 3} == {"held-major", "held-manual-migration", "held-unparseable"}
    assert EXIT_CODES[Outcome.ROLLED_BACK] == 4 and EXIT_CODES[Outcome.ROLLBACK_FAILED] == 5
    assert {o.value for o, c in EXIT_CODES.items() if c == 6} == {"unhealthy", "install-failed"}
    assert not set(EXIT_CODES.values()) & {1, 2}  # those are ccci's own error and bad input


def test_the_result_is_one_json_object_with_plain_values():
    result = ReconcileResult("proxy", "fx-proxy", "proxy.ci.test", Outcome.ROLLED_BACK, current="1.0.0+1",
                             attempted="1.1.0+1", recovered=True,
                             health=[HealthRecord("1.1.0+1", 12.0, 3.5, HealthVerdict.DOCKER, "unhealthy")])
    data = json.loads(result.to_json())
    assert data["outcome"] == "rolled-back" and data["health"][0]["verdict"] == "docker"
    assert result.exit_code == 4
    assert ReconcileResult("p", "r", "d", Outcome.ROLLED_BACK, plan=True).exit_code == 0


# -- config: infra apps and alerts (strict like the rest) --------------------------------

def infra_config(**app):
    return {"base_domain": "ci.test", "infra": {"proxy": {"recipe": "traefik", "domain": "proxy.ci.test", **app}}}


@pytest.mark.parametrize(("data", "says"), [
    (infra_config(healthcheck={}), "healthcheck"),
    (infra_config(health={"window": 10, "sample": 3}), "sample"),
    (infra_config(health={"samples": 0}), "infra.proxy.health.samples: expected a positive count"),
    (infra_config(health={"path": "ping"}), "infra.proxy.health.path"),
    (infra_config(health={"status": [99]}), "infra.proxy.health.status"),
    (infra_config(domain="Proxy"), "infra.proxy.domain: bad domain"),
    (infra_config(recipe="../x"), "infra.proxy.recipe: bad recipe name"),
    ({"base_domain": "ci.test", "alerts": {"push_url": "ftp://x"}}, "alerts.push_url"),
    ({"base_domain": "ci.test", "alerts": {"push_url": "https://x", "token": "inline"}}, "token"),
])
def test_bad_infra_or_alert_config_is_one_clear_line(data, says):
    with pytest.raises(BadConfig) as caught:
        config.parse(data, "cfg.json")
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_infra_and_alerts_round_trip_through_json():
    data = {**infra_config(stateful=True, health={"path": "/ping", "status": [200, 204], "contains": "OK",
                                                   "window": 60, "samples": 4, "poll": 0.5}),
            "alerts": {"push_url": "https://ntfy.example.org/ci", "token_file": "/run/credentials/ntfy", "timeout": 5}}
    parsed = config.parse(data)
    assert parsed.infra["proxy"].stateful and parsed.infra["proxy"].health.samples == 4
    assert config.parse(json.loads(config.dump(parsed))) == parsed


# -- argv --------------------------------------------------------------------------------

def test_bad_argv_is_exit_2(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(infra_config()))
    assert entry.main(["--config", str(path), "proxy", "--plan", "--clear-failed"]) == 2
    assert entry.main(["--config", str(path), "../x"]) == 2
    assert entry.main(["--config", str(path), "keycloak"]) == 2
    err = capsys.readouterr().err
    assert "no infra app 'keycloak' in the config (configured: proxy)" in err
    assert capsys.readouterr().out == ""


# -- the result: written by ccci-reconcile, read back by the nightly sweep -----------------

DOCUMENTED_FIELDS = {"app", "recipe", "domain", "outcome", "plan", "current", "latest", "attempted", "running",
                     "last_good", "recovered", "reason", "note", "flagged", "notes", "steps", "health", "alert",
                     "seconds"}
text = st.text(max_size=30)
health_records = st.builds(HealthRecord, text, st.floats(0, 1e4), st.floats(0, 1e4), st.sampled_from(HealthVerdict),
                           text, st.floats(0, 2e9), st.floats(0, 2e9))
results = st.builds(
    ReconcileResult, text, text, text, st.none() | st.sampled_from(Outcome), st.booleans(),
    current=st.none() | text, latest=st.none() | text, attempted=st.none() | text, running=st.none() | text,
    last_good=st.none() | text, recovered=st.none() | st.booleans(), reason=text, note=text,
    flagged=st.lists(text, max_size=3), notes=st.lists(st.dictionaries(text, text, max_size=3), max_size=2),
    steps=st.lists(text, max_size=4), health=st.lists(health_records, max_size=3), alert=st.none() | text,
    seconds=st.floats(0, 1e5),
)


@given(results)
def test_the_result_reads_back_as_written(result):
    data = json.loads(result.to_json())
    assert set(data) == DOCUMENTED_FIELDS
    assert data["outcome"] == (result.outcome.value if result.outcome else None)
    assert [h["verdict"] for h in data["health"]] == [h.verdict.value for h in result.health]
    assert ReconcileResult.from_json(result.to_json()) == result


@pytest.mark.parametrize("stdout", ["", "ccci-reconcile: proxy: boom", "{}", '{"app": "p"}', "[1]",
                                    '{"app": "p", "recipe": "r", "domain": "d", "outcome": "exploded"}'])
def test_what_is_not_a_result_is_refused_by_its_reader(stdout):
    with pytest.raises(ValueError, match="not a ccci-reconcile result"):
        ReconcileResult.from_json(stdout)


class CannedReconciler:
    """Stands in for the job only: the entry point's printing is what is tested."""

    result = ReconcileResult("proxy", "fx-proxy", "proxy.ci.test", Outcome.HELD_UNPARSEABLE,
                             reason="no tag of the recipe is a release (x.y.z+upstream): v2.4.8",
                             health=[HealthRecord("1.0.0+1", 1.0, 0.5, HealthVerdict.WINDOW, "HTTP 404")])

    def __init__(self, config, name):
        assert name == "proxy"

    def execute(self, *, dry_run):
        return self.result


def test_the_entry_point_prints_the_result_the_sweep_reads(tmp_path, capsys, monkeypatch):
    from ccci.jobs.nightly import infra_outcome

    path = tmp_path / "c.json"
    path.write_text(json.dumps(infra_config()))
    monkeypatch.setattr("ccci.jobs.reconcile.Reconciler", CannedReconciler)  # the entry imports it lazily
    code = entry.main(["--config", str(path), "proxy"])
    out = capsys.readouterr().out
    assert code == 3 and ReconcileResult.from_json(out) == CannedReconciler.result
    read = infra_outcome("proxy", code, out)
    assert (read.outcome, read.exit_code, read.detail) == ("held-unparseable", 3, CannedReconciler.result.reason)
