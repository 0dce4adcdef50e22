"""modules/ccci.nix through nixpkgs' real lib.evalModules (25.11 branch-off),
with strict declarations of the NixOS options it sets and a fake package set
(tests/nix/harness/): two realistic hosts render the expected config files,
units and timers; misconfigurations fail with the module system's own option
errors or with ccci's assertions; operators' own Docker settings merge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.nix.nixtool import HARNESS, eval_expr, nix_literal

STORE = "/nix/store/00000000000000000000000000000000-"
ABRA = f"{STORE}abra/bin/abra"
MINIMAL = {"enable": True, "baseDomain": "ci.example.org"}


def host_expr(ccci: dict | None = None, extra: str = "") -> str:
    """A host module: services.ccci from a Python dict, plus raw Nix settings
    (which may use `lib`)."""
    return f"({{ lib, ... }}: {{ services.ccci = {nix_literal(ccci or {})}; {extra} }})"


def evaluation(env: dict[str, str], nixlib: Path, host: str, with_abra: bool = True) -> subprocess.CompletedProcess[str]:
    expr = (f"import {HARNESS / 'eval.nix'} {{ lib = {nixlib}; host = {host}; "
            f"withAbra = {'true' if with_abra else 'false'}; }}")
    return eval_expr(env, expr, check=False)


def evaluate(env: dict[str, str], nixlib: Path, host: str, with_abra: bool = True) -> dict:
    result = evaluation(env, nixlib, host, with_abra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rendered(env: dict[str, str], nixlib: Path, host: str) -> dict:
    out = evaluate(env, nixlib, host)
    assert out["failed"] == []
    return out["result"]


def rendered_configs(env: dict[str, str], nixlib: Path, hosts: list[str]) -> list[dict]:
    """/etc/ccci/config.json of each host, in one nix evaluation (for generated hosts)."""
    each = f"import {HARNESS / 'eval.nix'} {{ lib = {nixlib}; host = h; }}"
    expr = f"map (h: let e = {each}; in {{ inherit (e) failed; config = e.result.config; }}) [ {' '.join(hosts)} ]"
    result = eval_expr(env, expr, check=False)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [o["failed"] for o in out] == [[] for _ in hosts]
    return [o["config"] for o in out]


# --- two realistic hosts ------------------------------------------------------

RICH = {
    **MINIMAL,
    "enroll": {
        "custom-html": {"canonical": True},
        "lasuite-docs": {"canonical": True, "needs": ["keycloak"], "timeout": 5400,
                         "overlayTests": f"{STORE}docs-tests", "env": {"COMPOSE_FILE": "compose.yml:compose.smtp.yml"},
                         "ssoEnv": {"OIDC_RP_CLIENT_ID": "CCCI_OIDC_CLIENT_ID",
                                    "OIDC_OP_JWKS_ENDPOINT": "CCCI_OIDC_DISCOVERY_URL"}},
    },
    "infra": {
        "traefik": {"domain": "ci.example.org", "health": {"status": [200, 404]}},
        "keycloak": {"domain": "sso.ci.example.org", "stateful": True, "schedule": None,
                     "health": {"path": "/realms/master", "contains": "master", "poll": 2.5}},
    },
    "keycloak": {"url": "https://sso.ci.example.org", "adminPasswordFile": "/run/secrets/kc"},
    "alerts": {"pushUrl": "https://ntfy.example.org/ccci", "tokenFile": "/run/secrets/ntfy"},
    "timeouts": {"converge": 600, "engineBack": 300},
    "statusPage": {"enable": True, "baseUrl": "https://status.ci.example.org/", "runsPerRecipe": 5,
                   "nginx": {"enable": True, "virtualHost": "status.ci.example.org"}},
    "bridge": {"enable": True, "mode": "poll", "settings": {
        "forge": {"kind": "forgejo", "url": "https://git.example.org", "tokenFile": "/run/secrets/ft",
                  "webhookSecretFile": "/run/secrets/ws"},
        "drone": {"url": "https://drone.example.org", "tokenFile": "/run/secrets/dt", "repo": "ci/ccci"},
        # Entry names are never renamed: only options are.
        "repos": {"Coop-Cloud/customHtml": "custom-html"},
        "pollInterval": 30,
    }},
}

RICH_CONFIG = {
    "base_domain": "ci.example.org",
    "state_dir": "/var/lib/ccci",
    "recipe_source": "https://git.coopcloud.tech/coop-cloud/{recipe}.git",
    "server": "default",
    "abra": ABRA,
    "ingress": "domain",
    "ca_certificates": None,
    "domain_checks": True,
    "keep_runs": 50,
    "max_concurrent_runs": 2,
    "min_free_disk_mib": 2048,
    "timeouts": {"converge": 600, "undeploy": 120, "http": 60, "abra": 900, "tests": 900, "lock": 3600,
                 "engine_back": 300},
    "recipes": {
        "custom-html": {"canonical": True, "needs": [], "overlay_tests": None, "timeout": 3600, "env": {},
                        "sso_env": {}},
        "lasuite-docs": {"canonical": True, "needs": ["keycloak"], "overlay_tests": f"{STORE}docs-tests",
                         "timeout": 5400, "env": {"COMPOSE_FILE": "compose.yml:compose.smtp.yml"},
                         "sso_env": {"OIDC_RP_CLIENT_ID": "CCCI_OIDC_CLIENT_ID",
                                     "OIDC_OP_JWKS_ENDPOINT": "CCCI_OIDC_DISCOVERY_URL"}},
    },
    "infra": {
        "traefik": {"recipe": "traefik", "domain": "ci.example.org", "stateful": False,
                    "health": {"path": "/", "status": [200, 404], "contains": None, "window": 120,
                               "samples": 3, "poll": 1}},
        "keycloak": {"recipe": "keycloak", "domain": "sso.ci.example.org", "stateful": True,
                     "health": {"path": "/realms/master", "status": [200], "contains": "master",
                                "window": 120, "samples": 3, "poll": 2.5}},
    },
    "keycloak": {"url": "https://sso.ci.example.org", "admin_user": "admin",
                 "admin_password_file": "/run/secrets/kc", "verify_tls": True},
    "alerts": {"push_url": "https://ntfy.example.org/ccci", "token_file": "/run/secrets/ntfy", "timeout": 10},
    # `enable`, `onCalendar` and `nginx` are the host's: not in the file.
    "status_page": {"dir": "/var/lib/ccci/status", "base_url": "https://status.ci.example.org/",
                    "runs_per_recipe": 5},
}


def test_a_rich_host_renders_the_expected_files(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(RICH))
    assert out["config"] == RICH_CONFIG
    assert out["bridge"] == {
        "forge": {"kind": "forgejo", "url": "https://git.example.org", "token_file": "/run/secrets/ft",
                  "webhook_secret_file": "/run/secrets/ws"},
        "drone": {"url": "https://drone.example.org", "token_file": "/run/secrets/dt", "repo": "ci/ccci",
                  "branch": "main"},
        "repos": {"Coop-Cloud/customHtml": "custom-html"},
        "listen_address": "127.0.0.1",
        "listen_port": 8787,
        "allowlist": None,
        "state_dir": "/var/lib/ccci/bridge",
        "poll_interval": 30,
        "max_body_bytes": 1048576,
        "http_timeout": 10,
        "ccci_config": "/etc/ccci/config.json",  # the status page is on: the bridge refreshes and links it
    }
    # A unit's own file differs only in where secrets are read from.
    nightly = out["unitConfigs"]["ccci-nightly"]
    credentials = "/run/credentials/ccci-nightly.service"
    assert nightly == {
        **RICH_CONFIG,
        "keycloak": {**RICH_CONFIG["keycloak"], "admin_password_file": f"{credentials}/keycloak-admin-password-file"},
        "alerts": {**RICH_CONFIG["alerts"], "token_file": f"{credentials}/alerts-token-file"},
    }


def test_a_rich_host_gets_its_units_and_timers(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(RICH))
    services, timers = out["services"], out["timers"]
    assert sorted(services) == ["ccci-bridge", "ccci-nightly", "ccci-reconcile-keycloak",
                                "ccci-reconcile-traefik", "ccci-status", "ccci-swarm-init"]
    nightly = services["ccci-nightly"]
    assert nightly["serviceConfig"] == {
        "Type": "oneshot",
        "ExecStart": f"{STORE}ccci-nightly/bin/ccci-nightly --config {STORE}ccci-nightly.json",
        "LoadCredential": ["alerts-token-file:/run/secrets/ntfy", "keycloak-admin-password-file:/run/secrets/kc"],
        "TimeoutStartSec": 21600,
    }
    assert nightly["environment"] == {"CCCI_CONFIG": f"{STORE}ccci-nightly.json", "HOME": "/root"}
    assert nightly["after"] == ["network-online.target", "docker.service", "ccci-swarm-init.service",
                                "ccci-reconcile-keycloak.service", "ccci-reconcile-traefik.service"]
    assert nightly["restartIfChanged"] is False
    assert services["ccci-reconcile-traefik"]["serviceConfig"]["ExecStart"] == (
        f"{STORE}ccci-reconcile/bin/ccci-reconcile traefik --config {STORE}ccci-reconcile-traefik.json")
    bridge = services["ccci-bridge"]["serviceConfig"]
    assert bridge["ExecStart"] == f"{STORE}ccci-bridge/bin/ccci-bridge poll --config {STORE}ccci-bridge.json"
    assert bridge["LoadCredential"] == ["drone-token-file:/run/secrets/dt", "forge-token-file:/run/secrets/ft",
                                        "forge-webhook-secret-file:/run/secrets/ws"]
    # A timer only where asked: keycloak's schedule is null.
    assert timers == {
        "ccci-nightly": {"description": "ccci nightly sweep", "wantedBy": ["timers.target"],
                         "timerConfig": {"OnCalendar": "*-*-* 03:00:00", "RandomizedDelaySec": 600,
                                         "Persistent": True}},
        "ccci-reconcile-traefik": {"description": "ccci: reconcile traefik", "wantedBy": ["timers.target"],
                                   "timerConfig": {"OnCalendar": "daily", "Persistent": True}},
        "ccci-status": {"description": "ccci status page", "wantedBy": ["timers.target"],
                        "timerConfig": {"OnCalendar": "*:0/5", "Persistent": True}},
    }
    assert sorted(out["tmpfiles"]["10-ccci"]) == ["/var/lib/ccci", "/var/lib/ccci/bridge"]
    assert sorted(out["tmpfiles"]["10-ccci"]["/var/lib/ccci"]) == ["a+", "d"]
    assert out["systemPackages"] == [f"ccci-{job}" for job in
                                     ("bridge", "nightly", "quick", "reconcile", "run", "snapshot", "status")]


SMALL = {
    **MINIMAL,
    "stateDir": "/srv/ccci",
    "ingress": "local-proxy",
    "caCertificates": "/var/lib/ccci-testbed/tls/ca.pem",
    "domainChecks": False,
    "maxConcurrentRuns": 1,
    "minFreeDiskMiB": 512,
    "enroll": {"custom-html": {}},
    "nightly": {"enable": False},
    "swarm": {"enable": False},
}


def test_a_small_host_without_timers_or_swarm(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(SMALL))
    assert out["config"] == {
        "base_domain": "ci.example.org",
        "state_dir": "/srv/ccci",
        "recipe_source": "https://git.coopcloud.tech/coop-cloud/{recipe}.git",
        "server": "default",
        "abra": ABRA,
        "ingress": "local-proxy",
        "ca_certificates": "/var/lib/ccci-testbed/tls/ca.pem",
        "domain_checks": False,
        "keep_runs": 50,
        "max_concurrent_runs": 1,
        "min_free_disk_mib": 512,
        "timeouts": {"converge": 300, "undeploy": 120, "http": 60, "abra": 900, "tests": 900, "lock": 3600,
                     "engine_back": 120},
        "recipes": {"custom-html": {"canonical": False, "needs": [], "overlay_tests": None, "timeout": 3600,
                                    "env": {}, "sso_env": {}}},
        "infra": {},
        "keycloak": None,
        "alerts": None,
        "status_page": None,
    }
    assert out["bridge"] is None
    # The nightly service exists without its timer (systemctl start ccci-nightly).
    assert sorted(out["services"]) == ["ccci-nightly"]
    assert out["timers"] == {}
    assert out["services"]["ccci-nightly"]["after"] == ["network-online.target", "docker.service"]
    assert "LoadCredential" in out["services"]["ccci-nightly"]["serviceConfig"]
    assert out["services"]["ccci-nightly"]["serviceConfig"]["LoadCredential"] == []
    assert list(out["tmpfiles"]["10-ccci"]) == ["/srv/ccci"]
    assert out["docker"]["enable"] is True
    assert out["docker"]["autoPrune"] == {"enable": True, "dates": "weekly", "flags": ["--all", "--filter", "until=24h"],
                                          "persistent": True, "randomizedDelaySec": "0"}


# --- the status page ------------------------------------------------------------


def test_the_status_page_is_off_by_default(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(MINIMAL))
    assert out["config"]["status_page"] is None
    assert out["unitConfigs"]["ccci-nightly"]["status_page"] is None
    assert "ccci-status" not in out["services"] and "ccci-status" not in out["timers"]
    assert out["nginx"] == {"enable": False, "user": "nginx", "virtualHosts": {}}
    # Nobody but root passes through stateDir.
    assert out["tmpfiles"]["10-ccci"] == {"/var/lib/ccci": {"d": {
        "mode": "0750", "user": "root", "group": "root", "age": "-", "argument": ""}}}


def test_the_bridge_reads_cccis_config_only_while_the_status_page_is_on(nix_env: dict[str, str],
                                                                          nixlib: Path) -> None:
    without = {k: v for k, v in RICH.items() if k != "statusPage"}
    assert rendered(nix_env, nixlib, host_expr(without))["bridge"]["ccci_config"] is None
    chosen = {**RICH, "bridge": {**RICH["bridge"], "settings": {**RICH["bridge"]["settings"],
                                                                 "ccciConfig": "/srv/ccci.json"}}}
    assert rendered(nix_env, nixlib, host_expr(chosen))["bridge"]["ccci_config"] == "/srv/ccci.json"


def test_the_status_page_is_rendered_by_its_unit_and_timer(nix_env: dict[str, str], nixlib: Path) -> None:
    host = {**SMALL, "statusPage": {"enable": True, "onCalendar": "hourly"}}
    out = rendered(nix_env, nixlib, host_expr(host))
    # dir follows stateDir; base_url and runs_per_recipe are Python's defaults.
    section = {"dir": "/srv/ccci/status", "base_url": None, "runs_per_recipe": 10}
    assert out["config"]["status_page"] == section
    # Every job's own file has it, so each refreshes the page when it ends.
    assert {name: c["status_page"] for name, c in out["unitConfigs"].items()} == {
        "ccci-nightly": section, "ccci-status": section}
    status = out["services"]["ccci-status"]
    assert status["serviceConfig"] == {
        "Type": "oneshot",
        "ExecStart": f"{STORE}ccci-status/bin/ccci-status --config {STORE}ccci-status.json",
        "LoadCredential": [],
    }
    # It reads files only: no wait on Docker or the swarm.
    assert status["after"] == [] and status["wants"] == []
    assert out["timers"]["ccci-status"]["timerConfig"] == {"OnCalendar": "hourly", "Persistent": True}
    assert out["nginx"]["enable"] is False
    assert list(out["tmpfiles"]["10-ccci"]["/srv/ccci"]) == ["d"]
    assert "ccci-status" in out["systemPackages"]


def test_the_status_page_is_served_by_nginx(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(RICH))
    assert out["nginx"]["enable"] is True
    assert list(out["nginx"]["virtualHosts"]) == ["status.ci.example.org"]
    vhost = out["nginx"]["virtualHosts"]["status.ci.example.org"]
    assert vhost["root"] == "/var/lib/ccci/status"
    assert list(vhost["locations"]) == ["/"]
    location = vhost["locations"]["/"]
    assert location["index"] == "index.html"
    directives = [line.strip() for line in location["extraConfig"].splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    # The site's `artifacts` link leads into <stateDir>/runs: followed; read-only.
    assert "disable_symlinks off;" in directives
    assert "limit_except GET HEAD { deny all; }" in directives
    assert "autoindex off;" in directives
    assert any(d.startswith("types {") and "text/plain log" in d for d in directives)
    # nginx's user may pass through stateDir, nothing more.
    assert out["tmpfiles"]["10-ccci"]["/var/lib/ccci"]["a+"]["argument"] == "u:nginx:--x"


def test_the_status_page_elsewhere_lets_nginx_through_both_folders(nix_env: dict[str, str], nixlib: Path) -> None:
    page = {"enable": True, "dir": "/srv/www/ccci", "nginx": {"enable": True, "virtualHost": "s.example.org"}}
    out = rendered(nix_env, nixlib, host_expr({**MINIMAL, "statusPage": page},
                                              'services.nginx.user = "www";'))
    assert out["config"]["status_page"]["dir"] == "/srv/www/ccci"
    assert out["nginx"]["virtualHosts"]["s.example.org"]["root"] == "/srv/www/ccci"
    acl = {path: e["a+"]["argument"] for path, e in out["tmpfiles"]["10-ccci"].items() if "a+" in e}
    assert acl == {"/var/lib/ccci": "u:www:--x", "/srv/www": "u:www:--x"}


def test_nothing_is_set_unless_enabled(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr({"baseDomain": "ci.example.org"}))
    assert out["config"] is None and out["services"] == {} and out["docker"]["enable"] is False


def test_every_option_is_typed_and_described(nix_env: dict[str, str], nixlib: Path) -> None:
    options = evaluate(nix_env, nixlib, host_expr(MINIMAL))["options"]
    names = {o["name"] for o in options}
    assert {
        "services.ccci.enroll.<name>.canonical", "services.ccci.infra.<name>.health.poll",
        "services.ccci.keycloak.adminPasswordFile", "services.ccci.timeouts.engineBack",
        "services.ccci.bridge.settings.forge.webhookSecretFile", "services.ccci.abraPackage",
    } <= names
    assert len(options) > 60
    assert [o["name"] for o in options if not o["described"]] == []
    assert [o["name"] for o in options if not o["type"]] == []


# --- operators' own settings ------------------------------------------------------


def test_an_operators_own_prune_schedule_wins_without_conflict(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(MINIMAL, 'virtualisation.docker.autoPrune.dates = "daily";'))
    assert out["docker"]["autoPrune"]["dates"] == "daily"
    # Their flags replace ccci's defaults rather than being appended to them.
    out = rendered(nix_env, nixlib, host_expr(MINIMAL, 'virtualisation.docker.autoPrune.flags = [ "--all" ];'))
    assert out["docker"]["autoPrune"]["flags"] == ["--all"]


def test_an_operator_provides_abra_when_nixpkgs_has_none(nix_env: dict[str, str], nixlib: Path) -> None:
    mine = '{ type = "derivation"; name = "abra-0.11"; outPath = "/nix/store/11111111111111111111111111111111-abra-0.11"; meta.mainProgram = "abra"; }'
    out = evaluate(nix_env, nixlib, host_expr(MINIMAL, f"services.ccci.abraPackage = {mine};"), with_abra=False)
    assert out["failed"] == []
    assert out["result"]["config"]["abra"] == "/nix/store/11111111111111111111111111111111-abra-0.11/bin/abra"


# --- misconfigurations -----------------------------------------------------------------

# (services.ccci settings, raw Nix, the module system's own error)
OPTION_ERRORS = [
    ({"enroll": {"fx-web": {"canonial": True}}}, "",
     "The option `services.ccci.enroll.fx-web.canonial' does not exist"),
    ({"enroll": {"fx-web": {"needs": "keycloak"}}}, "",
     "A definition for option `services.ccci.enroll.fx-web.needs' is not of type `list of value \"keycloak\""),
    ({"enroll": {"fx-web": {"needs": ["postgres"]}}}, "",
     "A definition for option `services.ccci.enroll.fx-web.needs.\"[definition 1-entry 1]\"' is not of type"),
    ({"enroll": {"fx-web": {"timeout": 0}}}, "",
     "A definition for option `services.ccci.enroll.fx-web.timeout' is not of type `positive integer"),
    ({"ingress": "proxy"}, "",
     "A definition for option `services.ccci.ingress' is not of type `one of \"domain\", \"host-port\", \"local-proxy\"'"),
    ({"infra": {"kc": {"stateful": True}}}, "",
     "The option `services.ccci.infra.kc.domain' was accessed but has no value defined"),
    ({"bridge": {"enable": True}}, "",
     "The option `services.ccci.bridge.settings.drone' was accessed but has no value defined"),
    ({"keepRuns": -1}, "",
     "A definition for option `services.ccci.keepRuns' is not of type `positive integer"),
    ({"infra": {"kc": {"domain": "sso.example.org", "health": {"status": []}}}}, "",
     "A definition for option `services.ccci.infra.kc.health.status' is not of type `non-empty (list of signed integer)'"),
    ({"statusPage": {"enable": True, "runsPerRecipe": 0}}, "",
     "A definition for option `services.ccci.statusPage.runsPerRecipe' is not of type `positive integer"),
    ({"statusPage": {"enable": True, "nginx": {"enable": True}}}, "",
     "The option `services.ccci.statusPage.nginx.virtualHost' was accessed but has no value defined"),
    ({"statusPage": {"enable": True, "nginx": {"enable": True, "virtualHost": "s.example.org",
                                                "root": "/srv/other"}}}, "",
     "The option `services.ccci.statusPage.nginx.root' does not exist"),
    # The NixOS side is strict too: a unit attribute NixOS does not have.
    ({}, 'systemd.services.ccci-nightly.serviceConfg.Nice = 5;',
     "The option `systemd.services.ccci-nightly.serviceConfg' does not exist"),
]


@pytest.mark.parametrize(("ccci", "extra", "message"), OPTION_ERRORS)
def test_a_misconfiguration_is_an_option_error(
    nix_env: dict[str, str], nixlib: Path, ccci: dict, extra: str, message: str
) -> None:
    result = evaluation(nix_env, nixlib, host_expr({**MINIMAL, **ccci}, extra))
    assert result.returncode != 0, result.stdout
    assert message in result.stderr


# (services.ccci settings, raw Nix, abra in nixpkgs, the one failed assertion)
ASSERTIONS = [
    ({"keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/nix/store/x-pw"}}, "", True,
     'services.ccci.keycloak.adminPasswordFile: "/nix/store/x-pw" must be an absolute path to a file outside the Nix store'),
    ({"alerts": {"pushUrl": "https://ntfy.example.org/x", "tokenFile": "run/secrets/t"}}, "", True,
     'services.ccci.alerts.tokenFile: "run/secrets/t" must be an absolute path'),
    ({"bridge": {"enable": True, "settings": {
        "forge": {"kind": "gitea", "url": "https://git.example.org", "tokenFile": "/run/secrets/ft",
                  "webhookSecretFile": "/nix/store/y-ws"},
        "drone": {"url": "https://drone.example.org", "tokenFile": "/run/secrets/dt", "repo": "ci/ccci"},
        "repos": {"coop-cloud/custom-html": "custom-html"}}}}, "", True,
     'services.ccci.bridge.settings.forge.webhookSecretFile: "/nix/store/y-ws" must be an absolute path'),
    ({"enroll": {"fx-sso": {"needs": ["keycloak"]}}}, "", True,
     'services.ccci.enroll.fx-sso.needs: ["keycloak"] requires services.ccci.keycloak to be set'),
    ({"keycloak": {"url": "https://sso.example.org", "adminPasswordFile": "/run/secrets/kc"},
      "enroll": {"fx-web": {"ssoEnv": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER"}}}}, "", True,
     'services.ccci.enroll.fx-web.ssoEnv takes the values of a run\'s realm: it needs needs = [ "keycloak" ].'),
    ({"dockerPrune": {"flags": ["--all", "--volumes"]}}, "", True,
     "virtualisation.docker.autoPrune must never prune volumes on a ccci host"),
    ({}, 'virtualisation.docker.autoPrune.flags = [ "--volumes=true" ];', True,
     "virtualisation.docker.autoPrune must never prune volumes on a ccci host"),
    ({"statusPage": {"nginx": {"enable": True, "virtualHost": "s.example.org"}}}, "", True,
     "services.ccci.statusPage.nginx.enable serves a page nothing renders: set services.ccci.statusPage.enable too."),
    ({}, "", False,
     "services.ccci.abraPackage is null: this nixpkgs has no `abra`. Set services.ccci.abraPackage"),
    ({}, 'services.ccci.packages.run = { type = "derivation"; name = "ccci-run"; outPath = "/nix/store/2-ccci-run"; '
         'meta.mainProgram = "ccci-run"; abra = { outPath = "/nix/store/3-abra"; }; };', True,
     "services.ccci.packages.run was built with another abra than services.ccci.abraPackage"),
]


@pytest.mark.parametrize(("ccci", "extra", "with_abra", "message"), ASSERTIONS)
def test_a_misconfiguration_fails_one_assertion(
    nix_env: dict[str, str], nixlib: Path, ccci: dict, extra: str, with_abra: bool, message: str
) -> None:
    out = evaluate(nix_env, nixlib, host_expr({**MINIMAL, **ccci}, extra), with_abra)
    assert len(out["failed"]) == 1, out["failed"]
    assert out["failed"][0].startswith(message), out["failed"][0]
    assert out["result"] is None


def test_the_fix_evaluates(nix_env: dict[str, str], nixlib: Path) -> None:
    # The first misconfiguration, corrected: the error was the typo only.
    out = rendered(nix_env, nixlib, host_expr({**MINIMAL, "enroll": {"fx-web": {"canonical": True}}}))
    assert out["config"]["recipes"]["fx-web"]["canonical"] is True
