"""What backupbot backs up in a stack, read from its services' labels.

Co-op Cloud's backup specification (docs.coopcloud.tech, backupbot
"Specification"): `backupbot.backup=true` on a service enables backups of its
stack; by default every volume is backed up whole; a volume is left out with
`backupbot.backup.volumes.<volume>=false`; `backupbot.backup.volumes.<volume>.path`
limits it to comma-separated paths relative to the volume root (e.g. a database
dump, `backup.sql`); `backupbot.backup.pre-hook`/`post-hook` and
`backupbot.restore.pre-hook`/`post-hook` run inside the service's container.
The older `backupbot.backup.path` (absolute paths in the labelled service's
container) stays supported.

Pure: labels and mounts in, a `Plan` out. Invariants: an excluded volume is
never in the plan; every location lies inside its volume's mount (a path that
climbs out with `..` is refused); nothing is backed up unless some service says
`backupbot.backup=true`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

import attrs

ENABLED = "backupbot.backup"
LEGACY_PATH = "backupbot.backup.path"
VOLUMES = "backupbot.backup.volumes."
HOOKS = {
    "backup_pre": "backupbot.backup.pre-hook",
    "backup_post": "backupbot.backup.post-hook",
    "restore_pre": "backupbot.restore.pre-hook",
    "restore_post": "backupbot.restore.post-hook",
}


class BadLabels(ValueError):
    """A backupbot label that cannot mean anything (e.g. a path outside its volume)."""


@attrs.frozen
class Service:
    """One service of the stack as backupbot sees it: its labels and its volume mounts."""

    name: str
    labels: Mapping[str, str]
    mounts: Mapping[str, str] = attrs.Factory(dict)  # volume (compose name) -> path in the container


@attrs.frozen
class Location:
    """Something backed up: a path in `service`'s container.

    whole: the path is a directory backed up entirely (a whole volume, or a
    legacy path); otherwise it is one of a volume's listed paths, which may be
    a file such as a database dump.
    """

    service: str
    path: str
    volume: str | None
    whole: bool


@attrs.frozen
class Hooks:
    service: str
    backup_pre: str | None = None
    backup_post: str | None = None
    restore_pre: str | None = None
    restore_post: str | None = None


@attrs.frozen
class Plan:
    locations: tuple[Location, ...]
    hooks: tuple[Hooks, ...]
    excluded: frozenset[str]

    @property
    def enabled(self) -> bool:
        return bool(self.locations)

    def marker_candidates(self) -> tuple[Location, ...]:
        """Where a marker file is copied by backup and restore: whole directories
        first, then listed paths (which are only usable when they are directories)."""
        return tuple(sorted(self.locations, key=lambda loc: not loc.whole))


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _inside(root: str, relative: str, where: str) -> str:
    """`relative` joined under `root`; refused when it climbs out of it."""
    parts = relative.strip().replace("\\", "/").split("/")
    if ".." in parts:
        raise BadLabels(f"{where}: path {relative!r} leaves the volume")
    clean = posixpath.normpath("/".join(["", *parts]))
    return root if clean == "/" else posixpath.normpath(root.rstrip("/") + clean)


def plan(services: Iterable[Service]) -> Plan:
    """The backup plan of a stack from its services' labels and mounts."""
    services = sorted(services, key=lambda s: s.name)
    if not any(_true(s.labels.get(ENABLED)) for s in services):
        return Plan((), (), frozenset())
    excluded: set[str] = set()
    paths: dict[str, list[str]] = {}
    for service in services:
        for key, value in service.labels.items():
            if not key.startswith(VOLUMES):
                continue
            rest = key[len(VOLUMES):]
            if rest.endswith(".path"):
                paths.setdefault(rest[: -len(".path")], []).extend(_split(value))
            elif value.strip().lower() == "false":
                excluded.add(rest)
    locations: list[Location] = []
    hooks: list[Hooks] = []
    for service in services:
        legacy = _split(service.labels.get(LEGACY_PATH, "")) if _true(service.labels.get(ENABLED)) else []
        for path in legacy:  # the older label: exactly these paths of this service
            if not path.startswith("/"):
                raise BadLabels(f"{service.name}: {LEGACY_PATH} {path!r} must be an absolute path")
            locations.append(Location(service.name, posixpath.normpath(path), None, True))
        for volume, target in sorted(service.mounts.items()):
            if volume in excluded or legacy:
                continue
            listed = paths.get(volume)
            if listed:
                where = f"{service.name}: {VOLUMES}{volume}.path"
                locations += [
                    Location(service.name, _inside(target, p, where), volume, False) for p in sorted(set(listed))
                ]
            else:
                locations.append(Location(service.name, target, volume, True))
        found = {field: service.labels.get(label) or None for field, label in HOOKS.items()}
        if any(found.values()):
            hooks.append(Hooks(service.name, **found))
    return Plan(tuple(dict.fromkeys(locations)), tuple(hooks), frozenset(excluded))
