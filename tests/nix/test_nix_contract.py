"""The one contract test across the Nix/Python boundary: what the Nix logic
renders for a rich host is what ccci's loaders accept (ccci/config.py and
ccci/bridge/config.py reject unknown keys and wrong types), for the files in
/etc/ccci and for a unit's own file (credential paths)."""

from __future__ import annotations

from ccci.pure import config as ccci_config
from ccci.pure import bridge_config as bridge_config
from tests.nix.nixtool import ABRA, eval_json, logic_expr

RICH = {
    "baseDomain": "ci.example.org",
    "abra": ABRA,
    "stateDir": "/srv/ccci",
    "recipeSource": "https://git.example.org/mirror/{recipe}.git",
    "ingress": "host-port",
    "keepRuns": 20,
    "maxConcurrentRuns": 3,
    "minFreeDiskMiB": 4096,
    "timeouts": {"converge": 600, "tests": 1200},
    "enroll": {
        "custom-html": {"canonical": True},
        "lasuite-docs": {"canonical": True, "needs": ["keycloak"], "timeout": 5400,
                         "overlayTests": "/nix/store/00000000000000000000000000000000-docs-tests"},
    },
    "infra": {
        "traefik": {"recipe": "traefik", "domain": "ci.example.org", "health": {"status": [200, 404]}},
        "keycloak": {"recipe": "keycloak", "domain": "sso.ci.example.org", "stateful": True, "schedule": None,
                     "health": {"path": "/realms/master", "contains": "master", "window": 300,
                                "samples": 5, "poll": 2.5}},
    },
    "keycloak": {"url": "https://sso.ci.example.org", "adminPasswordFile": "/run/secrets/kc",
                 "verifyTls": False},
    "alerts": {"pushUrl": "https://ntfy.example.org/ccci", "tokenFile": "/run/secrets/ntfy", "timeout": 5},
    "bridge": {"enable": True, "settings": {
        "forge": {"kind": "forgejo", "url": "https://git.example.org", "tokenFile": "/run/secrets/ft",
                  "webhookSecretFile": "/run/secrets/ws"},
        "drone": {"url": "https://drone.example.org", "tokenFile": "/run/secrets/dt", "repo": "ci/ccci"},
        "repos": {"coop-cloud/custom-html": "custom-html", "coop-cloud/lasuite-docs": "lasuite-docs"},
        "allowlist": ["alice", "bob"],
        "pollInterval": 30,
    }},
}


def test_what_nix_renders_is_what_ccci_loads(nix_env: dict[str, str]) -> None:
    logic = logic_expr(RICH)
    rendered = eval_json(nix_env, f'{{ etc = {logic}.config; unit = {logic}.configFor "ccci-nightly"; '
                                  f'bridge = {logic}.bridge; bridgeUnit = {logic}.bridgeFor "ccci-bridge"; }}')
    assert isinstance(rendered, dict)

    config = ccci_config.parse(rendered["etc"], "rendered by modules/lib")
    assert config.base_domain == "ci.example.org"
    assert config.state_dir == "/srv/ccci"
    assert config.ingress is ccci_config.Ingress.HOST_PORT
    assert config.max_concurrent_runs == 3 and config.min_free_disk_mib == 4096
    assert config.timeouts.converge == 600 and config.timeouts.undeploy == 120
    assert config.recipes["lasuite-docs"].needs == ["keycloak"]
    assert config.recipes["custom-html"].canonical is True
    assert config.infra["keycloak"].stateful is True
    assert config.infra["keycloak"].health.poll == 2.5
    assert config.infra["traefik"].health.status == [200, 404]
    assert config.keycloak is not None and config.keycloak.admin_password_file == "/run/secrets/kc"
    assert config.alerts is not None and config.alerts.token_file == "/run/secrets/ntfy"
    # What Python would write back is what Nix wrote: nothing dropped or added.
    assert ccci_config.parse(ccci_config.CONVERTER.unstructure(config)) == config

    unit = ccci_config.parse(rendered["unit"], "ccci-nightly's config")
    assert unit.keycloak is not None
    assert unit.keycloak.admin_password_file == "/run/credentials/ccci-nightly.service/keycloak-admin-password"

    bridge = bridge_config.parse(rendered["bridge"], "rendered by modules/lib")
    assert bridge.forge.kind is bridge_config.ForgeKind.FORGEJO
    assert bridge.state_dir == "/srv/ccci/bridge"
    assert bridge.allowlist == ["alice", "bob"]
    assert bridge.recipe_for("coop-cloud/lasuite-docs") is not None
    bridge_unit = bridge_config.parse(rendered["bridgeUnit"], "ccci-bridge's config")
    assert bridge_unit.drone.token_file == "/run/credentials/ccci-bridge.service/drone-token"


def test_a_minimal_render_loads_with_python_defaults(nix_env: dict[str, str]) -> None:
    rendered = eval_json(nix_env, f"{logic_expr({'baseDomain': 'ci.example.org', 'abra': ABRA})}.config")
    # Nix's defaults (modules/lib/defaults.nix) equal ccci/config.py's.
    assert ccci_config.parse(rendered) == ccci_config.parse({"base_domain": "ci.example.org", "abra": ABRA})
