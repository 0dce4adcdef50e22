"""A recipe's `env` and `sso_env`: validated as config, written into the app's env file before a deploy.

The env file is abra's (`$ABRA_DIR/servers/<server>/<domain>.env`), read by
abra's dotenv reader: a key or value that could add a line, a quote, an
expansion or a comment would change what abra deploys, so the config refuses
them (generated input probes the class), and ccci writes only validated
values, replacing a key's line or appending it, keeping everything else.
"""

from __future__ import annotations

import re
import stat
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities import realms
from ccci.capabilities.app import AppUnderTest, StageFailed
from ccci.pure import config as config_mod
from ccci.pure.config import SSO_VALUES, BadConfig
from ccci.pure.names import Domain, RecipeName
from ccci.seams.abra import Abra

NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
VALUE = re.compile(r"[A-Za-z0-9_./:@+,=%-]{0,1024}")
D = Domain.parse("oidc-site-abc123.ccci.test")


def parse(recipe: dict) -> config_mod.Config:
    return config_mod.parse({"base_domain": "ccci.test", "recipes": {"oidc-site": recipe}})


@given(st.from_regex(NAME, fullmatch=True), st.from_regex(VALUE, fullmatch=True))
def test_names_and_values_of_the_safe_shape_are_taken_as_they_are(name, value):
    if name in config_mod.ABRA_OWNED:
        return
    assert parse({"env": {name: value}}).recipes["oidc-site"].env == {name: value}


@given(st.text(max_size=70))
def test_any_other_name_is_refused_in_one_line_naming_the_key(name):
    if NAME.fullmatch(name) and name not in config_mod.ABRA_OWNED:
        return
    with pytest.raises(BadConfig) as refused:
        parse({"env": {name: "x"}})
    assert "\n" not in str(refused.value) and "recipes.oidc-site.env" in str(refused.value)


@given(st.text(min_size=1, max_size=40).filter(lambda v: not VALUE.fullmatch(v)))
def test_a_value_that_could_change_another_line_or_be_interpreted_is_refused(value):
    with pytest.raises(BadConfig) as refused:
        parse({"env": {"COMPOSE_FILE": value}})
    assert "\n" not in str(refused.value) and "COMPOSE_FILE" in str(refused.value)


@pytest.mark.parametrize("name", sorted(config_mod.ABRA_OWNED))
def test_what_abra_owns_in_the_env_cannot_be_set(name):
    with pytest.raises(BadConfig, match="abra's to set"):
        parse({"env": {name: "x"}})


def test_sso_env_takes_the_realms_values_by_their_test_names_except_the_users_password():
    assert SSO_VALUES == set(realms.ENV_KEYS) - {"CCCI_OIDC_PASSWORD"}
    with pytest.raises(BadConfig, match="unknown realm value"):
        parse({"needs": ["keycloak"], "sso_env": {"PASSWORD": "CCCI_OIDC_PASSWORD"}})
    with pytest.raises(BadConfig, match='needs "keycloak"'):
        parse({"sso_env": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER"}})
    with pytest.raises(BadConfig, match="both env and sso_env"):
        parse({"needs": ["keycloak"], "env": {"X": "1"}, "sso_env": {"X": "CCCI_OIDC_ISSUER"}})


@pytest.fixture
def abra(tmp_path):
    tool = Abra("/opt/abra", tmp_path / "abra-dir", "default", 60)
    (tmp_path / "abra-dir" / "servers" / "default").mkdir(parents=True)
    tool.env_file(D).write_text(
        "TYPE=oidc-site:1.0.0+2.4.62\nDOMAIN=oidc-site-abc123.ccci.test\n"
        "## how to enable the bed overlay\n#COMPOSE_FILE=compose.yml:compose.bed.yml\n"
        "OIDC_ISSUER=\nLETS_ENCRYPT_ENV=production\n"
    )
    return tool


def test_set_env_replaces_a_keys_line_appends_a_new_one_and_keeps_the_rest_private(abra):
    abra.set_env(D, {"OIDC_ISSUER": "https://sso.ccci.test/realms/r", "COMPOSE_FILE": "compose.yml:compose.bed.yml"})
    assert abra.env_file(D).read_text() == (
        "TYPE=oidc-site:1.0.0+2.4.62\nDOMAIN=oidc-site-abc123.ccci.test\n"
        "## how to enable the bed overlay\n#COMPOSE_FILE=compose.yml:compose.bed.yml\n"
        "OIDC_ISSUER=https://sso.ccci.test/realms/r\nLETS_ENCRYPT_ENV=production\n"
        "COMPOSE_FILE=compose.yml:compose.bed.yml\n"
    )
    assert stat.S_IMODE(abra.env_file(D).stat().st_mode) == 0o600
    abra.set_env(D, {"OIDC_ISSUER": "https://sso.ccci.test/realms/s"})  # the next run's realm: replaced again
    assert abra.env_file(D).read_text().count("OIDC_ISSUER=") == 1
    assert "OIDC_ISSUER=https://sso.ccci.test/realms/s\n" in abra.env_file(D).read_text()


def test_a_key_given_twice_in_the_file_gets_the_value_on_every_line(abra):
    """A dotenv reader may take the first or the last: both are ccci's value."""
    abra.env_file(D).write_text("OIDC_ISSUER=a\nX=1\nOIDC_ISSUER=b\n")
    abra.set_env(D, {"OIDC_ISSUER": "c"})
    assert abra.env_file(D).read_text() == "OIDC_ISSUER=c\nX=1\nOIDC_ISSUER=c\n"


def lease(**changes) -> realms.RealmLease:
    values = dict(realm=realms.RealmName.of("oidc-site", "abc123"), keycloak_url="https://sso-abc.ccci.test",
                  issuer="https://sso-abc.ccci.test/realms/oidc-site-abc123", discovery_url="d", token_url="t",
                  client_id="oidc-site", client_secret="s3cret_-x", password="pw")
    return realms.RealmLease(**{**values, **changes})


def app(abra, recipe: dict, sso: realms.RealmLease | None) -> SimpleNamespace:
    """What AppUnderTest.apply_env reads of an app: its config, recipe, realm, abra and domain."""
    return SimpleNamespace(config=parse(recipe), recipe=RecipeName("oidc-site"), sso=sso, abra=abra, domain=D)


def test_before_a_deploy_the_app_env_gets_the_config_env_and_the_open_realms_values(abra):
    recipe = {"needs": ["keycloak"], "env": {"COMPOSE_FILE": "compose.yml:compose.bed.yml"},
              "sso_env": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER", "OIDC_CLIENT_ID": "CCCI_OIDC_CLIENT_ID",
                          "OIDC_CLIENT_SECRET": "CCCI_OIDC_CLIENT_SECRET", "SSO_HOST": "CCCI_KEYCLOAK_HOST"}}
    AppUnderTest.apply_env(app(abra, recipe, lease()))
    text = abra.env_file(D).read_text()
    for line in ("COMPOSE_FILE=compose.yml:compose.bed.yml", "OIDC_ISSUER=https://sso-abc.ccci.test/realms/oidc-site-abc123",
                 "OIDC_CLIENT_ID=oidc-site", "OIDC_CLIENT_SECRET=s3cret_-x", "SSO_HOST=sso-abc.ccci.test"):
        assert f"\n{line}\n" in text, line
    assert "pw" not in {line.partition("=")[2] for line in text.splitlines()}  # never the user's password


def test_without_an_open_realm_only_the_config_env_is_written(abra):
    recipe = {"needs": ["keycloak"], "env": {"COMPOSE_FILE": "compose.yml"},
              "sso_env": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER"}}
    AppUnderTest.apply_env(app(abra, recipe, None))
    text = abra.env_file(D).read_text()
    assert "COMPOSE_FILE=compose.yml\n" in text and "OIDC_ISSUER=\n" in text


def test_a_realm_value_that_does_not_fit_an_env_line_fails_the_stage_and_writes_nothing(abra):
    before = abra.env_file(D).read_text()
    recipe = {"needs": ["keycloak"], "sso_env": {"OIDC_ISSUER": "CCCI_OIDC_ISSUER"}}
    with pytest.raises(StageFailed, match="CCCI_OIDC_ISSUER cannot go into the app's env as OIDC_ISSUER"):
        AppUnderTest.apply_env(app(abra, recipe, lease(issuer="https://x/realms/r\nDOMAIN=evil.example")))
    assert abra.env_file(D).read_text() == before
