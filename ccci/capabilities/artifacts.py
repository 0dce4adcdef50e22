"""A run's artifact folder: `<state>/runs/<recipe>-<run id>/`.

It holds `result.json`, `junit.xml`, `calls/` (the transcript of every abra
and git call), `tests/` (each suite's JUnit) and, when a stage failed,
`failure/` (every service's logs and the stack's task states, taken before
teardown). The newest `keep_runs` folders are kept; older ones are pruned
when a run whose input held up starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def prune_runs(runs_dir: Path, count: int, keep: Path | None = None) -> list[Path]:
    """Remove all but the newest `count` run folders (never `keep`); what went."""
    if not runs_dir.is_dir():
        return []
    folders = sorted(
        (p for p in runs_dir.iterdir() if p.is_dir() and not p.is_symlink() and p != keep),
        key=lambda p: p.stat().st_mtime,
    )
    room = count - (1 if keep is not None else 0)
    gone = folders[: max(0, len(folders) - room)]
    for folder in gone:
        shutil.rmtree(folder, ignore_errors=True)
    return gone
