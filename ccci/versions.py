"""Recipe release versions: `<recipe-semver>+<upstream>`.

Pure. A recipe tags its releases `x.y.z+<upstream>` where upstream is free-form
(`1.29.0`, `v3.6.15`, `27.0.1-fpm`). Releases order by the recipe semver first;
the upstream part only breaks ties. A tag that does not parse is not a release.
"""

from __future__ import annotations

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
