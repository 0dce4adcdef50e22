"""A recipe that needs SSO, run cold against the warm Keycloak (real Keycloak, real swarm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccci.seams import engine
from tests.integration.test_cold_run import assert_nothing_left, ccci_run

pytestmark = pytest.mark.integration


def test_an_sso_recipe_passes_custom_against_the_warm_keycloak_with_one_deploy(
    bed_config, plain_config_path, docker_client, keycloak_settings
):
    done = ccci_run(plain_config_path, "fx-sso", "--stages", "install,custom")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    custom = [s for s in result["stages"] if s["name"] == "custom"][0]
    assert "custom-recipe: " in custom["tests"] and "0 passed" not in custom["tests"].split("custom-recipe: ")[1]
    calls = sorted(Path(result["artifacts"], "calls").iterdir())
    deploys = [p for p in calls if p.name.endswith("-app-deploy.log")]
    assert len(deploys) == 1, [p.name for p in deploys]  # keycloak is not co-deployed
    realm = f"fx-sso-{result['run_id']}"
    assert f"realm {realm}: created" in done.stderr and f"realm {realm}: deleted" in done.stderr
    transcripts = "".join(p.read_text() for p in calls)
    password_file = Path(bed_config.keycloak.admin_password_file).read_text().strip()
    assert password_file not in transcripts and password_file not in done.stdout + done.stderr
    assert_nothing_left(docker_client, bed_config, result)


def test_without_the_warm_keycloak_the_run_fails_early_and_tears_down(bed_config, plain_config_path, tmp_path, docker_client):
    data = json.loads(plain_config_path.read_text())
    data["keycloak"]["url"] = "http://127.0.0.1:9"  # nothing listens there
    config = tmp_path / "config.json"
    config.write_text(json.dumps(data))
    done = ccci_run(config, "fx-sso")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert "does not answer" in result["reason"] and result["stages"] == []
    assert result["teardown"]["status"] == "passed"
    assert_nothing_left(docker_client, bed_config, result)
    assert engine.Stack(docker_client, result["stack"]).leftovers() == {}
