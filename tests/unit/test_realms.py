"""Per-run realms without a server: names, the mark, reaping decisions, the
lease's exits, and redaction. Only the one HTTP seam (ccci.seams.keycloak.Keycloak)
is replaced, by a recorder that keeps realms in a dict."""

from __future__ import annotations

import logging
import time
from typing import Any

import keycloak.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities import realms
from ccci.pure.config import KeycloakSettings
from ccci.seams.keycloak import Keycloak, KeycloakError, read_password, redact
from ccci.pure.names import BadInput, RecipeName, RunId

SETTINGS = KeycloakSettings(url="http://127.0.0.1:1", admin_password_file="/nonexistent/pw")
ADMIN_PASSWORD = "admin-pw-MARKER-7f3a"


class RecordingSeam:
    """Stands in for ccci.seams.keycloak.Keycloak: same methods, no HTTP."""

    url = "http://kc.invalid"

    def __init__(self, realms_: list[dict[str, Any]] | None = None):
        self.calls: list[tuple[str, ...]] = []
        self.store = {r["realm"]: r for r in (realms_ or [{"realm": "master"}])}
        self.fail_create: int | None = None
        self.fail_delete = False
        self.secrets: set[str] = set()

    def remember_secret(self, value: str) -> None:
        self.secrets.add(value)

    def create_realm(self, rep: dict[str, Any]) -> None:
        self.calls.append(("create", rep["realm"]))
        if self.fail_create:
            if self.fail_create == 500:  # created, then the answer was lost
                self.store[rep["realm"]] = rep
            raise KeycloakError(f"create realm {rep['realm']}: HTTP {self.fail_create}", self.fail_create)
        if rep["realm"] in self.store:
            raise KeycloakError("exists", 409)
        self.store[rep["realm"]] = rep

    def discovery(self, realm: str) -> dict[str, Any]:
        self.calls.append(("discovery", realm))
        issuer = f"{self.url}/realms/{realm}"
        return {"issuer": issuer, "token_endpoint": f"{issuer}/protocol/openid-connect/token"}

    def check_admin(self) -> None:
        self.calls.append(("check_admin",))

    def realms(self) -> list[dict[str, Any]]:
        self.calls.append(("realms",))
        return list(self.store.values())

    def realm(self, name: str) -> dict[str, Any] | None:
        self.calls.append(("realm", name))
        return self.store.get(name)

    def delete_realm(self, name: str) -> bool:
        self.calls.append(("delete", name))
        if self.fail_delete:
            raise KeycloakError(f"delete realm {name}: HTTP 503", 503)
        return self.store.pop(name, None) is not None


recipes = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True)
runs = st.from_regex(r"[0-9a-f]{6}", fullmatch=True)

HOSTILE_RECIPES = [
    "", "-fx", "fx-", "FX", "fx sso", "fx/../../admin", "../master", "fx%2fmaster",
    "fx\nsso", "fx;rm", "fx_sso", "a" * 65, "fx.sso", "fx-sso\x00", "ｆｘ",
]
HOSTILE_RUNS = ["", "abc12", "abc1234", "ABC123", "abc12g", "../abc", "abc 12", "0x1234", "master"]


# -- names ----------------------------------------------------------------------


@given(recipes, runs)
def test_realm_names_round_trip(recipe, run):
    name = realms.RealmName.of(recipe, run)
    assert name.value == f"{recipe}-{run}" and len(name.value) <= 71
    assert realms.RealmName.parse(name.value) == name


@pytest.mark.parametrize("recipe", HOSTILE_RECIPES)
def test_hostile_recipe_is_refused_before_any_call(recipe):
    seam = RecordingSeam()
    with pytest.raises(BadInput):
        with realms.lease(SETTINGS, recipe, "abc123", server=seam):
            pass
    assert seam.calls == []


@pytest.mark.parametrize("run", HOSTILE_RUNS)
def test_hostile_run_id_is_refused_before_any_call(run):
    seam = RecordingSeam()
    with pytest.raises(BadInput):
        with realms.lease(SETTINGS, "fx-sso", run, server=seam):
            pass
    assert seam.calls == []


@given(st.text(max_size=100), st.text(max_size=10))
def test_any_refused_input_makes_no_call(recipe, run):
    seam = RecordingSeam()
    try:
        name = realms.RealmName.of(recipe, run)
    except BadInput:
        with pytest.raises(BadInput):
            with realms.lease(SETTINGS, recipe, run, server=seam):
                pass
        assert seam.calls == []
    else:
        assert name.value == f"{recipe}-{run}"


def test_a_recipe_called_master_never_names_the_master_realm():
    assert realms.RealmName.of("master", "abc123").value == "master-abc123"


def test_hand_built_names_are_checked_too():
    # attrs values built without parse() must not slip through.
    with pytest.raises(BadInput):
        realms.RealmName.of(RecipeName("../master"), RunId("abc123"))
    with pytest.raises(BadInput):
        realms.RealmName.of(RecipeName("fx"), RunId("x" * 80))


@pytest.mark.parametrize("value", ["master", "fx", "fx-abc12", "fx-ABC123", "-abc123", "a" * 65 + "-abc123"])
def test_not_per_run_realm_names(value):
    with pytest.raises(BadInput):
        realms.RealmName.parse(value)


# -- the mark and reaping ---------------------------------------------------------


def marked(name: str, *, created: float | None = None, **override: str) -> dict[str, Any]:
    recipe, run = name.rsplit("-", 1)
    attributes = {
        realms.MARK: realms.MARK_VALUE,
        realms.ATTR_RECIPE: recipe,
        realms.ATTR_RUN: run,
        realms.ATTR_CREATED: str(int(created if created is not None else time.time() - 3600)),
    }
    attributes.update(override)
    return {"realm": name, "attributes": attributes}


def test_reap_deletes_only_marked_orphans_of_dead_runs():
    seam = RecordingSeam([
        {"realm": "master", "attributes": {}},
        {"realm": "fx-sso-aaaaaa", "attributes": {}},  # per-run shape, but not ccci's
        {"realm": "company-sso"},
        marked("fx-sso-111111"),  # live
        marked("fx-sso-222222"),  # orphan
        marked("other-333333"),  # orphan of another recipe
        marked("fx-sso-444444", created=time.time()),  # orphan, but too young
        marked("fx-sso-555555", **{realms.ATTR_RUN: "666666"}),  # mark disagrees with name
        marked("fx-sso-777777", **{realms.MARK: "someone-else"}),
    ])
    deleted = realms.reap(SETTINGS, {"111111"}, server=seam)
    assert sorted(deleted) == ["fx-sso-222222", "other-333333"]
    assert sorted(seam.store) == [
        "company-sso", "fx-sso-111111", "fx-sso-444444", "fx-sso-555555",
        "fx-sso-777777", "fx-sso-aaaaaa", "master",
    ]
    assert [c for c in seam.calls if c[0] == "delete"] == [
        ("delete", "fx-sso-222222"), ("delete", "other-333333"),
    ]


def test_reap_with_no_grace_takes_young_orphans():
    seam = RecordingSeam([marked("fx-sso-444444", created=time.time())])
    assert realms.reap(SETTINGS, [], grace_seconds=0, server=seam) == ["fx-sso-444444"]


def test_reap_refuses_a_malformed_live_run_id_before_any_call():
    seam = RecordingSeam([marked("fx-sso-222222")])
    with pytest.raises(BadInput):
        realms.reap(SETTINGS, {"../x"}, server=seam)
    assert seam.calls == []


# -- the lease's exits ---------------------------------------------------------------


def test_lease_creates_marks_and_deletes_on_normal_exit():
    seam = RecordingSeam()
    with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam) as held:
        rep = seam.store["fx-sso-abc123"]
        assert realms.owned(rep) == held.realm
        user = rep["users"][0]
        assert user["credentials"][0] == {"type": "password", "value": held.password, "temporary": False}
        assert rep["clients"][0]["secret"] == held.client_secret
        assert rep["clients"][0]["directAccessGrantsEnabled"] is True
        assert held.secrets() <= seam.secrets
    assert "fx-sso-abc123" not in seam.store
    assert seam.calls[-2:] == [("delete", "fx-sso-abc123"), ("realm", "fx-sso-abc123")]


def test_lease_deletes_when_the_block_raises():
    seam = RecordingSeam()
    with pytest.raises(RuntimeError, match="red"):
        with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
            raise RuntimeError("red run")
    assert "fx-sso-abc123" not in seam.store


def test_lease_deletes_when_creation_answer_was_lost():
    seam = RecordingSeam()
    seam.fail_create = 500
    with pytest.raises(realms.RealmError, match="HTTP 500"):
        with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
            pass
    assert "fx-sso-abc123" not in seam.store


def test_lease_never_deletes_a_realm_it_did_not_create():
    seam = RecordingSeam([{"realm": "master"}, marked("fx-sso-abc123")])
    with pytest.raises(realms.RealmError, match="already exists"):
        with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
            pass
    assert "fx-sso-abc123" in seam.store
    assert ("delete", "fx-sso-abc123") not in seam.calls


def test_failed_delete_is_an_error_after_a_good_block():
    seam = RecordingSeam()
    seam.fail_delete = True
    with pytest.raises(realms.RealmError, match="could not be deleted"):
        with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
            pass


def test_failed_delete_does_not_hide_the_blocks_own_error(caplog):
    seam = RecordingSeam()
    seam.fail_delete = True
    with pytest.raises(RuntimeError, match="original"):
        with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
            raise RuntimeError("original")
    assert "reap" in caplog.text


def test_lease_leaves_sigterm_as_it_found_it():
    import signal

    seam = RecordingSeam()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam):
        assert callable(signal.getsignal(signal.SIGTERM))  # ours, while the realm lives
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def job_handler(signum, frame):
        raise RuntimeError("job")

    try:  # a job that installs its own handler after the lease keeps it
        with realms.lease(SETTINGS, "fx-sso", "abc124", server=seam):
            signal.signal(signal.SIGTERM, job_handler)
        assert signal.getsignal(signal.SIGTERM) is job_handler
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# -- the env contract and secrets ------------------------------------------------------


def test_env_contract_and_no_secret_in_repr():
    seam = RecordingSeam()
    with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam) as held:
        env = held.env()
        shown = repr(held)
    assert tuple(env) == realms.ENV_KEYS
    assert env["CCCI_OIDC_REALM"] == "fx-sso-abc123"
    assert env["CCCI_OIDC_ISSUER"] == "http://kc.invalid/realms/fx-sso-abc123"
    assert env["CCCI_OIDC_DISCOVERY_URL"] == env["CCCI_OIDC_ISSUER"] + "/.well-known/openid-configuration"
    assert env["CCCI_OIDC_CLIENT_ID"] == "fx-sso"
    assert {env[k] for k in realms.SECRET_ENV_KEYS} == held.secrets()
    assert held.password != held.client_secret and len(held.password) >= 24
    for secret in held.secrets():
        assert secret not in shown


def test_two_leases_get_fresh_credentials():
    seam = RecordingSeam()
    with realms.lease(SETTINGS, "fx-sso", "aaaaaa", server=seam) as one:
        with realms.lease(SETTINGS, "fx-sso", "bbbbbb", server=seam) as two:
            assert one.realm != two.realm
            assert one.secrets().isdisjoint(two.secrets())


def test_seam_errors_are_redacted_and_unchained():
    seam = Keycloak(SETTINGS, password=ADMIN_PASSWORD)
    seam.remember_secret("client-secret-MARKER")
    body = f'{{"error":"x","echo":"{ADMIN_PASSWORD} client-secret-MARKER"}}'.encode()
    with pytest.raises(KeycloakError) as caught:
        with seam._call("create realm fx-sso-abc123"):
            raise keycloak.exceptions.KeycloakPostError(error_message=body, response_code=400)
    text = str(caught.value)
    assert ADMIN_PASSWORD not in text and "client-secret-MARKER" not in text
    assert "HTTP 400" in text and caught.value.status == 400
    assert caught.value.__suppress_context__
    assert ADMIN_PASSWORD not in repr(seam)


def test_redact_longest_first():
    assert redact("abc abcdef", ["abc", "abcdef", ""]) == "*** ***"


def test_password_file_errors_name_the_path_not_the_content(tmp_path):
    with pytest.raises(KeycloakError, match="/nonexistent/pw"):
        read_password("/nonexistent/pw")
    empty = tmp_path / "pw"
    empty.write_text("\n")
    with pytest.raises(KeycloakError, match="empty"):
        read_password(str(empty))
    empty.write_text(f"{ADMIN_PASSWORD}\n")
    assert read_password(str(empty)) == ADMIN_PASSWORD


def test_missing_password_file_is_unavailable_not_a_crash():
    with pytest.raises(realms.KeycloakUnavailable, match="password file /nonexistent/pw"):
        realms.preflight(SETTINGS)


def test_lease_logs_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    seam = RecordingSeam()
    with realms.lease(SETTINGS, "fx-sso", "abc123", server=seam) as held:
        secrets_ = held.secrets()
    assert "fx-sso-abc123" in caplog.text
    for secret in secrets_:
        assert secret not in caplog.text
