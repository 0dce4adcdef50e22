"""Recipe release versions: `<recipe-semver>+<upstream>`.

Pure. A recipe tags its releases `x.y.z+<upstream>` where upstream is free-form
(`1.29.0`, `v3.6.15`, `27.0.1-fpm`). Releases order by the recipe semver first;
the upstream part only breaks ties. A tag that does not parse is not a release.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import attrs

_RELEASE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\+([A-Za-z0-9][A-Za-z0-9._-]*)")


@attrs.frozen(order=True)
class Release:
    semver: tuple[int, int, int]
    upstream: str
    tag: str = attrs.field(order=False)

    @classmethod
    def parse(cls, tag: str) -> Release | None:
        match = _RELEASE.fullmatch(tag)
        if match is None:
            return None
        major, minor, patch, upstream = match.groups()
        return cls((int(major), int(minor), int(patch)), upstream, tag)

    def __str__(self) -> str:
        return self.tag


def releases(tags: Iterable[str]) -> list[Release]:
    """The tags that are releases, oldest first."""
    return sorted(r for r in map(Release.parse, tags) if r is not None)


def previous(all_releases: list[Release], target: Release | None) -> Release | None:
    """The release to upgrade from: the newest one older than `target`.

    `target` None means the target is not a release (a PR head, a branch):
    then every release is older, and the newest one is the starting point.
    """
    ordered = sorted(all_releases)
    if target is None:
        return ordered[-1] if ordered else None
    older = [r for r in ordered if r < target]
    return older[-1] if older else None


# -- moves between releases: what the safety gate decides on ------------------
#
# A move from the running release to a newer one is MAJOR when the breaking
# part of either side of `+` changes: the recipe semver's major, or the
# upstream version's major (the earlier system held keycloak 25 -> 26, an
# upstream major whose database migration a health check cannot vouch for).
# While a major is 0 its minor is the breaking part too (semver: "anything may
# change" before 1.0.0). Whatever cannot be parsed is UNPARSEABLE: a human
# decides, ccci never guesses.

_UPSTREAM = re.compile(r"[vV]?(0|[1-9]\d*)((?:\.(?:0|[1-9]\d*))*)(?:[-+_~].*)?")


class Move(enum.Enum):
    NONE = "none"  # the same release or an older one: nothing to apply
    MINOR = "minor"  # a patch or minor move on both sides
    MAJOR = "major"
    UNPARSEABLE = "unparseable"


@attrs.frozen
class Step:
    """A classified move from `current` to `latest`, and why it is that."""

    move: Move
    why: str


def upstream_numbers(upstream: str) -> tuple[int, ...] | None:
    """The leading numeric components of an upstream version.

    `v3.6.15` -> (3, 6, 15); `27.0.1-fpm` -> (27, 0, 1); `2024.1` -> (2024, 1).
    None when it does not start with a number (`latest`, `alpine`), or a
    component has a leading zero (`01.2`): such a version cannot be compared.
    """
    match = _UPSTREAM.fullmatch(upstream)
    if match is None:
        return None
    rest = match.group(2)
    return (int(match.group(1)), *(int(part) for part in rest.split(".")[1:]))


def breaking_part(numbers: tuple[int, ...]) -> tuple[int, ...]:
    """The components whose change breaks users: the major, plus the minor while the major is 0."""
    if numbers[0] == 0 and len(numbers) > 1:
        return numbers[:2]
    return numbers[:1]


def classify(current: str, latest: str) -> Step:
    """Classify the move from the running version to the latest release."""
    now, new = Release.parse(current), Release.parse(latest)
    if now is None or new is None:
        bad = current if now is None else latest
        return Step(Move.UNPARSEABLE, f"{bad!r} is not a release version <x.y.z>+<upstream>")
    if new <= now:
        return Step(Move.NONE, f"{latest} is not newer than {current}")
    if breaking_part(new.semver) != breaking_part(now.semver):
        return Step(Move.MAJOR, f"recipe major bump {_dotted(now.semver)} -> {_dotted(new.semver)}")
    up_now, up_new = upstream_numbers(now.upstream), upstream_numbers(new.upstream)
    if up_now is None or up_new is None:
        bad = now.upstream if up_now is None else new.upstream
        return Step(Move.UNPARSEABLE, f"upstream version {bad!r} has no leading number to compare")
    if breaking_part(up_new) != breaking_part(up_now):
        return Step(Move.MAJOR, f"upstream major change {now.upstream} -> {new.upstream}")
    return Step(Move.MINOR, f"{current} -> {latest} is a patch or minor move on both sides")


def _dotted(numbers: tuple[int, ...]) -> str:
    return ".".join(map(str, numbers))
