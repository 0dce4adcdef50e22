"""The safety gate: may an upgrade be applied without a human?

It runs before anything else a reconcile does and only reads. It HOLDS:
- a major bump on either side of `+` (the recipe semver, or the upstream
  version), and any version that cannot be parsed (ccci.pure.versions.classify);
- a move whose release notes flag a manual migration: the notes of EVERY
  release after the running one up to the target are read, because skipping
  over a release does not skip its migration.

A hold carries the notes, so the alert tells the operator what to do.

Where recipes keep release notes (each looked up at that release's own tag):
  releaseNotes/<version>.md    what current abra shows before an upgrade
  releaseNotes/<version>
  release/<version>            older abra's folder, still kept by many recipes
  release/<version>.md
  the release tag's annotation message
A note flags a manual migration when it contains one of MARKERS, compared
case-insensitively with runs of whitespace and hyphens read as one space
(so "Manual-Migration" and "manual\\n migration" both count).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ccci.seams import proc
from ccci.pure.versions import Move, Release, classify

MARKERS: tuple[str, ...] = (
    "manual migration",
    "manually migrate",
    "migration required",
    "requires a migration",
    "requires migration",
    "migrate manually",
    "manual intervention",
    "manual step",
    "manual upgrade",
    "upgrade manually",
    "manually upgrade",
    "breaking change",
    "action required",
    "do not upgrade automatically",
)

NOTE_PATHS: tuple[str, ...] = (
    "releaseNotes/{version}.md",
    "releaseNotes/{version}",
    "release/{version}",
    "release/{version}.md",
)


class Verdict(enum.Enum):
    PROCEED = "proceed"
    HELD_MAJOR = "held-major"
    HELD_MANUAL_MIGRATION = "held-manual-migration"
    HELD_UNPARSEABLE = "held-unparseable"

    @property
    def held(self) -> bool:
        return self is not Verdict.PROCEED


@attrs.frozen
class Note:
    """One release note: the release it belongs to, where it was found, its text."""

    version: str
    source: str
    text: str

    def markers(self) -> list[str]:
        flat = re.sub(r"[\s\-_]+", " ", self.text.lower())
        return [marker for marker in MARKERS if marker in flat]


@attrs.frozen
class Decision:
    verdict: Verdict
    why: str
    notes: tuple[Note, ...] = ()
    flagged: tuple[str, ...] = ()  # "<version> (<source>): <marker>"

    def notes_text(self) -> str:
        return "\n\n".join(f"--- {n.version} ({n.source}) ---\n{n.text.strip()}" for n in self.notes)


NotesSource = Callable[[str], list[Note]]


def between(releases: Iterable[Release], current: str, latest: str) -> list[str]:
    """The releases after `current` up to and including `latest`, oldest first."""
    now, new = Release.parse(current), Release.parse(latest)
    if new is None:
        return [latest]
    return [r.tag for r in sorted(releases) if (now is None or r > now) and r <= new] or [latest]


@attrs.frozen
class SafetyGate:
    """Decides on a move from the running release to the latest one."""

    notes_for: NotesSource

    def check(self, current: str, latest: str, releases: Iterable[Release] = ()) -> Decision:
        versions = between(releases, current, latest)
        notes = tuple(note for version in versions for note in self.notes_for(version))
        step = classify(current, latest)
        if step.move is Move.UNPARSEABLE:
            return Decision(Verdict.HELD_UNPARSEABLE, step.why, notes)
        if step.move is Move.MAJOR:
            return Decision(Verdict.HELD_MAJOR, step.why, notes)
        if step.move is Move.NONE:
            return Decision(Verdict.PROCEED, step.why, notes)
        flagged = tuple(f"{n.version} ({n.source}): {m}" for n in notes for m in n.markers())
        if flagged:
            return Decision(
                Verdict.HELD_MANUAL_MIGRATION,
                f"release notes flag a manual migration: {'; '.join(flagged)}",
                notes, flagged,
            )
        return Decision(Verdict.PROCEED, step.why, notes)


@attrs.frozen
class RepoNotes:
    """Release notes read from a recipe's git repository (bare or not), at each release's tag."""

    git_dir: Path
    calls: proc.Calls | None = None

    def _git(self, *words: str) -> proc.Completed:
        return proc.run(["git", "--git-dir", str(self.git_dir), *words], check=False, timeout=60,
                        calls=self.calls, env={"GIT_TERMINAL_PROMPT": "0"})

    def __call__(self, version: str) -> list[Note]:
        found: list[Note] = []
        for template in NOTE_PATHS:
            path = template.format(version=version)
            shown = self._git("show", f"refs/tags/{version}:{path}")
            if shown.exit_code == 0 and shown.output.strip():
                found.append(Note(version, path, shown.output))
        message = self._git("for-each-ref", "--format=%(contents)", f"refs/tags/{version}")
        if message.exit_code == 0 and message.output.strip():
            found.append(Note(version, f"tag {version}", message.output))
        return found
