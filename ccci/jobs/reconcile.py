"""The warm-infrastructure reconcile: keep one infra app on its recipe's latest release.

Under the app's lock `infra-<app>`, in this order:
 1. A `rollback-failed` marker from an earlier run: report it again, touch
    nothing (a human must look; never loop).
 2. Discover: the recipe's releases (from a throwaway mirror clone,
    ccci.capabilities.recipe.Mirror, so that nothing under the state
    directory changes), the running version (abra's env file
    `TYPE=<recipe>:<version>`), last_good and the rejected releases
    (ccci.capabilities.infra_state).
 3. Plan (pure, ccci.pure.plan): install, check (already on the latest
    release, or the latest was rolled back before), upgrade, or hold (no tag
    of the recipe is a release: held-unparseable, like the safety gate).
 4. The safety gate (ccci.capabilities.gate) before anything else: a hold deploys nothing,
    snapshots nothing, writes no state but its outcome record (`last-outcome`);
    it raises an alert with the notes.
 5-9. The rollout (ccci.jobs.rollout): last_good := the running release;
    stateful: undeploy and snapshot; deploy latest; the health gate
    (ccci.capabilities.health.HealthGate); healthy: last_good := latest,
    else roll back (restore the snapshot for a stateful app), reject latest,
    alert; a rollback that is not healthy ends in rollback-failed: a distinct
    alert, the marker, a non-zero exit, everything left for a human.

State, under `<state>/infra/<app>/`: `last_good` (a version, one line),
`rejected` (JSON: version -> when and why), `rollback-failed` (JSON, only
while a human is needed), `last-outcome` (how the latest reconcile ended and
since when, recorded under the lock before the status page is refreshed;
never by --plan), `snapshot/` (stateful apps), `abra/` (the app's own
ABRA_DIR). Every write is atomic. A rejected release is not attempted again
until a newer release appears or an operator clears it (--clear-rejected).
The result (ccci.pure.plan.ReconcileResult) and its exit code are pure values.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import docker

from ccci.capabilities import health, locks, status_page
from ccci.capabilities.alerts import Alerts
from ccci.capabilities.gate import Decision, RepoNotes, SafetyGate, Verdict
from ccci.capabilities.health import HealthGate
from ccci.capabilities.infra_state import STOPPED, InfraState, LastOutcome
from ccci.capabilities.recipe import Mirror
from ccci.capabilities.signals import interruptible
from ccci.capabilities.snapshot import Snapshots
from ccci.pure.config import Config, InfraApp
from ccci.pure.names import BadInput, Domain, RecipeName, stack_name
from ccci.jobs.rollout import Rollout
from ccci.pure.plan import Action, Outcome, Plan, ReconcileResult, describe, plan
from ccci.pure.versions import releases
from ccci.seams import engine, proc
from ccci.seams.abra import Abra

log = logging.getLogger("ccci")

HELD = {
    Verdict.HELD_MAJOR: Outcome.HELD_MAJOR,
    Verdict.HELD_MANUAL_MIGRATION: Outcome.HELD_MANUAL_MIGRATION,
    Verdict.HELD_UNPARSEABLE: Outcome.HELD_UNPARSEABLE,
}


class Reconciler:
    def __init__(self, config: Config, name: str, client: docker.DockerClient | None = None):
        RecipeName.parse(name)
        if name not in config.infra:
            known = ", ".join(sorted(config.infra)) or "none"
            raise BadInput(f"no infra app {name!r} in the config (configured: {known})")
        self.config = config
        self.name = name
        self.spec: InfraApp = config.infra[name]
        self.recipe = RecipeName.parse(self.spec.recipe)
        self.domain = Domain.parse(self.spec.domain)
        folder = config.state / "infra" / name
        self.state = InfraState(folder)
        self.calls = proc.Calls()
        self.abra = Abra.from_config(config, folder / "abra", self.calls)
        self.stack = stack = engine.Stack(client or engine.connect(), stack_name(self.domain))
        self.result = ReconcileResult(name, self.recipe.value, self.domain.value)
        self._left_alone = False  # a rollback-failed marker: this reconcile writes nothing at all
        self.rollout = Rollout(
            name, config, self.spec, self.recipe, self.domain, self.abra, stack,
            HealthGate(stack, self.spec.health, lambda: health.endpoint(stack, self.domain, config.ingress,
                                                                    config.ca_certificates)),
            self.state, Snapshots(folder / "snapshot", self.calls), Alerts(config.state, config.alerts),
            self.calls, self.result,
        )

    # -- operator commands -----------------------------------------------------------------

    def clear_rejected(self) -> list[str]:
        with self._locked("clear rejected"):
            return self.state.clear_rejected()

    def clear_failed(self) -> dict[str, Any] | None:
        with self._locked("clear rollback-failed"):
            return self.state.clear_rollback_failed()

    # -- discovery (reads only) ----------------------------------------------------------

    def _current(self) -> str | None:
        """The release running now, read from what runs: the version label abra
        puts on the services (the env file's TYPE only for an app deployed
        without that label). When nothing is deployed, last_good: abra writes
        TYPE=<recipe>:<version> already at `app new`, so after an install that
        never became healthy the env file names a release that never ran, and
        reading it would redeploy the release just rejected."""
        if not self.rollout.deployed():
            return self.state.last_good()
        return self.stack.version_label() or self.abra.recorded_version(self.domain)

    # -- the job -------------------------------------------------------------------------

    @contextmanager
    def _locked(self, what: str) -> Iterator[None]:
        with locks.hold(self.config.state, f"infra-{self.name}", f"{what} of {self.name}",
                        self.config.timeouts.lock):
            yield

    def execute(self, *, dry_run: bool = False) -> ReconcileResult:
        began = time.monotonic()
        self.result.plan = dry_run
        try:
            if dry_run:  # no lock: the lock's holder file is a write
                self._run(dry_run=True)
            else:
                with status_page.refreshed_after(self.config), interruptible(), self._locked("reconcile"):
                    try:
                        self._run(dry_run=False)
                    finally:  # still under the lock, before the page is refreshed
                        self._record(sys.exc_info()[1])
        finally:
            self.result.seconds = round(time.monotonic() - began, 2)
            self.result.last_good = self.state.last_good()
            if self.abra.env_file(self.domain).exists():
                self.result.running = self.abra.recorded_version(self.domain) if self.rollout.deployed() else None
        return self.result

    def _record(self, error: BaseException | None) -> None:
        """Store how this reconcile ended (infra_state `last-outcome`); never masks `error`.
        Not while a rollback-failed marker stands: the marker is the record then."""
        if self._left_alone:
            return
        if self.result.outcome is not None:
            outcome, reason = self.result.outcome.value, self.result.reason
        elif error is not None:
            outcome, reason = STOPPED, proc.describe(error) if isinstance(error, proc.CommandError) \
                else f"{type(error).__name__}: {error}"
        else:
            return
        now = health.utc_stamp()
        try:
            self.state.record_outcome(LastOutcome(
                outcome=outcome, at=now, since=now, current=self.result.current, latest=self.result.latest,
                attempted=self.result.attempted, last_good=self.state.last_good(), reason=reason[:500]))
        except Exception as failure:  # the outcome is a record for the page, never the job's verdict
            log.warning("%s: could not record the reconcile's outcome: %s", self.name, failure)

    def _run(self, *, dry_run: bool) -> None:
        marker = self.state.rollback_failed()
        current = self._current()
        self.result.current = current
        if marker is not None:
            self._left_alone = True
            self.result.outcome = Outcome.ROLLBACK_FAILED
            self.result.attempted = marker.get("attempted")
            self.result.recovered = False
            self.result.reason = f"left in place since {marker.get('at')}: {marker.get('reason', '')}"
            self.result.note = "a rollback failed earlier; nothing was touched. Fix the app, then --clear-failed"
            return
        with Mirror.cloned(self.config.recipe_url(self.recipe), f"ccci-infra-{self.name}-", self.calls) as mirror:
            self.rollout.mirror = mirror
            try:
                self._decide_and_act(mirror, current, dry_run)
            finally:
                self.rollout.mirror = None

    def _decide_and_act(self, mirror: Mirror, current: str | None, dry_run: bool) -> None:
        tags = mirror.tags()
        available = releases(tags)
        self.result.latest = max(available).tag if available else None
        what = plan(current, available, set(self.state.rejected()), blocked=False, tags=tags)
        self.result.note = what.note
        if what.action is Action.HOLD:  # no release at all: nothing to compare, the gate's unparseable
            self._hold(Decision(Verdict.HELD_UNPARSEABLE, what.note), current, None, dry_run)
            return
        if what.action is Action.UPGRADE:
            assert what.current is not None and what.target is not None
            decision = SafetyGate(RepoNotes(mirror.git_dir, self.calls)).check(what.current, what.target, available)
            self.result.notes = [attrs.asdict(n) for n in decision.notes]
            if decision.verdict.held:
                self._hold(decision, what.current, what.target, dry_run)
                return
        if dry_run:
            self.result.steps = describe(what, recipe=self.recipe.value, health=self.spec.health,
                                         stateful=self.spec.stateful, deployed=self.rollout.deployed())
            self.result.attempted = what.target
            return
        self._apply(what)

    def _apply(self, what: Plan) -> None:
        if what.action is Action.INSTALL:
            assert what.target is not None
            self.rollout.install(what.target)
        elif what.action is Action.CHECK:
            assert what.current is not None
            self.rollout.check(what.current)
        else:
            assert what.current is not None and what.target is not None
            self.rollout.upgrade(what.current, what.target)

    # -- hold ---------------------------------------------------------------------------

    def _hold(self, decision: Decision, current: str | None, latest: str | None, dry_run: bool) -> None:
        outcome = HELD[decision.verdict]
        self.result.outcome = outcome
        self.result.reason = decision.why
        self.result.flagged = list(decision.flagged)
        self.result.running = current
        on = current or "nothing installed"
        if dry_run:
            self.result.steps = [f"would hold on {on}: {decision.why}", "would alert"]
            return
        notes = decision.notes_text() or "(no release notes found)"
        title = (f"{self.name}: {latest} held on {on} ({outcome.value})" if latest is not None
                 else f"{self.name}: no release to reconcile to, held on {on} ({outcome.value})")
        self.rollout.alert(
            outcome.value, title,
            f"{self.name} stays on {on}; {latest or 'the recipe'} needs an operator: {decision.why}\n\n"
            f"Release notes:\n{notes}",
            current=current, latest=latest, reason=decision.why, flagged=list(decision.flagged),
            release_notes=[attrs.asdict(n) for n in decision.notes],
        )
