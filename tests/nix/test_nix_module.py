"""modules/ccci.nix called with a stub lib and the stub nixpkgs
(stub/module-eval.nix): every option typed and described, the settings handed
to the logic, the units and files it gives NixOS, and its assertions. Not the
NixOS module system (see the flake check `module-config` for that)."""

from __future__ import annotations

from tests.nix.nixtool import STUB, eval_expr, eval_json, nix_literal

MINIMAL = {"enable": True, "baseDomain": "ci.example.org"}
STUB_ABRA = "/nix/store/00000000000000000000000000000000-abra/bin/abra"


def module(nix_env: dict[str, str], settings: dict) -> dict:
    expr = f"import {STUB / 'module-eval.nix'} {{ settings = {nix_literal(settings)}; }}"
    result = eval_json(nix_env, expr)
    assert isinstance(result, dict)
    return result


def test_every_option_is_typed_and_described(nix_env: dict[str, str]) -> None:
    m = module(nix_env, MINIMAL)
    assert m["optionNames"] == sorted([
        "enable", "abraPackage", "packages", "baseDomain", "stateDir", "recipeSource", "server", "ingress",
        "keepRuns", "maxConcurrentRuns", "minFreeDiskMiB", "timeouts", "enroll", "infra", "keycloak",
        "alerts", "nightly", "swarm", "dockerPrune", "bridge",
    ])
    assert m["untyped"] == []
    assert m["undescribed"] == []
    # Entries are restic-style submodules; their options are walked too.
    assert {
        "services.ccci.enroll.<name>.canonical", "services.ccci.enroll.<name>.overlayTests",
        "services.ccci.enroll.<name>.needs", "services.ccci.enroll.<name>.timeout",
        "services.ccci.infra.<name>.schedule", "services.ccci.infra.<name>.health.poll",
        "services.ccci.keycloak.adminPasswordFile", "services.ccci.alerts.tokenFile",
        "services.ccci.nightly.onCalendar", "services.ccci.nightly.randomizedDelaySec",
        "services.ccci.bridge.settings.forge.webhookSecretFile",
    } <= set(m["allOptions"])


def test_a_minimal_host(nix_env: dict[str, str]) -> None:
    m = module(nix_env, MINIMAL)
    assert m["onlyWhenEnabled"] is True
    assert m["failedAssertions"] == []
    assert m["rendered"]["base_domain"] == "ci.example.org"
    assert m["rendered"]["abra"] == STUB_ABRA
    assert m["bridgeRendered"] is None
    assert m["docker"] == {"enable": True, "autoPrune": {"enable": True, "dates": "weekly",
                                                         "flags": ["--all", "--filter", "until=24h"]}}
    assert m["stateDirs"] == ["/var/lib/ccci"]
    assert sorted(m["services"]) == ["ccci-nightly", "ccci-swarm-init"]
    assert sorted(m["timers"]) == ["ccci-nightly"]
    assert m["systemPackages"] == [f"ccci-{job}" for job in
                                   ("run", "quick", "snapshot", "reconcile", "nightly", "bridge")]


def test_the_nightly_unit_runs_its_package_with_its_own_config(nix_env: dict[str, str]) -> None:
    m = module(nix_env, MINIMAL)
    nightly = m["services"]["ccci-nightly"]
    store = "/nix/store/00000000000000000000000000000000-"
    assert nightly["serviceConfig"]["ExecStart"] == (
        f"'{store}ccci-nightly/bin/ccci-nightly' '--config' '{store}ccci-nightly.json'")
    assert "exec" not in nightly
    assert nightly["environment"]["CCCI_CONFIG"] == f"{store}ccci-nightly.json"


def test_enrollment_infra_and_secrets_through_the_module(nix_env: dict[str, str]) -> None:
    m = module(nix_env, {
        **MINIMAL,
        "enroll": {"fx-web": {"canonical": True}, "fx-sso": {"needs": ["keycloak"]}},
        "infra": {"keycloak": {"domain": "sso.example.org", "stateful": True}},
        "keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/run/secrets/kc"},
    })
    assert m["failedAssertions"] == []
    # recipe defaults to the entry's name ({ name, ... }).
    assert m["rendered"]["infra"]["keycloak"]["recipe"] == "keycloak"
    assert sorted(m["rendered"]["recipes"]) == ["fx-sso", "fx-web"]
    reconcile = m["services"]["ccci-reconcile-keycloak"]
    assert reconcile["serviceConfig"]["LoadCredential"] == ["keycloak-admin-password:/run/secrets/kc"]
    assert m["timers"]["ccci-reconcile-keycloak"]["timerConfig"] == {"OnCalendar": "daily", "Persistent": True}


def test_per_entry_assertions_name_the_full_option_path(nix_env: dict[str, str]) -> None:
    m = module(nix_env, {**MINIMAL, "enroll": {"fx-sso": {"needs": ["keycloak"]}}})
    assert len(m["failedAssertions"]) == 1
    assert m["failedAssertions"][0].startswith(
        'services.ccci.enroll.fx-sso.needs: ["keycloak"] requires services.ccci.keycloak')


def test_volumes_in_docker_prune_is_refused(nix_env: dict[str, str]) -> None:
    m = module(nix_env, {**MINIMAL, "dockerPrune": {"flags": ["--volumes"]}})
    failed = m["failedAssertions"]
    assert any(f.startswith("services.ccci.dockerPrune.flags: must never include --volumes") for f in failed)
    # The NixOS option itself is checked too, whoever sets it.
    assert any(f.startswith("virtualisation.docker.autoPrune.flags must never include --volumes") for f in failed)


def test_an_undeclared_setting_is_an_error(nix_env: dict[str, str]) -> None:
    expr = (f"import {STUB / 'module-eval.nix'} "
            f"{{ settings = {nix_literal({**MINIMAL, 'enroll': {'fx-web': {'canonial': True}}})}; }}")
    result = eval_expr(nix_env, expr, check=False)
    assert result.returncode != 0
    assert "services.ccci.enroll.fx-web.canonial" in result.stderr


def test_the_bridge_gets_its_own_json_and_credentials(nix_env: dict[str, str]) -> None:
    m = module(nix_env, {**MINIMAL, "bridge": {"enable": True, "mode": "poll", "settings": {
        "forge": {"kind": "forgejo", "url": "https://git.example.org", "tokenFile": "/run/secrets/ft",
                  "webhookSecretFile": "/run/secrets/ws"},
        "drone": {"url": "https://drone.example.org", "tokenFile": "/run/secrets/dt", "repo": "ci/ccci"},
        "repos": {"coop-cloud/custom-html": "custom-html"},
    }}})
    assert m["failedAssertions"] == []
    assert m["bridgeRendered"]["forge"]["token_file"] == "/run/secrets/ft"
    assert m["bridgeRendered"]["state_dir"] == "/var/lib/ccci/bridge"
    assert "/var/lib/ccci/bridge" in m["stateDirs"]
    bridge = m["services"]["ccci-bridge"]
    assert bridge["serviceConfig"]["ExecStart"].startswith(
        "'/nix/store/00000000000000000000000000000000-ccci-bridge/bin/ccci-bridge' 'poll' '--config' ")
    assert sorted(bridge["serviceConfig"]["LoadCredential"]) == [
        "drone-token:/run/secrets/dt", "forge-token:/run/secrets/ft", "forge-webhook-secret:/run/secrets/ws"]
