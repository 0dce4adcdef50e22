"""A run's artifact folder: `<state>/runs/<recipe>-<run id>/`.

It holds `result.json`, `junit.xml`, `calls/` (the transcript of every abra
and git call), `tests/` (each suite's JUnit) and, when a stage failed,
`failure/` (every service's logs and the stack's task states, taken before
teardown). The newest `keep_runs` folders are kept; older ones are pruned
when a run whose input held up starts.

This module is the one place a run's result and folder are made and written:
cold runs, quick runs and the entry points all come here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ccci.pure import results
from ccci.pure.config import Config
from ccci.pure.names import Domain, RecipeName, Ref, RunId, stack_name
from ccci.pure.results import AbraIdentity, Mode, RunResult
from ccci.seams.files import write_atomic


def run_folder(config: Config, recipe: RecipeName, run_id: RunId) -> Path:
    return config.state / "runs" / f"{recipe.value}-{run_id.value}"


def new_result(
    config: Config,
    recipe: RecipeName,
    run_id: RunId,
    domain: Domain,
    mode: Mode,
    ref: Ref | None,
    *,
    abra: AbraIdentity | None = None,
    requested_mode: Mode | None = None,
) -> tuple[RunResult, Path]:
    """A fresh result for a run, and the folder it will be written to (not yet created)."""
    folder = run_folder(config, recipe, run_id)
    result = RunResult(
        recipe=recipe.value,
        ref=ref.value if ref is not None else None,
        mode=mode,
        run_id=run_id.value,
        domain=domain.value,
        stack=stack_name(domain),
        artifacts=str(folder),
        requested_mode=requested_mode,
        abra=abra,
    )
    return result, folder


def write_result(folder: Path, result: RunResult) -> None:
    """`result.json` and `junit.xml`, each replaced atomically."""
    write_atomic(folder / "result.json", results.to_json(result))
    write_atomic(folder / "junit.xml", results.junit(result))


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


def remove_folder(folder: Path) -> None:
    """Refused input leaves nothing behind, not even a folder."""
    shutil.rmtree(folder, ignore_errors=True)
