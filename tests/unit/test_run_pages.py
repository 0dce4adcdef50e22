"""The run id the bridge chooses: validated wherever it enters (ccci-run/ccci-quick
--run-id, the bridge's state file), sent to CI, and the only way a PR links a page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ccci.entry import quick as quick_entry
from ccci.entry import run as run_entry
from ccci.entry.common import load_config
from ccci.jobs.bridge.page import RunPages
from ccci.pure import status, status_facts
from ccci.pure.builds import BuildRequest
from ccci.pure.names import RecipeName, RunId
from ccci.pure.results import Mode

FIXED = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
not_a_run_id = st.text(max_size=12).filter(lambda s: not re.fullmatch(r"[0-9a-f]{6}", s) and not s.startswith("-"))


def config_file(root: Path, **status_page) -> Path:
    path = root / "config.json"
    path.write_text(json.dumps({"base_domain": "ccci.test", "state_dir": str(root / "state"),
                                **({"status_page": status_page} if status_page else {})}))
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("main, argv", [(run_entry.main, ["fx-web"]), (quick_entry.main, ["fx-web", "main"])])
@given(bad=not_a_run_id)
@settings(**FIXED)
def test_a_bad_run_id_is_exit_2_and_changes_nothing(tmp_path_factory, capsys, main, argv, bad):
    root = tmp_path_factory.mktemp("cfg")
    path = config_file(root)
    assert main([*argv, "--run-id", bad, "--config", str(path)]) == 2
    assert "bad run id" in capsys.readouterr().err
    assert files_under(root / "state") == []


@pytest.mark.parametrize("main, argv", [(run_entry.main, ["fx-web"]), (quick_entry.main, ["fx-web", "main"])])
def test_a_run_id_already_used_is_refused_before_anything_starts(tmp_path, capsys, main, argv):
    path = config_file(tmp_path)
    used = tmp_path / "state" / "runs" / "fx-web-0a1b2c"
    used.mkdir(parents=True)
    (used / "result.json").write_text("{}")
    before = files_under(tmp_path / "state")
    assert main([*argv, "--run-id", "0a1b2c", "--config", str(path)]) == 2
    assert "run id 0a1b2c is taken" in capsys.readouterr().err
    assert files_under(tmp_path / "state") == before and (used / "result.json").read_text() == "{}"


def test_the_build_request_carries_the_run_id_only_when_there_is_one():
    recipe = RecipeName.parse("fx-web")
    assert "RUN_ID" not in BuildRequest(recipe, "a" * 40, Mode.COLD).parameters()
    assert BuildRequest(recipe, "a" * 40, Mode.QUICK, RunId("0a1b2c")).parameters() == \
        {"RECIPE": "fx-web", "REF": "a" * 40, "MODE": "quick", "RUN_ID": "0a1b2c"}


@given(recipe=st.text(max_size=20), run_id=st.text(max_size=10))
@settings(**FIXED)
def test_a_pr_is_linked_only_to_a_page_named_by_a_valid_recipe_and_run_id(tmp_path_factory, recipe, run_id):
    root = tmp_path_factory.mktemp("cfg")
    pages = RunPages(load_config(config_file(root, dir=str(root / "site"), base_url="https://ci.test/s/")))
    said = pages.mention(recipe, run_id)
    try:
        valid = RecipeName.parse(recipe).value == recipe and RunId.parse(run_id).value == run_id
    except Exception:
        valid = False
    assert said == (f" Page: https://ci.test/s/runs/{recipe}-{run_id}.html" if valid else "")


def test_no_status_page_or_no_base_url_means_no_link_and_no_render(tmp_path):
    off = RunPages(load_config(config_file(tmp_path)))
    assert not off.enabled and off.mention("fx-web", "0a1b2c") == ""
    off.refresh()
    assert off.wait(1) and not (tmp_path / "site").exists()
    unlinked = RunPages(load_config(config_file(tmp_path, dir=str(tmp_path / "site"))))
    assert unlinked.enabled and unlinked.mention("fx-web", "0a1b2c") == ""


builds = st.fixed_dictionaries({
    "recipe": st.one_of(st.text(max_size=12), st.sampled_from(["fx-web", "fx-web/../x"])),
    "run_id": st.one_of(st.text(max_size=8), st.sampled_from(["0a1b2c", "../../x", "0A1B2C"])),
    "sha": st.text(max_size=12), "mode": st.sampled_from(["cold", "quick"]), "repo": st.text(max_size=10),
    "pr": st.integers(), "build": st.integers(), "url": st.text(max_size=10)})


@given(pending=st.lists(builds, max_size=4))
@settings(**FIXED)
def test_queued_pages_are_made_only_for_run_folder_names_and_never_break_the_page(pending):
    facts = status_facts.Facts(now=1.8e9, state_dir="/s", runs_per_recipe=10, max_concurrent_runs=2,
                               min_free_disk_mib=1, free_disk_mib=10, pending_builds=tuple(pending))
    page = status.page(facts)
    queued = [r for runs in page["runs"].values() for r in runs if r["status"] == "queued"]
    for entry in queued:
        assert status_facts.RUN_FOLDER.fullmatch(entry["folder"]) and entry["page"] == f"runs/{entry['folder']}.html"
        assert re.fullmatch(r"[0-9a-f]{6}", entry["run_id"])
    expected = {f"{b['recipe']}-{b['run_id']}" for b in pending if re.fullmatch(r"[0-9a-f]{6}", b["run_id"])
                and status_facts.RUN_FOLDER.fullmatch(f"{b['recipe']}-{b['run_id']}")}
    assert {e["folder"] for e in queued} == expected


def test_a_started_run_replaces_its_queued_page_and_keeps_its_pr():
    build = {"recipe": "fx-web", "run_id": "0a1b2c", "sha": "a" * 40, "mode": "cold", "repo": "o/r", "pr": 7,
             "build": 3, "url": "http://ci/3"}
    running = status_facts.RunFacts(folder="fx-web-0a1b2c", finished=None, result=None)
    facts = status_facts.Facts(now=1.8e9, state_dir="/s", runs_per_recipe=10, max_concurrent_runs=2,
                               min_free_disk_mib=1, free_disk_mib=10, pending_builds=(build,), runs=(running,),
                               in_flight=("cold run 0a1b2c of fx-web",))
    [entry] = status.page(facts)["runs"]["fx-web"]
    assert entry["status"] == "running" and entry["pr"]["pr"] == "7"
