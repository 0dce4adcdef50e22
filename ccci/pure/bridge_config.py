"""The bridge's own config file (default /etc/ccci/bridge.json) and its secrets.

The model, converted by `ccci.pure.strict` exactly like `ccci.pure.config`
(same rules, same one-line refusals naming the key); the entry layer reads
the file (`ccci.entry.common.load_bridge_config`). Secrets (forge token, webhook secret, Drone token) are read
from files named here, never stored in the JSON; their values never appear
in a log line, a repr or an exception.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated

import attrs

from ccci.pure import strict
from ccci.pure.names import RecipeName
from ccci.pure.strict import BadConfig, Bytes, Interval, Port

DEFAULT_PATH = Path("/etc/ccci/bridge.json")

# owner/name as Gitea and Forgejo allow them (letters, digits, - _ .).
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_LOGIN = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class ForgeKind(enum.Enum):
    GITEA = "gitea"
    FORGEJO = "forgejo"


def _url(value: str) -> None:
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise BadConfig(f"{value[:80]!r}: expected an http(s) URL without query")


def _repo_name(value: str) -> None:
    if not _REPO.fullmatch(value) or ".." in value:
        raise BadConfig(f"{value[:80]!r}: expected owner/name")


def _ip_address(value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise BadConfig(f"{value[:60]!r}: expected an IP address") from None


def _login(value: str) -> None:
    if not _LOGIN.fullmatch(value):
        raise BadConfig(f"{value[:60]!r} is not a forge login")


def _absolute(value: str) -> None:
    if not value.startswith("/") or "\0" in value:
        raise BadConfig(f"{value[:80]!r}: expected an absolute path")


Url = Annotated[str, strict.Check(_url)]
RepoName = Annotated[str, strict.Check(_repo_name)]


@attrs.frozen
class ForgeSettings:
    """The Gitea or Forgejo instance the pull requests live on."""

    kind: ForgeKind
    url: Url
    token_file: str
    webhook_secret_file: str


@attrs.frozen
class DroneSettings:
    """The Drone repository whose pipeline runs ccci with RECIPE, REF and MODE."""

    url: Url
    token_file: str
    repo: RepoName
    branch: str = "main"


@attrs.frozen
class BridgeConfig:
    forge: ForgeSettings
    drone: DroneSettings
    # forge repository (owner/name) -> the recipe its pull requests change
    repos: dict[RepoName, Annotated[str, strict.Check(RecipeName.parse)]]
    listen_address: Annotated[str, strict.Check(_ip_address)] = "127.0.0.1"
    listen_port: Port = 8787
    # When set, only these forge logins may trigger, and the forge is not
    # asked; when absent, repository collaborators and org members may.
    allowlist: list[Annotated[str, strict.Check(_login)]] | None = None
    state_dir: str = "/var/lib/ccci/bridge"
    poll_interval: Interval = 60.0
    max_body_bytes: Bytes = 1 << 20
    http_timeout: Interval = 10.0
    # ccci's own config file: when it has `status_page`, the bridge refreshes
    # that page on its events and links PR comments to the run's page
    # (status_page.base_url); null: neither (docs/status.md).
    ccci_config: Annotated[str, strict.Check(_absolute)] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.repos:
            raise BadConfig("repos: name at least one forge repository (owner/name -> recipe)")
        lowered = [repo.lower() for repo in self.repos]
        if len(set(lowered)) != len(lowered):
            raise BadConfig("repos: a repository is named twice (names are case-insensitive)")

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


MODELS = (BridgeConfig, ForgeSettings, DroneSettings)
CONVERTER = strict.converter(MODELS)


def parse(data: object, source: str = "bridge config") -> BridgeConfig:
    """The bridge config in `data` (decoded JSON), or BadConfig naming the key."""
    return strict.structure(data, BridgeConfig, CONVERTER, source)


def dump(config: BridgeConfig) -> str:
    return json.dumps(CONVERTER.unstructure(config), indent=2, sort_keys=True)
