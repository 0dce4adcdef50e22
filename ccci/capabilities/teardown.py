"""Teardown of a run's app: everything it made removed, and checked.

abra first (undeploy, volumes, secrets, the app), then whatever abra left
(`Stack.clear`), then the ABRA_DIR; what is still there afterwards is the
record's `leftovers`. Never raises: when the Docker engine goes away, each
attempt waits for it (up to `timeouts.engine_back` from the start of
teardown) and the whole, idempotent removal runs again; if it does not come
back, the record says the leftovers are unknown and names the run's label,
and the reaper (`ccci.capabilities.reaper`) removes them later.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable

from ccci.capabilities.app import AppUnderTest
from ccci.pure.names import Domain
from ccci.pure.results import Status, Teardown
from ccci.seams import engine, proc

log = logging.getLogger("ccci")

ATTEMPTS = 3


def tear_down(app: AppUnderTest, teardown: Teardown, engine_back: int) -> None:
    """Everything of the run removed and checked into `teardown`; never raises."""
    began = time.monotonic()
    teardown.labels = {engine.NAMESPACE: app.stack_name}
    notes: list[str] = []
    try:
        notes.append(app.close_sso())
        left, notes_of_removal = _remove_everything_waiting_for_the_engine(app, engine_back)
        notes += notes_of_removal
    except Exception as error:  # a bug: the run still reports, the reaper cleans up
        left = None
        notes.append(f"teardown error: {type(error).__name__}: {error}")
    shutil.rmtree(app.abra_dir, ignore_errors=True)
    teardown.seconds = time.monotonic() - began
    if left is None:
        teardown.leftovers_known = False
        teardown.leftovers = {}
        notes.append(
            f"leftovers unknown: the run's objects carry the label {engine.NAMESPACE}={app.stack_name} "
            f"(abra's secrets: names starting {app.stack_name}_); the reaper removes them once the engine is back"
        )
        teardown.status = Status.FAILED
    else:
        if app.abra_dir.exists():
            left.setdefault("abra_dir", []).append(str(app.abra_dir))
        teardown.leftovers = left
        teardown.status = Status.FAILED if left else Status.PASSED
        if left:
            notes.append(f"left behind: {left}")
    teardown.reason = "; ".join(note for note in notes if note)
    log.info("teardown: %s in %.1fs", teardown.status.value, teardown.seconds)

def _remove_everything_waiting_for_the_engine(
    app: AppUnderTest, limit: int
) -> tuple[dict[str, list[str]] | None, list[str]]:
    """What is left after removal (None: unknown), and notes for the record.

    Each attempt is the whole (idempotent) removal. An attempt that fails
    while the engine is away waits for it, up to `timeouts.engine_back`
    counted from the start of teardown, then the removal runs again.
    """
    client = app.client
    deadline = time.monotonic() + limit
    away: list[str] = []
    for _ in range(ATTEMPTS):
        notes: list[str] = []
        try:
            return _remove_everything(app, notes), away + notes
        except Exception as error:
            if engine.ready(client):
                away.append(f"teardown error: {type(error).__name__}: {error}")
                continue
            log.warning("teardown: the Docker engine is away (%s); waiting up to %ds for it", error, limit)
            with app.waiting():
                back = engine.wait_ready(client, max(0.0, deadline - time.monotonic()))
            if not back:
                return None, away + [f"the Docker engine did not come back within {limit}s (timeouts.engine_back)"]
            log.info("teardown: the Docker engine is back; tearing down again")
            away = ["the Docker engine went away during the run; teardown ran again once it was back"]
    return None, away

def _remove_everything(app: AppUnderTest, notes: list[str]) -> dict[str, list[str]]:
    """One teardown attempt: abra first, then whatever abra left; what is still there."""
    has_env = app.abra.env_file(app.domain).exists()
    try:
        if has_env and app.deployed():
            _quiet(app, app.abra.undeploy, notes)
        app.wait_gone()
        if has_env:
            _quiet(app, app.abra.volume_remove, notes)
            _quiet(app, app.abra.secret_remove, notes)
            _quiet(app, app.abra.remove, notes)
    except Exception as error:
        if not engine.ready(app.client):
            raise
        notes.append(f"teardown error: {error}")
    abra_left = app.stack.leftovers()
    if abra_left:
        notes.append(f"abra left {abra_left}; removed by ccci")
    with app.waiting():
        return app.stack.clear()

def _quiet(app: AppUnderTest, action: Callable[[Domain], proc.Completed], notes: list[str]) -> None:
    try:
        action(app.domain)
    except proc.CommandError as error:
        notes.append(f"{' '.join(error.argv[1:3])} failed: {error.last_lines(1)}")
