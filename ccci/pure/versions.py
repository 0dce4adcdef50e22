"""Recipe release versions: `<recipe-semver>+<upstream>`, and their order.

Pure. A recipe tags its releases `x.y.z+<upstream>` where upstream is free-form
(`1.29.0`, `v3.6.15`, `27.0.1-fpm`, `26.0.0-rc1`). A tag that does not match
that grammar is not a release.

The order (docs/reconcile.md, "How versions order"), next to abra's:

1. the recipe semver, numerically, decides first (as abra does);
2. on equal semver, the upstream: an upstream that reads as a version
   (`[v]N(.N)*` and an optional suffix) is newer than one that does not
   (`latest`); two versions compare their numbers numerically, missing
   trailing components counting as 0 (`10` > `9`, `1.2` = `1.2.0`); on equal
   numbers a pre-release (`-rc1`, `-beta.2`, `_alpha`, `-dev`, ordered
   dev < alpha < beta < pre < rc, then by their number) is older than the
   release; other suffixes (`-fpm`, `-alpine`) are labels that do not order;
3. what is still tied is ordered by the upstream text, only so that sorting
   is total and stable.

Where step 3 decides (different labels, or upstreams that are not versions),
the two releases cannot really be ordered; `classify` calls such a move
UNPARSEABLE, so the safety gate holds it for a human.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import attrs

_RELEASE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\+([A-Za-z0-9][A-Za-z0-9._-]*)")
_UPSTREAM = re.compile(r"[vV]?(0|[1-9]\d*)((?:\.(?:0|[1-9]\d*))*)([-+_~].*)?")
# A suffix that is, all of it, a pre-release marker: `-rc1`, `-rc.1`, `-beta`, `_alpha2`, `-dev`.
_PRE = re.compile(r"[-_~.]?(dev|alpha|a|beta|b|pre|preview|rc)[-_.]?(0|[1-9]\d{0,8})?", re.IGNORECASE)
_PRE_RANK = {"dev": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "pre": 3, "preview": 3, "rc": 4}
_RELEASED = (len(_PRE_RANK), 0)  # after every pre-release


@attrs.frozen(order=True)
class Upstream:
    """The upstream part as an order key: (is a version, numbers, pre-release, label)."""

    is_version: bool
    numbers: tuple[int, ...]  # trailing zeros dropped: 1.2 == 1.2.0
    pre: tuple[int, int]  # (kind, number) of a pre-release; _RELEASED for a release
    label: str  # a suffix that is not a pre-release (-fpm); "" when none

    @classmethod
    def parse(cls, text: str) -> Upstream:
        match = _UPSTREAM.fullmatch(text)
        if match is None:
            return cls(False, (), _RELEASED, text)
        numbers = [int(match.group(1)), *(int(part) for part in match.group(2).split(".")[1:])]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()
        suffix = match.group(3) or ""
        pre = _PRE.fullmatch(suffix) if suffix else None
        if pre is not None:
            return cls(True, tuple(numbers), (_PRE_RANK[pre.group(1).lower()], int(pre.group(2) or 0)), "")
        return cls(True, tuple(numbers), _RELEASED, suffix)

    @property
    def is_prerelease(self) -> bool:
        return self.pre != _RELEASED


@attrs.frozen(order=True)
class Release:
    semver: tuple[int, int, int]
    version: Upstream = attrs.field(repr=False)
    upstream: str  # the text, last: only for a total, stable sort
    tag: str = attrs.field(order=False)

    @classmethod
    def parse(cls, tag: str) -> Release | None:
        match = _RELEASE.fullmatch(tag)
        if match is None:
            return None
        major, minor, patch, upstream = match.groups()
        return cls((int(major), int(minor), int(patch)), Upstream.parse(upstream), upstream, tag)

    def orders_against(self, other: Release) -> bool:
        """Whether the order of these two means something (not just the text tie-break)."""
        if self.semver != other.semver:
            return True
        mine, theirs = self.version, other.version
        if not (mine.is_version and theirs.is_version):
            return self.upstream == other.upstream
        return (mine.numbers, mine.pre) != (theirs.numbers, theirs.pre) or mine.label == theirs.label

    def same_version(self, other: Release) -> bool:
        """Equal in every part that orders (e.g. `1.0.0+1.2` and `1.0.0+1.2.0`)."""
        return (self.semver, self.version) == (other.semver, other.version)

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
    if not now.orders_against(new):
        return Step(Move.UNPARSEABLE, f"{current} and {latest} cannot be ordered: their upstream parts "
                    f"{now.upstream!r} and {new.upstream!r} differ in a way that is not a version")
    if new <= now or new.same_version(now):
        return Step(Move.NONE, f"{latest} is not newer than {current}")
    if new.version.is_prerelease and not now.version.is_prerelease:
        return Step(Move.UNPARSEABLE, f"upstream {new.upstream} is a pre-release; "
                    "ccci does not move a running app onto one by itself")
    if new.version < now.version and new.version.is_version and now.version.is_version:
        return Step(Move.UNPARSEABLE, f"the recipe moves forward but its upstream moves back "
                    f"({now.upstream} -> {new.upstream})")
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
