"""The one config file every ccci executable reads (rendered by the NixOS module).

Loaded once at the edge with cattrs: unknown keys, wrong types and bad names
are errors that name the key. Typed values are passed down from here; nothing
below reads the environment or the file again. Secrets never live here.
"""

from __future__ import annotations

import enum
import json
import os
from pathlib import Path

import attrs
import cattrs

from ccci.pure import strict
from ccci.pure.names import BadInput, Domain, RecipeName

DEFAULT_PATH = Path("/etc/ccci/config.json")
KNOWN_NEEDS = {"keycloak"}


class BadConfig(BadInput):
    """The config file is missing, unreadable or does not fit the model."""


class Ingress(enum.Enum):
    """How ccci reaches an app over HTTP.

    domain: https://<domain>/ through the host's proxy (a real CI host).
    host-port: the host port the swarm published for the app's `app` service,
    with the domain as Host header (a test bed without a proxy or DNS).
    """

    DOMAIN = "domain"
    HOST_PORT = "host-port"


@attrs.frozen
class Timeouts:
    """Upper bounds, in seconds, on every wait a run makes."""

    converge: int = 300
    undeploy: int = 120
    http: int = 60
    abra: int = 900
    tests: int = 900
    lock: int = 3600


@attrs.frozen
class RecipeSettings:
    """One enrolled recipe (the Nix module's `enroll.<name>`).

    canonical: keep a warm canonical app for --quick and promote it after a
    green cold run on latest. needs: shared infrastructure the recipe's tests
    use, e.g. ["keycloak"] (a per-run realm on the warm Keycloak).
    """

    overlay_tests: str | None = None
    canonical: bool = False
    needs: list[str] = attrs.Factory(list)
    timeout: int = 3600


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
    service spec) when set lower. It must cover image pull and start too.
    samples: consecutive healthy polls (converged, and the HTTP probe
    answering) required at the end of the window. poll: seconds between
    polls. The probe GETs `path` and expects a status in `status` and, when
    set, `contains` in the body.
    """

    path: str = "/"
    status: list[int] = attrs.Factory(lambda: [200])
    contains: str | None = None
    window: int = 120
    samples: int = 3
    poll: float = 1.0


@attrs.frozen
class InfraApp:
    """One warm infrastructure app (the Nix module's `infra.<name>`).

    ccci-reconcile keeps it on the recipe's latest release behind the safety
    gate and the health gate. stateful: its volumes are snapshotted before an
    upgrade and restored on rollback; otherwise a rollback only redeploys.
    """

    recipe: str
    domain: str
    stateful: bool = False
    health: HealthSettings = HealthSettings()


@attrs.frozen
class AlertSettings:
    """An optional ntfy-compatible push for every alert ccci writes.

    The bearer token is read from `token_file` at push time, never stored
    here and never logged.
    """

    push_url: str
    token_file: str | None = None
    timeout: int = 10


def _check_infra(_instance: object, _attribute: object, value: dict[str, InfraApp]) -> None:
    for name, app in value.items():
        where = f"infra.{name}"
        try:
            RecipeName.parse(name)
            RecipeName.parse(app.recipe)
            Domain.parse(app.domain)
        except BadInput as error:
            raise BadConfig(f"{where}: {error}") from None
        health = app.health
        if not health.path.startswith("/"):
            raise BadConfig(f"{where}.health.path must start with '/'")
        if not health.status or not all(100 <= code <= 599 for code in health.status):
            raise BadConfig(f"{where}.health.status must list HTTP status codes (100-599)")
        if health.samples < 1 or health.window < 0 or health.poll <= 0:
            raise BadConfig(f"{where}.health: samples must be >= 1, window >= 0, poll > 0")


def _check_alerts(_instance: object, _attribute: object, value: AlertSettings | None) -> None:
    if value is not None and not value.push_url.startswith(("http://", "https://")):
        raise BadConfig(f"alerts.push_url {value.push_url!r} must be an http(s) URL")
    if value is not None and value.timeout < 1:
        raise BadConfig("alerts.timeout must be at least 1")


def _check_template(_instance: object, _attribute: object, value: str) -> None:
    if "{recipe}" not in value:
        raise BadConfig(f"recipe_source {value!r} must contain '{{recipe}}'")


@attrs.frozen
class Config:
    base_domain: str
    state_dir: str = "/var/lib/ccci"
    recipe_source: str = attrs.field(
        default="https://git.coopcloud.tech/coop-cloud/{recipe}.git",
        validator=_check_template,
    )
    server: str = "default"
    abra: str = "abra"
    # abra checks that an app's domain resolves to the server before deploying;
    # false passes -D (--no-domain-checks), for hosts whose domains do not
    # resolve (a test bed, a private network).
    domain_checks: bool = True
    ingress: Ingress = Ingress.DOMAIN
    keep_runs: int = 50
    timeouts: Timeouts = Timeouts()
    recipes: dict[str, RecipeSettings] = attrs.Factory(dict)
    keycloak: KeycloakSettings | None = None
    infra: dict[str, InfraApp] = attrs.field(factory=dict, validator=_check_infra)
    alerts: AlertSettings | None = attrs.field(default=None, validator=_check_alerts)
    # Resource safety: at most this many runs (cold, quick, promotion) at once,
    # and none may start with less free disk than this under state_dir.
    max_concurrent_runs: int = 2
    min_free_disk_mib: int = 2048

    def __attrs_post_init__(self) -> None:
        Domain.parse(self.base_domain)
        if self.max_concurrent_runs < 1:
            raise BadConfig("max_concurrent_runs must be at least 1")
        if self.min_free_disk_mib < 0:
            raise BadConfig("min_free_disk_mib must not be negative")
        for name, settings in self.recipes.items():
            RecipeName.parse(name)
            unknown = set(settings.needs) - KNOWN_NEEDS
            if unknown:
                raise BadConfig(
                    f"recipes.{name}.needs: unknown {sorted(unknown)}; known: {sorted(KNOWN_NEEDS)}"
                )
        if self.keep_runs < 1:
            raise BadConfig("keep_runs must be at least 1")

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


def _converter() -> cattrs.Converter:
    return strict.converter(
        (Config, Timeouts, RecipeSettings, KeycloakSettings, HealthSettings, InfraApp, AlertSettings)
    )


CONVERTER = _converter()


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _one_line(error: BaseException) -> str:
    """cattrs groups errors; the operator wants the first leaf, with its key."""
    if isinstance(error, cattrs.ClassValidationError):
        ours = [leaf for leaf in _leaves(error) if isinstance(leaf, BadInput)]
        if ours:
            return str(ours[0])
        notes = cattrs.transform_error(error)
        return notes[0] if notes else str(error)
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown key(s): {', '.join(sorted(error.extra_fields))}"
    return str(error)


def parse(data: object, source: str = "config") -> Config:
    try:
        return CONVERTER.structure(data, Config)
    except BadInput as error:
        raise BadConfig(f"{source}: {error}") from None
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as error:
        raise BadConfig(f"{source}: {_one_line(error)}") from None


def load(path: Path | None = None) -> Config:
    """Read the config from `path`, $CCCI_CONFIG, or /etc/ccci/config.json."""
    path = path or Path(os.environ.get("CCCI_CONFIG") or DEFAULT_PATH)
    data = strict.read_json(path, "config file", "set --config or CCCI_CONFIG", BadConfig)
    return parse(data, str(path))


def dump(config: Config) -> str:
    return json.dumps(CONVERTER.unstructure(config), indent=2, sort_keys=True)
