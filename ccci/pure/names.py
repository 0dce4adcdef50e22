"""Names that reach paths, domains, stacks and argv: validated here, once.

Pure: no I/O. Every name a user can influence (recipe, ref, base domain, stage
list) is parsed by a named constructor that raises `BadInput` with one clear
line; nothing downstream re-validates or builds these strings by hand.
"""

from __future__ import annotations

import enum
import re
import secrets

import attrs


class BadInput(ValueError):
    """A user-supplied value was refused before anything was created."""


_RECIPE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")
_HEX6 = re.compile(r"[0-9a-f]{6}")

# abra: an app's stack name is its domain with dots as underscores, cut to 45.
STACK_NAME_MAX = 45


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


@attrs.frozen
class RecipeName:
    """A recipe name: lowercase letters, digits and inner hyphens, at most 64."""

    value: str

    @classmethod
    def parse(cls, value: str) -> RecipeName:
        if not _RECIPE.fullmatch(value):
            raise BadInput(
                f"bad recipe name {_shown(value)}: use lowercase letters, digits "
                "and inner hyphens, at most 64 characters"
            )
        return cls(value)

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Ref:
    """A git ref or commit: what a PR head or a release tag looks like.

    Refused: a leading '-' (it would read as an option), '..', '@{', '//',
    a trailing '/', '.' or '.lock', and anything outside [A-Za-z0-9._/+-].
    """

    value: str

    @classmethod
    def parse(cls, value: str) -> Ref:
        bad = (
            not _REF.fullmatch(value)
            or ".." in value
            or "//" in value
            or "@{" in value
            or value.endswith(("/", ".", ".lock"))
            or "/." in value
        )
        if bad:
            raise BadInput(
                f"bad ref {_shown(value)}: expected a tag, branch or commit "
                "(letters, digits, . _ / + -; no leading '-', no '..')"
            )
        return cls(value)

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Domain:
    """A lowercase DNS name of at least two labels, at most 253 characters."""

    value: str

    @classmethod
    def parse(cls, value: str) -> Domain:
        labels = value.split(".")
        if (
            len(value) > 253
            or len(labels) < 2
            or not all(_LABEL.fullmatch(label) for label in labels)
        ):
            raise BadInput(
                f"bad domain {_shown(value)}: expected a lowercase DNS name "
                "like ci.example.org"
            )
        return cls(value)

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class RunId:
    """Six lowercase hex digits naming one run (its app, stack and folders)."""

    value: str

    @classmethod
    def new(cls) -> RunId:
        return cls(secrets.token_hex(3))

    @classmethod
    def parse(cls, value: str) -> RunId:
        if not _HEX6.fullmatch(value):
            raise BadInput(f"bad run id {_shown(value)}: expected six hex digits")
        return cls(value)

    def __str__(self) -> str:
        return self.value


class Stage(enum.Enum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    BACKUP = "backup"
    RESTORE = "restore"
    CUSTOM = "custom"


ALL_STAGES: tuple[Stage, ...] = tuple(Stage)


def parse_stages(value: str) -> tuple[Stage, ...]:
    """A comma-separated stage list, returned in the canonical stage order."""
    words = [word.strip() for word in value.split(",")]
    known = {stage.value: stage for stage in Stage}
    unknown = [word for word in words if word not in known]
    if not value.strip() or unknown:
        raise BadInput(
            f"bad stage list {_shown(value)}: choose from "
            + ",".join(stage.value for stage in Stage)
        )
    if len(set(words)) != len(words):
        raise BadInput(f"bad stage list {_shown(value)}: a stage is named twice")
    chosen = {known[word] for word in words}
    return tuple(stage for stage in Stage if stage in chosen)


def cold_domain(recipe: RecipeName, run: RunId, base: Domain) -> Domain:
    """`<recipe[:4]>-<6hex>.<base>`: the per-run app of a cold run."""
    head = recipe.value[:4].rstrip("-")
    return Domain.parse(f"{head}-{run.value}.{base.value}")


def warm_domain(recipe: RecipeName, base: Domain) -> Domain:
    """`warm-<recipe>.<base>`: the stable domain of a recipe's canonical app."""
    return Domain.parse(f"warm-{recipe.value}.{base.value}")


def stack_name(domain: Domain) -> str:
    """The swarm stack abra deploys an app's domain as."""
    return domain.value.replace(".", "_")[:STACK_NAME_MAX]
