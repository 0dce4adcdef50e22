"""The one contract test across the Nix/Python boundary: what the module
renders for a rich host (through nixpkgs' real lib.evalModules) is what
ccci's loaders accept (ccci/pure/config.py and ccci/pure/bridge_config.py reject
unknown keys and wrong types), for the files in /etc/ccci and for a unit's
own file (credential paths); and a minimal host's defaults are Python's."""

from __future__ import annotations

import copy
from pathlib import Path

import cattrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccci.pure import config as ccci_config
from ccci.pure import bridge_config
from tests.nix.test_nix_module import MINIMAL, RICH, host_expr, rendered, rendered_configs

# Settings the module renders before ccci's model has their field, each with
# the issue that adds the field. The test fails once Python knows the key:
# then drop it here (and nothing else).
PENDING_IN_PYTHON: dict[tuple[str, ...], str] = {}


def known_to_python(data: dict) -> dict:
    """`data` without the pending keys, after checking Python still refuses each."""
    data = copy.deepcopy(data)
    for (*parents, key) in PENDING_IN_PYTHON:
        holder = data
        for parent in parents:
            holder = holder[parent]
        assert key in holder, f"the module no longer renders {'.'.join((*parents, key))}"
        with pytest.raises(ccci_config.BadConfig, match=key):
            ccci_config.parse(data)
        del holder[key]
    return data


def test_what_nix_renders_is_what_ccci_loads(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(RICH))

    config = ccci_config.parse(known_to_python(out["config"]), "rendered by modules/ccci.nix")
    assert config.base_domain == "ci.example.org"
    assert config.timeouts.converge == 600 and config.timeouts.undeploy == 120
    assert config.recipes["lasuite-docs"].needs == ["keycloak"]
    assert config.recipes["custom-html"].canonical is True
    assert config.infra["keycloak"].stateful is True
    assert config.infra["keycloak"].health.poll == 2.5
    assert config.infra["traefik"].health.status == [200, 404]
    assert config.keycloak is not None and config.keycloak.admin_password_file == "/run/secrets/kc"
    assert config.alerts is not None and config.alerts.token_file == "/run/secrets/ntfy"
    assert config.status_page == ccci_config.StatusPageSettings(
        dir="/var/lib/ccci/status", base_url="https://status.ci.example.org/", runs_per_recipe=5)
    # What Python would write back is what Nix wrote: nothing dropped or added.
    assert ccci_config.CONVERTER.unstructure(config) == known_to_python(out["config"])

    unit = ccci_config.parse(known_to_python(out["unitConfigs"]["ccci-nightly"]), "ccci-nightly's config")
    assert unit.keycloak is not None
    assert unit.keycloak.admin_password_file == (
        "/run/credentials/ccci-nightly.service/keycloak-admin-password-file")

    bridge = bridge_config.parse(out["bridge"], "rendered by modules/ccci.nix")
    assert bridge.forge.kind is bridge_config.ForgeKind.FORGEJO
    assert bridge.state_dir == "/var/lib/ccci/bridge"
    assert bridge.poll_interval == 30
    assert bridge.recipe_for("coop-cloud/customhtml") is not None
    assert bridge_config.CONVERTER.unstructure(bridge) == out["bridge"]


def test_a_minimal_render_loads_with_python_defaults(nix_env: dict[str, str], nixlib: Path) -> None:
    out = rendered(nix_env, nixlib, host_expr(MINIMAL))
    # The options' defaults equal ccci/pure/config.py's.
    assert ccci_config.parse(known_to_python(out["config"])) == ccci_config.parse(
        {"base_domain": "ci.example.org", "abra": out["config"]["abra"]})


def test_a_value_nix_does_not_check_is_refused_by_ccci(nix_env: dict[str, str], nixlib: Path) -> None:
    # Values are validated once, by ccci's model: the module renders a bad
    # domain as given, and ccci refuses it at start-up naming the value.
    out = rendered(nix_env, nixlib, host_expr({**MINIMAL, "baseDomain": "localhost"}))
    assert out["config"]["base_domain"] == "localhost"
    with pytest.raises((ccci_config.BadConfig, cattrs.BaseValidationError), match="localhost"):
        ccci_config.parse(known_to_python(out["config"]))


# Text that survives the trip into a Nix string literal unchanged (nix_literal
# writes JSON escapes; Nix knows \n \t \r \" \\ but not \u or \b).
NIX_SAFE = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\t"), max_size=40)
RELATIVE = NIX_SAFE.filter(lambda path: not path.startswith("/"))
NOT_HTTP = NIX_SAFE.filter(lambda url: not url.startswith(("http://", "https://")))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dirs=st.lists(RELATIVE, min_size=1, max_size=6), urls=st.lists(NOT_HTTP, min_size=1, max_size=6))
def test_a_bad_status_page_is_rendered_as_given_and_refused_by_ccci(
    nix_env: dict[str, str], nixlib: Path, dirs: list[str], urls: list[str]
) -> None:
    # The module's types let any string through (ccci's model is the one
    # validator of values): a relative dir or a base URL that is not http(s)
    # reaches the file verbatim, and ccci refuses it at start-up, naming it.
    pages = [{"dir": d} for d in dirs] + [{"dir": "/srv/page", "baseUrl": u} for u in urls]
    hosts = [host_expr({**MINIMAL, "statusPage": {"enable": True, **page}}) for page in pages]
    for page, config in zip(pages, rendered_configs(nix_env, nixlib, hosts), strict=True):
        assert config["status_page"] == {"dir": page["dir"], "base_url": page.get("baseUrl"), "runs_per_recipe": 10}
        key = "status_page.base_url" if "baseUrl" in page else "status_page.dir"
        with pytest.raises(ccci_config.BadConfig, match=key):
            ccci_config.parse(config, "rendered by modules/ccci.nix")
