"""The bridge config: strict at the edge; secrets from files, never shown."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.entry.common import load_bridge_config
from ccci.pure import bridge_config as config
from ccci.pure.bridge_config import BadConfig, BridgeConfig, ForgeKind, Secret, Secrets

GOOD = {
    "forge": {"kind": "forgejo", "url": "https://git.example.org", "token_file": "/run/t",
              "webhook_secret_file": "/run/w"},
    "drone": {"url": "https://drone.example.org", "token_file": "/run/d", "repo": "coop-cloud/ccci"},
    "repos": {"coop-cloud/custom-html": "custom-html"},
}


def _with(path: str, value: object) -> dict:
    data = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


def test_defaults_listen_on_loopback_only():
    c = config.parse(GOOD)
    assert (c.listen_address, c.listen_port, c.allowlist) == ("127.0.0.1", 8787, None)
    assert c.forge.kind is ForgeKind.FORGEJO and c.drone.branch == "main"


@given(
    st.sampled_from(list(ForgeKind)),
    st.integers(min_value=0, max_value=65535),
    st.none() | st.lists(st.from_regex(r"[a-z0-9_.-]{1,20}", fullmatch=True), max_size=3),
    st.floats(min_value=0.01, max_value=3600),
)
def test_config_round_trips_through_json(kind, port, allowlist, interval):
    original = config.parse(GOOD)
    original = BridgeConfig(
        forge=config.ForgeSettings(kind, original.forge.url, "/t", "/w"), drone=original.drone,
        repos=original.repos, listen_port=port, allowlist=allowlist, poll_interval=interval,
    )
    assert config.parse(json.loads(config.dump(original))) == original


@pytest.mark.parametrize(("data", "says"), [
    ({**GOOD, "surprise": 1}, "surprise"),
    (_with("forge.tokn_file", "/x"), "tokn_file"),
    (_with("forge.kind", "github"), "forge.kind"),
    (_with("forge.url", "git.example.org"), "http(s) URL"),
    (_with("drone.repo", "ccci"), "owner/name"),
    (_with("repos", {"coop-cloud/x": "Not_A_Recipe"}), "bad recipe name"),
    (_with("repos", {"no-slash": "custom-html"}), "owner/name"),
    (_with("repos", {}), "at least one"),
    (_with("repos", {"a/b": "x", "A/B": "y"}), "named twice"),
    (_with("listen_address", "localhost"), "IP address"),
    (_with("listen_port", 70000), "listen_port"),
    (_with("allowlist", ["ok", "not ok"]), "allowlist"),
    (_with("poll_interval", 0), "poll_interval"),
    (_with("max_body_bytes", 10), "max_body_bytes"),
    (_with("ccci_config", "etc/ccci/config.json"), "absolute path"),
    ({k: v for k, v in GOOD.items() if k != "drone"}, "drone"),
])
def test_bad_config_is_one_clear_line(data, says):
    with pytest.raises(BadConfig) as caught:
        config.parse(data, "bridge.json")
    message = str(caught.value)
    assert says in message and "\n" not in message and message.startswith("bridge.json: ")


def test_recipe_for_matches_repositories_case_insensitively():
    c = config.parse(GOOD)
    assert c.recipe_for("Coop-Cloud/Custom-HTML").value == "custom-html"
    assert c.recipe_for("coop-cloud/other") is None


def test_secrets_come_from_files_and_never_show(tmp_path):
    for name in ("t", "w", "d"):
        (tmp_path / name).write_text(f"s3cret-{name}\n")
    c = config.parse({
        **GOOD,
        "forge": {**GOOD["forge"], "token_file": str(tmp_path / "t"), "webhook_secret_file": str(tmp_path / "w")},
        "drone": {**GOOD["drone"], "token_file": str(tmp_path / "d")},
    })
    secrets = Secrets.read(c)
    assert secrets.forge_token.value == "s3cret-t" and secrets.drone_token.value == "s3cret-d"
    assert "s3cret" not in repr(secrets) and "s3cret" not in str(secrets.webhook_secret)


@pytest.mark.parametrize(("content", "says"), [("", "one non-empty line"), ("a\nb\n", "one non-empty line")])
def test_a_bad_secret_file_is_refused_without_showing_it(tmp_path, content, says):
    path = tmp_path / "secret"
    path.write_text(content)
    with pytest.raises(BadConfig, match=says) as caught:
        Secret.read(str(path), "forge.token_file")
    assert "a\nb" not in str(caught.value)
    with pytest.raises(BadConfig, match="cannot read"):
        Secret.read(str(tmp_path / "absent"), "forge.token_file")


def test_load_reports_a_missing_or_broken_file(tmp_path):
    with pytest.raises(BadConfig, match="no bridge config"):
        load_bridge_config(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(BadConfig, match="bridge config .*broken.json: not JSON"):
        load_bridge_config(tmp_path / "broken.json")


def test_a_string_is_never_an_allowlist():
    # cattrs alone turns "alice" into the logins a, l, i, c, e (and stops asking the forge).
    with pytest.raises(BadConfig, match=r'allowlist: expected a list, got a string "alice"'):
        config.parse(_with("allowlist", "alice"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e-9, 10**9])
def test_a_poll_interval_must_be_a_sane_positive_number_of_seconds(value):
    with pytest.raises(BadConfig, match=r"^bridge config: poll_interval: expected a number of seconds"):
        config.parse(_with("poll_interval", value))
