"""The one config file every ccci executable reads (rendered by the NixOS module).

The model: each setting is declared here once, with its type, its default and
(through its annotation) its bounds; `ccci.pure.strict` turns JSON into it and
refuses anything else in one line that names the key. The entry layer reads
the file (`ccci.entry.common.load_config`); typed values are passed down from
there and nothing below reads the environment or the file again. Secrets
never live here.
"""

from __future__ import annotations

import enum
import json
import re
from pathlib import Path
from typing import Annotated

import attrs

from ccci.pure import strict
from ccci.pure.names import Domain, RecipeName
from ccci.pure.strict import BadConfig, Count, HttpStatus, Interval, MiB, Seconds, SecondsOrZero

DEFAULT_PATH = Path("/etc/ccci/config.json")
KNOWN_NEEDS = {"keycloak"}


class Ingress(enum.Enum):
    """How ccci reaches an app over HTTP.

    domain: https://<domain>/ through the host's proxy (a real CI host).
    host-port: the host port the swarm published for the app's `app` service,
    with the domain as Host header (a test bed without a proxy or DNS).
    local-proxy: https://<domain>/ through the proxy listening on this host's
    loopback (127.0.0.1:443), with the domain as SNI and Host, whatever DNS
    says of it: production's path on a host whose domains no DNS knows (the
    test bed's front door), with no change to the host's resolver.
    """

    DOMAIN = "domain"
    HOST_PORT = "host-port"
    LOCAL_PROXY = "local-proxy"

    @property
    def proxy_address(self) -> str | None:
        """The address every app's HTTP(S) connects to whatever its domain resolves to, if fixed."""
        return "127.0.0.1" if self is Ingress.LOCAL_PROXY else None


def _recipe_name(value: str) -> None:
    RecipeName.parse(value)


def _http_path(value: str) -> None:
    if not value.startswith("/"):
        raise BadConfig(f"{value[:60]!r} must start with '/'")


def _http_url(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise BadConfig(f"{value[:60]!r} must be an http(s) URL")


def _template(value: str) -> None:
    if "{recipe}" not in value:
        raise BadConfig(f"{value[:80]!r} must contain '{{recipe}}'")


def _need(value: str) -> None:
    if value not in KNOWN_NEEDS:
        raise BadConfig(f"unknown need {value[:40]!r}; known: {sorted(KNOWN_NEEDS)}")


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
# What abra owns in an app's env: the recipe and version, and the app's domain.
ABRA_OWNED = frozenset({"TYPE", "RECIPE", "DOMAIN"})
# A value written into an app's env file: one line abra's dotenv reader takes
# as it is (no quotes, expansion, comment or escape to interpret), bounded.
_ENV_VALUE = re.compile(r"[A-Za-z0-9_./:@+,=%-]{0,1024}")
# A run's realm as its tests get it (ccci.capabilities.realms.RealmLease.env,
# in this order) and the values of it a recipe may have in its app's env
# (`sso_env`): all but the user's password.
SSO_ENV_KEYS = (
    "CCCI_KEYCLOAK_URL",
    "CCCI_KEYCLOAK_HOST",
    "CCCI_OIDC_REALM",
    "CCCI_OIDC_ISSUER",
    "CCCI_OIDC_DISCOVERY_URL",
    "CCCI_OIDC_TOKEN_URL",
    "CCCI_OIDC_CLIENT_ID",
    "CCCI_OIDC_CLIENT_SECRET",
    "CCCI_OIDC_USERNAME",
    "CCCI_OIDC_PASSWORD",
    "CCCI_OIDC_EMAIL",
)
SSO_VALUES = frozenset(SSO_ENV_KEYS) - {"CCCI_OIDC_PASSWORD"}


def _env_name(value: str) -> None:
    if not _ENV_NAME.fullmatch(value):
        raise BadConfig(f"{value[:40]!r} is not an env variable name (A-Z, 0-9, _; 64 at most)")
    if value in ABRA_OWNED:
        raise BadConfig(f"{value} is abra's to set, not the config's")


def check_env_value(value: str) -> None:
    if not _ENV_VALUE.fullmatch(value):
        raise BadConfig(f"{value[:40]!r}: an env value may use A-Z a-z 0-9 and _./:@+,=%- only (1024 at most)")


def _sso_value(value: str) -> None:
    if value not in SSO_VALUES:
        raise BadConfig(f"unknown realm value {value[:40]!r}; known: {sorted(SSO_VALUES)}")


RecipeKey = Annotated[str, strict.Check(_recipe_name)]
EnvName = Annotated[str, strict.Check(_env_name)]
DomainName = Annotated[str, strict.Check(Domain.parse)]


@attrs.frozen
class Timeouts:
    """Upper bounds, in seconds, on every wait a run makes."""

    converge: Seconds = 300
    undeploy: Seconds = 120
    http: Seconds = 60
    abra: Seconds = 900
    tests: Seconds = 900
    lock: Seconds = 3600
    engine_back: Seconds = 120  # teardown waits this long for a Docker engine that went away


@attrs.frozen
class RecipeSettings:
    """One enrolled recipe (the Nix module's `enroll.<name>`).

    canonical: keep a warm canonical app for --quick and promote it after a
    green cold run on latest. needs: shared infrastructure the recipe's tests
    use, e.g. ["keycloak"] (a per-run realm on the warm Keycloak).
    env: values ccci writes into the app's env file before every deploy, as an
    operator edits it (e.g. COMPOSE_FILE to switch on a recipe's overlay).
    sso_env: app env variables that get the run's realm values (e.g.
    OIDC_ISSUER: CCCI_OIDC_ISSUER), written the same way; needs "keycloak".
    """

    overlay_tests: str | None = None
    canonical: bool = False
    needs: list[Annotated[str, strict.Check(_need)]] = attrs.Factory(list)
    timeout: Seconds = 3600
    env: dict[EnvName, Annotated[str, strict.Check(check_env_value)]] = attrs.Factory(dict)
    sso_env: dict[EnvName, Annotated[str, strict.Check(_sso_value)]] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        if self.sso_env and "keycloak" not in self.needs:
            raise BadConfig('sso_env needs "keycloak" in needs (the realm its values come from)')
        both = sorted(set(self.env) & set(self.sso_env))
        if both:
            raise BadConfig(f"{both[0]} is set by both env and sso_env")


@attrs.frozen
class KeycloakSettings:
    """The warm Keycloak that per-run realms live on. The admin password is
    read from `admin_password_file` when needed, never stored here."""

    url: str
    admin_password_file: str
    admin_user: str = "admin"
    verify_tls: bool = True


@attrs.frozen
class HealthSettings:
    """How ccci-reconcile's health gate judges a freshly deployed release.

    window: seconds the release is watched after its deploy; raised to the
    slowest service's start_period + interval x retries (read from the
    service spec) when set lower, so 0 means exactly that. It must cover
    image pull and start too. samples: consecutive healthy polls (converged,
    and the HTTP probe answering) required at the end of the window. poll:
    seconds between polls. The probe GETs `path` and expects a status in
    `status` and, when set, `contains` in the body.
    """

    path: Annotated[str, strict.Check(_http_path)] = "/"
    status: list[HttpStatus] = attrs.Factory(lambda: [200])
    contains: str | None = None
    window: SecondsOrZero = 120
    samples: Count = 3
    poll: Interval = 1.0

    def __attrs_post_init__(self) -> None:
        if not self.status:
            raise BadConfig("status: list at least one HTTP status code")


@attrs.frozen
class InfraApp:
    """One warm infrastructure app (the Nix module's `infra.<name>`).

    ccci-reconcile keeps it on the recipe's latest release behind the safety
    gate and the health gate. stateful: its volumes are snapshotted before an
    upgrade and restored on rollback; otherwise a rollback only redeploys.
    """

    recipe: RecipeKey
    domain: DomainName
    stateful: bool = False
    health: HealthSettings = HealthSettings()


@attrs.frozen
class AlertSettings:
    """An optional ntfy-compatible push for every alert ccci writes.

    The bearer token is read from `token_file` at push time, never stored
    here and never logged.
    """

    push_url: Annotated[str, strict.Check(_http_url)]
    token_file: str | None = None
    timeout: Seconds = 10


def _absolute_path(value: str) -> None:
    if not value.startswith("/"):
        raise BadConfig(f"{value[:60]!r} must be an absolute path")


@attrs.frozen
class StatusPageSettings:
    """The operator's status page (ccci-status, docs/status.md).

    dir: the path the site appears at (a symlink ccci-status swaps to each new
    render). base_url: where `dir` is served, for links to a run's page.
    runs_per_recipe: how many of each recipe's latest runs are shown.
    """

    dir: Annotated[str, strict.Check(_absolute_path)]
    base_url: Annotated[str, strict.Check(_http_url)] | None = None
    runs_per_recipe: Count = 10


@attrs.frozen
class Config:
    base_domain: DomainName
    state_dir: str = "/var/lib/ccci"
    recipe_source: Annotated[str, strict.Check(_template)] = (
        "https://git.coopcloud.tech/coop-cloud/{recipe}.git"
    )
    server: str = "default"
    abra: str = "abra"
    # abra checks that an app's domain resolves to the server before deploying;
    # false passes -D (--no-domain-checks), for hosts whose domains do not
    # resolve (a test bed, a private network).
    domain_checks: bool = True
    ingress: Ingress = Ingress.DOMAIN
    # A PEM file of the CAs that apps' HTTPS (ccci's probes and the tests it
    # runs) is verified against instead of the system's trust store, e.g. a
    # test bed's own CA. Verification is never switched off.
    ca_certificates: Annotated[str, strict.Check(_absolute_path)] | None = None
    keep_runs: Count = 50
    timeouts: Timeouts = Timeouts()
    recipes: dict[RecipeKey, RecipeSettings] = attrs.Factory(dict)
    keycloak: KeycloakSettings | None = None
    infra: dict[RecipeKey, InfraApp] = attrs.Factory(dict)
    alerts: AlertSettings | None = None
    # Resource safety: at most this many runs (cold, quick, promotion) at once,
    # and none may start with less free disk than this under state_dir.
    max_concurrent_runs: Count = 2
    min_free_disk_mib: MiB = 2048
    status_page: StatusPageSettings | None = None

    @property
    def domain(self) -> Domain:
        return Domain.parse(self.base_domain)

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    def recipe_url(self, recipe: RecipeName) -> str:
        return self.recipe_source.replace("{recipe}", recipe.value)

    def settings_for(self, recipe: RecipeName) -> RecipeSettings:
        return self.recipes.get(recipe.value, RecipeSettings())

    def enrolled(self, recipe: RecipeName) -> bool:
        return recipe.value in self.recipes


MODELS = (Config, Timeouts, RecipeSettings, KeycloakSettings, HealthSettings, InfraApp, AlertSettings,
          StatusPageSettings)
CONVERTER = strict.converter(MODELS)


def parse(data: object, source: str = "config") -> Config:
    """The config in `data` (decoded JSON), or BadConfig naming the key."""
    return strict.structure(data, Config, CONVERTER, source)


def dump(config: Config) -> str:
    return json.dumps(CONVERTER.unstructure(config), indent=2, sort_keys=True)
