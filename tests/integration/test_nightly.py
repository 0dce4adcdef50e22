"""The nightly sweep on the real swarm: infra first, green promoted, red reported, one at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ccci.capabilities import capacity
from ccci.seams import engine
from ccci.entry.common import load_config
from ccci.pure.names import Domain, RecipeName, stack_name, warm_domain

pytestmark = pytest.mark.integration


def nightly_argv(path) -> list[str]:
    return [sys.executable, "-m", "ccci.entry.nightly", "--config", str(path)]


def test_nightly_reconciles_infra_then_sweeps_promoting_only_the_green(infra, bed_config, docker_client):
    # Stale infra: the proxy runs 1.0.0 while upstream has released 1.1.0.
    infra.install_at("proxy", "1.0.0+v2.10.0")
    # One green and one red enrolled recipe, from repos this test owns.
    source = bed_config.recipe_source.replace("file://", "").replace("{recipe}", "fx-web")
    for name in ("fx-web", "fx-red"):
        subprocess.run(["git", "clone", "--quiet", "--mirror", source, str(infra.repos / name)], check=True)
    red_repo = ["git", "-C", str(infra.repos / "fx-red")]
    broken = subprocess.run([*red_repo, "rev-parse", "refs/heads/broken/missing-image"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([*red_repo, "tag", "-a", "1.2.0+1.35.0", broken, "-m", "a broken release"], check=True)
    data = json.loads(infra.path.read_text())
    data["infra"] = {"proxy": data["infra"]["proxy"]}
    data["recipes"] = {"fx-web": {"canonical": True, "timeout": 900}, "fx-red": {"canonical": True, "timeout": 900}}
    data["timeouts"]["lock"] = 600
    infra.path.write_text(json.dumps(data))
    config = load_config(infra.path)
    warm_stacks = [stack_name(warm_domain(RecipeName(r), Domain(config.base_domain))) for r in ("fx-web", "fx-red")]
    try:
        first = subprocess.Popen(nightly_argv(infra.path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        holder = config.state / "locks" / "nightly.holder"
        deadline = time.monotonic() + 60
        while not holder.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        second = subprocess.run(nightly_argv(infra.path), capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and second.stdout == ""
        assert "ccci-nightly: nightly is busy: held by nightly sweep" in second.stderr
        out, err = first.communicate(timeout=1800)
        assert first.returncode == 1, err[-3000:]
        summary = json.loads(out)
        # Infra first, and it moved forward.
        assert err.index("nightly: reconciling proxy") < err.index("nightly: cold run of")
        assert [(i["app"], i["outcome"]) for i in summary["infra"]] == [("proxy", "upgraded")]
        assert infra.last_good("proxy") == "1.1.0+v2.10.1"
        # Serially, alphabetically: fx-red then fx-web.
        recipes = {r["recipe"]: r for r in summary["recipes"]}
        assert [r["recipe"] for r in summary["recipes"]] == ["fx-red", "fx-web"]
        assert recipes["fx-web"]["status"] == "passed" and recipes["fx-web"]["promotion"] == "promoted 1.1.0+1.35.0"
        assert recipes["fx-red"]["status"] == "failed" and "No such image" in recipes["fx-red"]["reason"]
        assert recipes["fx-red"]["promotion"] == "not promoted: the run is red"
        assert (config.state / "canonical" / "fx-web" / "canonical.json").is_file()
        assert not (config.state / "canonical" / "fx-red").exists()
        assert summary["status"] == "failed" and "red: fx-red" in summary["reason"]
        alerts = [a for a in infra.alerts() if a["file"].endswith("-nightly-red.json")]
        assert len(alerts) == 1 and "fx-red" in alerts[0]["message"]
    finally:
        for stack in warm_stacks:
            engine.Stack(docker_client, stack).remove_leftovers()


def test_nightly_does_not_start_while_a_run_holds_a_slot(infra):
    config = infra.config
    with capacity.slot(config, "a PR run"):
        done = subprocess.run(nightly_argv(infra.path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "runs in flight (a PR run" in done.stderr and done.stdout == ""
    assert not (config.state / "nightly").exists()
