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
from cattrs.gen import make_dict_structure_fn

from ccci.names import BadInput, Domain, RecipeName

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
    ingress: Ingress = Ingress.DOMAIN
    keep_runs: int = 50
    timeouts: Timeouts = Timeouts()
    recipes: dict[str, RecipeSettings] = attrs.Factory(dict)
    keycloak: KeycloakSettings | None = None

    def __attrs_post_init__(self) -> None:
        Domain.parse(self.base_domain)
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
    converter = cattrs.Converter(forbid_extra_keys=True)
    for cls in (Config, Timeouts, RecipeSettings, KeycloakSettings):
        converter.register_structure_hook(
            cls, make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)
        )
    return converter


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
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadConfig(f"no config file at {path} (set --config or CCCI_CONFIG)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise BadConfig(f"cannot read config {path}: {error}") from None
    return parse(data, str(path))


def dump(config: Config) -> str:
    return json.dumps(CONVERTER.unstructure(config), indent=2, sort_keys=True)
