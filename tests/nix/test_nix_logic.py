"""The builtins-only logic (modules/lib) evaluated offline: the JSON it
renders for sample enrollments, the units and timers it describes, and the
refusals of bad enrollments, each naming the entry and the option."""

from __future__ import annotations

import pytest

from tests.nix.nixtool import ABRA, HERE, eval_expr, eval_json, logic_expr

BASE = {"baseDomain": "ci.example.org", "abra": ABRA}
EXECUTABLES = {job: f"/nix/store/00000000000000000000000000000000-ccci-{job}/bin/ccci-{job}"
               for job in ("run", "quick", "snapshot", "reconcile", "nightly", "bridge")}
FAKE_JSON = "/nix/store/00000000000000000000000000000000-"


def render(nix_env: dict[str, str], settings: dict, what: str = "config") -> object:
    return eval_json(nix_env, f"{logic_expr(settings)}.{what}")


def refusal(nix_env: dict[str, str], settings: dict, what: str = "config") -> str:
    result = eval_expr(nix_env, f"{logic_expr(settings)}.{what}", check=False)
    assert result.returncode != 0, f"expected evaluation to fail, got {result.stdout}"
    return result.stderr


def test_every_case_in_cases_nix_holds(nix_env: dict[str, str]) -> None:
    # The same file is the flake check `nix-logic` on a machine with nixpkgs.
    cases = eval_json(nix_env, f"import {HERE / 'cases.nix'}")
    assert isinstance(cases, dict) and len(cases) >= 10
    assert [name for name, held in cases.items() if held is not True] == []


def test_sample_enrollments_render_the_expected_json(nix_env: dict[str, str]) -> None:
    settings = {
        **BASE,
        "ingress": "host-port",
        "maxConcurrentRuns": 1,
        "minFreeDiskMiB": 512,
        "timeouts": {"converge": 600},
        "enroll": {
            "custom-html": {"canonical": True},
            "lasuite-docs": {"canonical": True, "needs": ["keycloak"], "timeout": 5400,
                             "overlayTests": "/nix/store/00000000000000000000000000000000-docs-tests"},
        },
        "infra": {
            "keycloak": {"recipe": "keycloak", "domain": "sso.example.org", "stateful": True,
                         "health": {"path": "/realms/master", "status": [200, 302]}},
        },
        "keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/run/secrets/kc"},
    }
    assert render(nix_env, settings) == {
        "base_domain": "ci.example.org",
        "state_dir": "/var/lib/ccci",
        "recipe_source": "https://git.coopcloud.tech/coop-cloud/{recipe}.git",
        "server": "default",
        "abra": ABRA,
        "ingress": "host-port",
        "keep_runs": 50,
        "timeouts": {"converge": 600, "undeploy": 120, "http": 60, "abra": 900, "tests": 900, "lock": 3600},
        "recipes": {
            "custom-html": {"canonical": True, "needs": [], "overlay_tests": None, "timeout": 3600},
            "lasuite-docs": {"canonical": True, "needs": ["keycloak"], "timeout": 5400,
                             "overlay_tests": "/nix/store/00000000000000000000000000000000-docs-tests"},
        },
        "keycloak": {"url": "https://sso.example.org", "admin_user": "admin",
                     "admin_password_file": "/run/secrets/kc", "verify_tls": True},
        "infra": {
            "keycloak": {"recipe": "keycloak", "domain": "sso.example.org", "stateful": True,
                         "health": {"path": "/realms/master", "status": [200, 302], "contains": None,
                                    "window": 120, "samples": 3, "poll": 1}},
        },
        "alerts": None,
        "max_concurrent_runs": 1,
        "min_free_disk_mib": 512,
    }


def test_units_and_timers_for_infra_and_the_nightly(nix_env: dict[str, str]) -> None:
    settings = {
        **BASE,
        "infra": {
            "keycloak": {"recipe": "keycloak", "domain": "sso.example.org", "stateful": True},
            "traefik": {"recipe": "traefik", "domain": "ci.example.org", "schedule": "Mon 04:00"},
        },
        "keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/run/secrets/kc"},
        "alerts": {"pushUrl": "https://ntfy.example.org/ccci", "tokenFile": "/run/secrets/ntfy"},
        "nightly": {"randomizedDelaySec": 900},
    }
    units = eval_json(nix_env, f"{logic_expr(settings, EXECUTABLES)}.units")
    services, timers = units["services"], units["timers"]
    assert sorted(services) == ["ccci-nightly", "ccci-reconcile-keycloak", "ccci-reconcile-traefik", "ccci-swarm-init"]

    nightly = services["ccci-nightly"]
    assert nightly["exec"] == [EXECUTABLES["nightly"], "--config", f"{FAKE_JSON}ccci-nightly.json"]
    assert nightly["serviceConfig"]["Type"] == "oneshot"
    assert sorted(nightly["serviceConfig"]["LoadCredential"]) == [
        "alert-token:/run/secrets/ntfy",
        "keycloak-admin-password:/run/secrets/kc",
    ]
    assert nightly["after"][:3] == ["network-online.target", "docker.service", "ccci-swarm-init.service"]
    assert set(nightly["after"]) >= {"ccci-reconcile-keycloak.service", "ccci-reconcile-traefik.service"}
    assert "network-online.target" in nightly["wants"]
    assert nightly["restartIfChanged"] is False

    reconcile = services["ccci-reconcile-traefik"]
    assert reconcile["exec"] == [EXECUTABLES["reconcile"], "traefik", "--config",
                                 f"{FAKE_JSON}ccci-reconcile-traefik.json"]

    assert timers == {
        "ccci-nightly": {"description": "ccci nightly sweep", "wantedBy": ["timers.target"],
                         "timerConfig": {"OnCalendar": "*-*-* 03:00:00", "RandomizedDelaySec": 900,
                                         "Persistent": True}},
        "ccci-reconcile-keycloak": {"description": "ccci: reconcile keycloak", "wantedBy": ["timers.target"],
                                    "timerConfig": {"OnCalendar": "daily", "Persistent": True}},
        "ccci-reconcile-traefik": {"description": "ccci: reconcile traefik", "wantedBy": ["timers.target"],
                                   "timerConfig": {"OnCalendar": "Mon 04:00", "Persistent": True}},
    }
    swarm = services["ccci-swarm-init"]
    assert "swarm init --advertise-addr 127.0.0.1" in swarm["script"]
    assert swarm["serviceConfig"] == {"Type": "oneshot", "RemainAfterExit": True}


def test_a_units_json_holds_credential_paths_never_secrets(nix_env: dict[str, str]) -> None:
    settings = {
        **BASE,
        "keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/run/secrets/kc"},
        "alerts": {"pushUrl": "https://ntfy.example.org/ccci", "tokenFile": "/run/secrets/ntfy"},
    }
    unit = eval_json(nix_env, f'{logic_expr(settings)}.configFor "ccci-reconcile-keycloak"')
    assert unit["keycloak"]["admin_password_file"] == (
        "/run/credentials/ccci-reconcile-keycloak.service/keycloak-admin-password")
    assert unit["alerts"]["token_file"] == "/run/credentials/ccci-reconcile-keycloak.service/alert-token"


# Bad enrollments: the message names the entry and the option ---------------


def test_an_unknown_key_fails_then_the_fix_renders(nix_env: dict[str, str]) -> None:
    typo = {**BASE, "enroll": {"fx-web": {"canonial": True}}}
    message = refusal(nix_env, typo)
    assert 'services.ccci.enroll.fx-web: unknown option "canonial"' in message
    assert "canonical" in message  # the known options are listed

    fixed = {**BASE, "enroll": {"fx-web": {"canonical": True}}}
    assert render(nix_env, fixed)["recipes"]["fx-web"]["canonical"] is True


@pytest.mark.parametrize(
    ("enroll", "message"),
    [
        ({"fx-web": {"needs": "keycloak"}},
         'services.ccci.enroll.fx-web.needs: expected a list of one of ["keycloak"], got a string "keycloak"'),
        ({"fx-web": {"needs": ["postgres"]}},
         'services.ccci.enroll.fx-web.needs.[0]: expected one of ["keycloak"], got a string "postgres"'),
        ({"fx-web": {"canonical": "yes"}},
         'services.ccci.enroll.fx-web.canonical: expected a boolean, got a string "yes"'),
        ({"fx-web": {"timeout": "1h"}},
         'services.ccci.enroll.fx-web.timeout: expected an integer, got a string "1h"'),
        ({"fx-web": True}, "services.ccci.enroll.fx-web: expected an attribute set, got a boolean true"),
    ],
)
def test_a_wrong_type_fails_naming_entry_and_option(nix_env: dict[str, str], enroll: dict, message: str) -> None:
    assert message in refusal(nix_env, {**BASE, "enroll": enroll})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"enroll": {"fx-sso": {"needs": ["keycloak"]}}},
         'services.ccci.enroll.fx-sso.needs: ["keycloak"] requires services.ccci.keycloak'),
        ({"enroll": {"Fx_Web": {}}}, 'services.ccci.enroll.Fx_Web: "Fx_Web" is not a recipe name'),
        ({"enroll": {"fx-web": {"timeout": 0}}}, "services.ccci.enroll.fx-web.timeout: must be at least 1"),
        ({"infra": {"kc": {"recipe": "keycloak", "domain": "sso.example.org", "health": {"path": "realms"}}}},
         "services.ccci.infra.kc.health.path: must start with '/'"),
        ({"infra": {"kc": {"recipe": "keycloak", "domain": "sso.example.org", "health": {"status": [700]}}}},
         "services.ccci.infra.kc.health.status: must list HTTP status codes"),
        ({"infra": {"kc": {"recipe": "keycloak", "domain": "SSO"}}}, "services.ccci.infra.kc.domain"),
        ({"infra": {"kc": {"domain": "sso.example.org"}}}, "services.ccci.infra.kc.recipe: required, but not set"),
        ({"keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/nix/store/x-pw"}},
         "services.ccci.keycloak.adminPasswordFile: \"/nix/store/x-pw\" is in the Nix store"),
        ({"alerts": {"pushUrl": "ntfy.example.org"}}, "services.ccci.alerts.pushUrl: expected an http(s) URL"),
        ({"dockerPrune": {"flags": ["--all", "--volumes"]}}, "services.ccci.dockerPrune.flags: must never include --volumes"),
        ({"baseDomain": "localhost"}, "services.ccci.baseDomain"),
        ({"recipeSource": "https://git.example.org/x.git"}, "services.ccci.recipeSource: must contain '{recipe}'"),
        ({"abra": "abra"}, "services.ccci.abraPackage"),
        ({"maxConcurrentRuns": 0}, "services.ccci.maxConcurrentRuns: must be at least 1"),
    ],
)
def test_values_ccci_would_refuse_fail_with_the_option_path(
    nix_env: dict[str, str], settings: dict, message: str
) -> None:
    assert message in refusal(nix_env, {**BASE, **settings})


def test_the_same_refusals_are_problems_for_the_module(nix_env: dict[str, str]) -> None:
    # The module turns `problems` into assertions; each names its option.
    settings = {**BASE, "enroll": {"fx-sso": {"needs": ["keycloak"]}, "fx-web": {"timeout": 0}}}
    problems = eval_json(nix_env, f"{logic_expr(settings)}.problems")
    assert isinstance(problems, list) and len(problems) == 2
    assert problems[0].startswith("services.ccci.enroll.fx-sso.needs: ")
    assert problems[1].startswith("services.ccci.enroll.fx-web.timeout: ")


def test_missing_required_settings_fail(nix_env: dict[str, str]) -> None:
    assert "services.ccci.baseDomain: required, but not set" in refusal(nix_env, {"abra": ABRA})
