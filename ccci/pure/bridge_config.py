"""The bridge's own config file (default /etc/ccci/bridge.json) and its secrets.

Loaded once at the edge with cattrs, unknown keys rejected, like
`ccci.pure.config`. Secrets (forge token, webhook secret, Drone token) are read
from files named here, never stored in the JSON; their values never appear
in a log line, a repr or an exception.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from pathlib import Path

import attrs
import cattrs

from ccci.pure import strict
from ccci.pure.config import BadConfig, _one_line
from ccci.pure.names import BadInput, RecipeName

DEFAULT_PATH = Path("/etc/ccci/bridge.json")

# owner/name as Gitea and Forgejo allow them (letters, digits, - _ .).
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_LOGIN = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class ForgeKind(enum.Enum):
    GITEA = "gitea"
    FORGEJO = "forgejo"


def _url(_instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise BadConfig(f"{attribute.name} {value!r}: expected an http(s) URL without query")


def _repo_name(_instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not _REPO.fullmatch(value) or ".." in value:
        raise BadConfig(f"{attribute.name} {value!r}: expected owner/name")


@attrs.frozen
class ForgeSettings:
    """The Gitea or Forgejo instance the pull requests live on."""

    kind: ForgeKind
    url: str = attrs.field(validator=_url)
    token_file: str
    webhook_secret_file: str


@attrs.frozen
class DroneSettings:
    """The Drone repository whose pipeline runs ccci with RECIPE, REF and MODE."""

    url: str = attrs.field(validator=_url)
    token_file: str
    repo: str = attrs.field(validator=_repo_name)
    branch: str = "main"


@attrs.frozen
class BridgeConfig:
    forge: ForgeSettings
    drone: DroneSettings
    # forge repository (owner/name) -> the recipe its pull requests change
    repos: dict[str, str]
    listen_address: str = "127.0.0.1"
    listen_port: int = 8787
    # When set, only these forge logins may trigger, and the forge is not
    # asked; when absent, repository collaborators and org members may.
    allowlist: list[str] | None = None
    state_dir: str = "/var/lib/ccci/bridge"
    poll_interval: float = 60.0
    max_body_bytes: int = 1 << 20
    http_timeout: float = 10.0

    def __attrs_post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.listen_address)
        except ValueError:
            raise BadConfig(f"listen_address {self.listen_address!r}: expected an IP address") from None
        if not 0 <= self.listen_port <= 65535:
            raise BadConfig(f"listen_port {self.listen_port}: expected 0-65535")
        if not self.repos:
            raise BadConfig("repos: name at least one forge repository (owner/name -> recipe)")
        for repo, recipe in self.repos.items():
            if not _REPO.fullmatch(repo) or ".." in repo:
                raise BadConfig(f"repos: {repo!r} is not owner/name")
            RecipeName.parse(recipe)
        lowered = [repo.lower() for repo in self.repos]
        if len(set(lowered)) != len(lowered):
            raise BadConfig("repos: a repository is named twice (names are case-insensitive)")
        for login in self.allowlist or []:
            if not _LOGIN.fullmatch(login):
                raise BadConfig(f"allowlist: {login!r} is not a forge login")
        if self.poll_interval <= 0:
            raise BadConfig("poll_interval must be positive")
        if self.max_body_bytes < 1024:
            raise BadConfig("max_body_bytes must be at least 1024")
        if self.http_timeout <= 0:
            raise BadConfig("http_timeout must be positive")

    def recipe_for(self, repo: str) -> RecipeName | None:
        for name, recipe in self.repos.items():
            if name.lower() == repo.lower():
                return RecipeName.parse(recipe)
        return None

    @property
    def state(self) -> Path:
        return Path(self.state_dir)


@attrs.frozen
class Secret:
    """A value read from a secret file; its repr never shows it."""

    value: str = attrs.field(repr=False)

    @classmethod
    def read(cls, path: str, what: str) -> Secret:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise BadConfig(f"{what} {path}: cannot read it ({error.strerror})") from None
        value = text.strip()
        if not value or "\n" in value:
            raise BadConfig(f"{what} {path}: expected one non-empty line")
        return cls(value)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"


@attrs.frozen
class Secrets:
    forge_token: Secret
    webhook_secret: Secret
    drone_token: Secret

    @classmethod
    def read(cls, config: BridgeConfig) -> Secrets:
        return cls(
            forge_token=Secret.read(config.forge.token_file, "forge.token_file"),
            webhook_secret=Secret.read(config.forge.webhook_secret_file, "forge.webhook_secret_file"),
            drone_token=Secret.read(config.drone.token_file, "drone.token_file"),
        )


def _converter() -> cattrs.Converter:
    return strict.converter((BridgeConfig, ForgeSettings, DroneSettings))


CONVERTER = _converter()


def parse(data: object, source: str = "bridge config") -> BridgeConfig:
    try:
        return CONVERTER.structure(data, BridgeConfig)
    except BadInput as error:
        raise BadConfig(f"{source}: {error}") from None
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as error:
        raise BadConfig(f"{source}: {_one_line(error)}") from None


def load(path: Path | None = None) -> BridgeConfig:
    path = path or DEFAULT_PATH
    data = strict.read_json(path, "bridge config", "set --config", BadConfig)
    return parse(data, str(path))


def dump(config: BridgeConfig) -> str:
    return json.dumps(CONVERTER.unstructure(config), indent=2, sort_keys=True)
