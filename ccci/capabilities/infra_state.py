"""An infra app's state files under `<state>/infra/<app>/`, each written atomically.

- `last_good`: the last release that passed the health gate (one line).
- `rejected`: JSON `{version: {at, reason}}`, releases rolled back; a rejected
  release is not attempted again until a newer one appears or an operator
  clears it.
- `rollback-failed`: JSON `{at, attempted, last_good, reason}`, present only
  while a human is needed; while it exists a reconcile touches nothing.
- `last-outcome`: JSON `LastOutcome`, how the latest reconcile (by timer,
  nightly or by hand; never a --plan) ended, and since when the app has been
  in that same situation; what the status page shows as "last outcome".

Only reads and atomic writes here; the caller holds the app's lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import cattrs

from ccci.capabilities.health import utc_stamp
from ccci.pure import strict
from ccci.seams.files import write_atomic


# An outcome besides ccci.pure.plan.Outcome's: the reconcile stopped (an
# error, a signal) before it reached one; `reason` says why.
STOPPED = "stopped"

_converter = cattrs.Converter(forbid_extra_keys=True)


@attrs.frozen
class LastOutcome:
    """How the latest reconcile of an app ended (one record, `last-outcome`)."""

    outcome: str  # a ccci.pure.plan.Outcome value, or STOPPED
    at: str  # when that reconcile ended (UTC stamp)
    since: str  # when the app's run of this same outcome on these same versions began
    current: str | None = None  # what ran when it began
    latest: str | None = None  # the recipe's newest release it saw
    attempted: str | None = None  # what it deployed or held back
    last_good: str | None = None  # last_good when it ended
    reason: str = ""

    def same_situation(self, other: LastOutcome) -> bool:
        return (self.outcome, self.current, self.latest, self.attempted) == \
            (other.outcome, other.current, other.latest, other.attempted)

    def to_json(self) -> str:
        return json.dumps(_converter.unstructure(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LastOutcome:
        """What `to_json` wrote; ValueError for anything else."""
        return strict.record(text, cls, _converter, "a reconcile outcome")


@attrs.frozen
class InfraState:
    dir: Path

    @property
    def last_good_path(self) -> Path:
        return self.dir / "last_good"

    @property
    def rejected_path(self) -> Path:
        return self.dir / "rejected"

    @property
    def failed_path(self) -> Path:
        return self.dir / "rollback-failed"

    @property
    def outcome_path(self) -> Path:
        return self.dir / "last-outcome"

    # -- last_good ---------------------------------------------------------------------

    def last_good(self) -> str | None:
        try:
            return self.last_good_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def set_last_good(self, version: str) -> bool:
        """Record `version`; True when that changed the file."""
        if self.last_good() == version:
            return False
        write_atomic(self.last_good_path, version + "\n")
        return True

    # -- rejected releases --------------------------------------------------------------

    def rejected(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.rejected_path.read_text()))
        except FileNotFoundError:
            return {}

    def reject(self, version: str, reason: str) -> None:
        known = self.rejected()
        known[version] = {"at": utc_stamp(), "reason": reason[:500]}
        write_atomic(self.rejected_path, json.dumps(known, indent=2, sort_keys=True) + "\n")

    def clear_rejected(self) -> list[str]:
        """Forget every rejected release; the versions forgotten."""
        versions = sorted(self.rejected())
        self.rejected_path.unlink(missing_ok=True)
        return versions

    # -- the rollback-failed marker -------------------------------------------------------

    def rollback_failed(self) -> dict[str, Any] | None:
        """The marker a failed rollback left, or None."""
        try:
            return dict(json.loads(self.failed_path.read_text()))
        except FileNotFoundError:
            return None

    def mark_rollback_failed(self, attempted: str, last_good: str, reason: str) -> None:
        marker = {"at": utc_stamp(), "attempted": attempted, "last_good": last_good, "reason": reason}
        write_atomic(self.failed_path, json.dumps(marker, indent=2, sort_keys=True) + "\n")

    def clear_rollback_failed(self) -> dict[str, Any] | None:
        """Remove the marker; what it said, or None when there was none."""
        marker = self.rollback_failed()
        self.failed_path.unlink(missing_ok=True)
        return marker

    # -- the latest reconcile's outcome -------------------------------------------------------

    def last_outcome(self) -> LastOutcome | None:
        """The latest recorded outcome; None when there is none; ValueError when unreadable."""
        try:
            text = self.outcome_path.read_text()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        return LastOutcome.from_json(text)

    def record_outcome(self, outcome: LastOutcome) -> LastOutcome:
        """Record `outcome`, keeping `since` while the situation stays the same; what was written.

        An unreadable earlier record is replaced (it is the page's, not the
        reconcile's, to judge).
        """
        try:
            before = self.last_outcome()
        except (OSError, ValueError):
            before = None
        if before is not None and before.same_situation(outcome):
            outcome = attrs.evolve(outcome, since=before.since)
        write_atomic(self.outcome_path, outcome.to_json())
        return outcome
