"""An infra app's state files under `<state>/infra/<app>/`, each written atomically.

- `last_good`: the last release that passed the health gate (one line).
- `rejected`: JSON `{version: {at, reason}}`, releases rolled back; a rejected
  release is not attempted again until a newer one appears or an operator
  clears it.
- `rollback-failed`: JSON `{at, attempted, last_good, reason}`, present only
  while a human is needed; while it exists a reconcile touches nothing.

Only reads and atomic writes here; the caller holds the app's lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from ccci.capabilities.health import utc_stamp
from ccci.seams.files import write_atomic


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
