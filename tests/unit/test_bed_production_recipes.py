"""The production-shaped bed recipes (tests/bed/recipes/{traefik,custom-html}) keep their promises.

Read from the sources, every release tree and broken overlay:
 - nothing reaches outside: every ACME resolver's CA is on loopback, and
   traefik's update checks and telemetry are off;
 - traefik is the front door real recipes expect: entrypoints `web` (:80)
   and `web-secure` (:443), resolvers `production` and `staging`, the swarm
   provider on `proxy` exposing nothing by default, host-mode 80/443;
 - apps route through it with real recipes' labels, unchanged;
 - Docker configs are immutable: two trees that name a config alike give it
   the same content (else a deploy of the second fails on the swarm).
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

RECIPES = Path(__file__).resolve().parents[2] / "tests" / "bed" / "recipes"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def trees(recipe: str) -> list[Path]:
    return sorted(p for p in (RECIPES / recipe).iterdir() if p.is_dir())


def compose(tree: Path, base: Path) -> dict:
    """A tree's compose file; an overlay without one has its base release's."""
    path = tree / "compose.yml" if (tree / "compose.yml").exists() else base / "compose.yml"
    return yaml.safe_load(path.read_text())


def default_of(name: str) -> str:
    """A config's name as the stand-in deploys it: ${VAR:-default} -> default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", name)


@pytest.mark.parametrize("tree", trees("traefik"), ids=lambda p: p.name)
def test_traefik_never_reaches_outside_and_is_the_front_door_real_recipes_expect(tree):
    static = yaml.safe_load((tree / "traefik.yml").read_text())
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    resolvers = static["certificatesResolvers"]
    assert {"production", "staging"} <= set(resolvers)
    for name, resolver in resolvers.items():
        assert urllib.parse.urlsplit(resolver["acme"]["caServer"]).hostname in LOOPBACK, name
    assert static["entryPoints"]["web"]["address"] == ":80"
    assert ":443" in [v for k, v in static["entryPoints"]["web-secure"].items() if k in ("address", "adress")]
    swarm = static["providers"]["swarm"]
    assert swarm["exposedByDefault"] is False and swarm["network"] == "proxy"
    service = compose(tree, tree)["services"]["app"]
    assert {(p["target"], p["published"], p["mode"]) for p in service["ports"]} == {(80, 80, "host"),
                                                                                    (443, 443, "host")}
    assert service["healthcheck"]["test"] == ["CMD", "traefik", "healthcheck"]


@pytest.mark.parametrize("tree", trees("custom-html"), ids=lambda p: p.name)
def test_custom_html_routes_with_real_recipes_labels_and_is_backed_up(tree):
    service = compose(tree, tree)["services"]["app"]
    labels = service["deploy"]["labels"]
    assert "traefik.http.routers.${STACK_NAME}.entrypoints=web-secure" in labels
    assert "traefik.http.routers.${STACK_NAME}.tls.certresolver=${LETS_ENCRYPT_ENV}" in labels
    assert "backupbot.backup=true" in labels
    assert "ports" not in service  # traefik is the only way in
    assert service["networks"] == ["proxy"]


@pytest.mark.parametrize("recipe", ["traefik", "custom-html"])
def test_a_config_name_never_stands_for_two_contents(recipe):
    seen: dict[str, tuple[str, bytes]] = {}
    for tree in trees(recipe):
        for key, spec in (compose(tree, tree).get("configs") or {}).items():
            source = tree / spec["file"]
            if not source.exists():  # an overlay keeps its base release's file
                continue
            name = default_of(spec["name"])
            content = source.read_bytes()
            if name in seen:
                assert seen[name][1] == content, f"{name}: {seen[name][0]} and {tree.name} differ"
            seen[name] = (tree.name, content)
        abra_sh = (tree / "abra.sh").read_text() if (tree / "abra.sh").exists() else ""
        for key, spec in (compose(tree, tree).get("configs") or {}).items():
            var = re.search(r"\$\{([A-Z_]+):-([^}]*)\}", spec["name"])
            assert var and f"export {var[1]}={var[2]}" in abra_sh, f"{tree.name}: abra.sh and the default differ"
