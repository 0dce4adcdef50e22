"""Per-run realms on the warm Keycloak: lease one for a run, reap the orphans.

A run of a recipe that needs SSO leases the realm `<recipe>-<runid>` (one
OIDC client, one test user, fresh random credentials) for as long as its
tests need it. Invariants:

* Names are validated (`RealmName`, built on ccci.pure.names) before any call, so
  a hostile or over-long recipe or run id never reaches Keycloak.
* A lease deletes its realm on every way out of its `with` block: normal
  exit, an exception, SIGINT, and SIGTERM (when nobody else handles SIGTERM,
  the lease turns it into `SystemExit(143)` for the block's duration, and the
  deletion itself runs with SIGINT/SIGTERM held).
* A lease never deletes a realm it did not create (a name clash, HTTP 409,
  is an error, not a takeover).
* ccci marks its realms with realm attributes (`ccci.managed-by=ccci`,
  `ccci.recipe`, `ccci.run`, `ccci.created`); `reap` deletes only realms whose
  name has the per-run form, whose mark agrees with that name, whose run is
  not live and which are older than a grace period. `master` and anything
  unmarked are never touched.
* No credential appears in a log line, an exception or a repr; the lease's
  `env()` is the one place the test user's and client's secrets are handed out.
"""

from __future__ import annotations

import logging
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from ccci.capabilities.signals import signals_deferred
from ccci.pure.config import SSO_ENV_KEYS, Config, KeycloakSettings
from ccci.seams.keycloak import Keycloak, KeycloakError
from ccci.pure.names import BadInput, RecipeName, RunId

log = logging.getLogger("ccci")

MARK = "ccci.managed-by"
MARK_VALUE = "ccci"
ATTR_RECIPE = "ccci.recipe"
ATTR_RUN = "ccci.run"
ATTR_CREATED = "ccci.created"
USERNAME = "ccci-user"
REAP_GRACE_SECONDS = 300.0

# Handed to the recipe's tests (declared in ccci.pure.config, whose
# `sso_env` names them). The two secret ones must never be recorded.
ENV_KEYS = SSO_ENV_KEYS
SECRET_ENV_KEYS = frozenset({"CCCI_OIDC_CLIENT_SECRET", "CCCI_OIDC_PASSWORD"})

_SHAPE = re.compile(r"[a-z0-9-]{3,71}")


class RealmError(Exception):
    """A realm could not be created, used or deleted. Names no credential."""


class KeycloakUnavailable(RealmError):
    """The warm Keycloak is unreachable or refuses ccci's admin login."""


@attrs.frozen
class RealmName:
    """`<recipe>-<runid>`: the realm of one run of one recipe (at most 71 chars)."""

    recipe: RecipeName
    run: RunId

    @classmethod
    def of(cls, recipe: RecipeName | str, run: RunId | str) -> RealmName:
        recipe = recipe if isinstance(recipe, RecipeName) else RecipeName.parse(recipe)
        run = run if isinstance(run, RunId) else RunId.parse(run)
        # Re-check values that were built without parse().
        return cls(RecipeName.parse(recipe.value), RunId.parse(run.value))

    @classmethod
    def parse(cls, value: str) -> RealmName:
        """A realm name back into recipe and run; BadInput if it is not one of ours."""
        if not _SHAPE.fullmatch(value) or "-" not in value:
            raise BadInput(f"not a per-run realm name: {value[:80]!r}")
        recipe, run = value.rsplit("-", 1)
        return cls.of(recipe, run)

    @property
    def value(self) -> str:
        return f"{self.recipe.value}-{self.run.value}"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class RealmLease:
    """What a run's tests get: where the realm is and how to log in to it."""

    realm: RealmName
    keycloak_url: str
    issuer: str
    discovery_url: str
    token_url: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    username: str = USERNAME
    password: str = attrs.field(default="", repr=False)
    email: str = ""

    def env(self) -> dict[str, str]:
        """The environment contract for the recipe's tests (see docs/sso.md)."""
        return {
            "CCCI_KEYCLOAK_URL": self.keycloak_url,
            "CCCI_KEYCLOAK_HOST": urllib.parse.urlsplit(self.keycloak_url).hostname or "",
            "CCCI_OIDC_REALM": self.realm.value,
            "CCCI_OIDC_ISSUER": self.issuer,
            "CCCI_OIDC_DISCOVERY_URL": self.discovery_url,
            "CCCI_OIDC_TOKEN_URL": self.token_url,
            "CCCI_OIDC_CLIENT_ID": self.client_id,
            "CCCI_OIDC_CLIENT_SECRET": self.client_secret,
            "CCCI_OIDC_USERNAME": self.username,
            "CCCI_OIDC_PASSWORD": self.password,
            "CCCI_OIDC_EMAIL": self.email,
        }

    def secrets(self) -> frozenset[str]:
        """Values to withhold wherever output is recorded."""
        return frozenset({self.client_secret, self.password})


def representation(
    name: RealmName, client_secret: str, password: str, created: float
) -> dict[str, Any]:
    """The realm, its client and its user, created by one admin call."""
    return {
        "realm": name.value,
        "displayName": f"ccci run {name.run} of {name.recipe}",
        "enabled": True,
        # A throwaway realm with random credentials, also reached over plain
        # HTTP on a test bed or from the swarm's networks.
        "sslRequired": "none",
        "attributes": {
            MARK: MARK_VALUE,
            ATTR_RECIPE: name.recipe.value,
            ATTR_RUN: name.run.value,
            ATTR_CREATED: str(int(created)),
        },
        "clients": [
            {
                "clientId": name.recipe.value,
                "name": f"{name.recipe} (ccci run {name.run})",
                "protocol": "openid-connect",
                "enabled": True,
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": client_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "redirectUris": ["*"],
                "webOrigins": ["+"],
            }
        ],
        "users": [
            {
                "username": USERNAME,
                "enabled": True,
                "email": _email(name),
                "emailVerified": True,
                "firstName": "ccci",
                "lastName": "test user",
                "requiredActions": [],
                "credentials": [{"type": "password", "value": password, "temporary": False}],
            }
        ],
    }


def _email(name: RealmName) -> str:
    return f"{USERNAME}@{name.value}.ccci.invalid"


def owned(realm: dict[str, Any]) -> RealmName | None:
    """The realm's name if ccci created it for a run (name form and mark agree)."""
    try:
        name = RealmName.parse(str(realm.get("realm", "")))
    except BadInput:
        return None
    attributes = realm.get("attributes") or {}
    if (
        attributes.get(MARK) == MARK_VALUE
        and attributes.get(ATTR_RECIPE) == name.recipe.value
        and attributes.get(ATTR_RUN) == name.run.value
    ):
        return name
    return None


# -- signals -----------------------------------------------------------------------


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM unwind the stack (so `finally` runs) if nothing else does.

    A job that already handles SIGTERM (the cold run turns it into its own
    exception) keeps its handler. Only the main thread can set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # A handler a job installed meanwhile stays; only ours is undone.
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous)


# -- the API -------------------------------------------------------------------------


def _server(settings: KeycloakSettings, server: Keycloak | None) -> Keycloak:
    if server is not None:
        return server
    try:
        return Keycloak(settings)
    except KeycloakError as error:
        raise KeycloakUnavailable(f"warm Keycloak: {error}") from None


def server_for(config: Config) -> Keycloak:
    """The config's warm Keycloak, reached as its apps are: under ingress
    `local-proxy`, names under the base domain connect to the proxy, and TLS
    is verified against `ca_certificates` when the config names it."""
    if config.keycloak is None:
        raise KeycloakUnavailable("the config has no keycloak section")
    try:
        return Keycloak(config.keycloak, connect_to=config.ingress.proxy_address, domains=(config.domain.value,),
                        ca_file=config.ca_certificates)
    except KeycloakError as error:
        raise KeycloakUnavailable(f"warm Keycloak: {error}") from None


def preflight(settings: KeycloakSettings, *, server: Keycloak | None = None) -> None:
    """Fail fast, with one clear line, unless the warm Keycloak answers and
    accepts ccci's admin login. Creates nothing."""
    server = _server(settings, server)
    hint = "is it running? (test bed: tests/bed/keycloak/start)"
    try:
        server.discovery("master")
    except KeycloakError as error:
        raise KeycloakUnavailable(
            f"the warm Keycloak at {server.url} does not answer ({error}); {hint}"
        ) from None
    try:
        server.check_admin()
    except KeycloakError as error:
        raise KeycloakUnavailable(
            f"the warm Keycloak at {server.url} refused the admin login of "
            f"{settings.admin_user!r} with the password in {settings.admin_password_file} ({error})"
        ) from None


@contextmanager
def lease(
    settings: KeycloakSettings,
    recipe: RecipeName | str,
    run: RunId | str,
    *,
    server: Keycloak | None = None,
) -> Iterator[RealmLease]:
    """Create the run's realm, yield how to use it, delete it on the way out.

    Raises BadInput for a bad recipe or run id (before any call),
    KeycloakUnavailable when the admin password file cannot be read, and
    RealmError when Keycloak refuses; a realm that cannot be deleted on the
    way out raises RealmError too (unless the block already raised), and is
    left for `reap`.
    """
    name = RealmName.of(recipe, run)
    server = _server(settings, server)
    client_secret = secrets.token_urlsafe(24)
    password = secrets.token_urlsafe(24)
    server.remember_secret(client_secret)
    server.remember_secret(password)
    with _sigterm_unwinds():
        ours = False  # True once the realm may exist because of this lease
        try:
            try:
                ours = True
                held = _create(server, name, client_secret, password)
            except _NameTaken:
                ours = False
                raise
            log.info("realm %s: created on %s", name, server.url)
            yield held
        finally:
            if ours:
                with signals_deferred():
                    _release(server, name, failing=sys.exc_info()[0] is not None)


class _NameTaken(RealmError):
    pass


def _create(server: Keycloak, name: RealmName, client_secret: str, password: str) -> RealmLease:
    try:
        server.create_realm(representation(name, client_secret, password, time.time()))
    except KeycloakError as error:
        if error.status == 409:
            raise _NameTaken(
                f"realm {name} already exists on {server.url}: another lease of run "
                f"{name.run} holds it"
            ) from None
        raise RealmError(str(error)) from None
    try:
        document = server.discovery(name.value)
    except KeycloakError as error:
        raise RealmError(str(error)) from None
    return RealmLease(
        realm=name,
        keycloak_url=server.url,
        issuer=document["issuer"],
        discovery_url=f"{document['issuer']}/.well-known/openid-configuration",
        token_url=document["token_endpoint"],
        client_id=name.recipe.value,
        client_secret=client_secret,
        username=USERNAME,
        password=password,
        email=_email(name),
    )


def _release(server: Keycloak, name: RealmName, *, failing: bool) -> None:
    try:
        server.delete_realm(name.value)
        if server.realm(name.value) is not None:
            raise KeycloakError(f"realm {name} is still there after its deletion")
        log.info("realm %s: deleted", name)
    except KeycloakError as error:
        log.warning("realm %s: not deleted (%s); `reap` will delete it", name, error)
        if not failing:
            raise RealmError(f"realm {name} could not be deleted: {error}") from None


def reap(
    settings: KeycloakSettings,
    live_run_ids: Iterable[str | RunId],
    *,
    grace_seconds: float = REAP_GRACE_SECONDS,
    server: Keycloak | None = None,
) -> list[str]:
    """Delete ccci's per-run realms whose run is not live; return their names.

    Kept: `master`, every realm without ccci's mark (or whose mark disagrees
    with its name), realms of live runs, and realms younger than
    `grace_seconds` (a run that created its realm after the caller listed
    the live runs). Safe to run while runs are in flight.
    """
    live = {run.value if isinstance(run, RunId) else RunId.parse(run).value for run in live_run_ids}
    server = _server(settings, server)
    now = time.time()
    deleted: list[str] = []
    try:
        for realm in server.realms():
            name = owned(realm)
            if name is None:
                continue
            if name.run.value in live:
                log.info("reap: keeping %s (run %s is live)", name, name.run)
                continue
            created = _created(realm)
            if created is not None and now - created < grace_seconds:
                log.info("reap: keeping %s (created %.0fs ago)", name, now - created)
                continue
            if server.delete_realm(name.value):
                log.info("reap: deleted %s", name)
                deleted.append(name.value)
    except KeycloakError as error:
        raise RealmError(f"reap: {error}") from None
    return deleted


def _created(realm: dict[str, Any]) -> float | None:
    try:
        return float((realm.get("attributes") or {})[ATTR_CREATED])
    except (KeyError, TypeError, ValueError):
        return None
