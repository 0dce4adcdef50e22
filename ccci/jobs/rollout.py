"""Apply a reconcile's plan to one infra app: deploy, health-gate, keep or roll back, alert.

The order and the rules are the reconcile's (ccci.jobs.reconcile); this is
its acting half. A release is kept only when the health gate calls it
healthy; otherwise the app goes back to last_good (with its data for a
stateful app), the release is rejected, and an alert says what happened. A
rollback that is not healthy leaves everything in place, writes the
rollback-failed marker, and raises the loudest alert.
"""

from __future__ import annotations

import logging
import time

import attrs

from ccci.capabilities.alerts import Alerts
from ccci.capabilities.health import HealthGate, utc_stamp
from ccci.capabilities.infra_state import InfraState
from ccci.capabilities.recipe import Checkout, Mirror
from ccci.capabilities.signals import Interrupted, signals_deferred
from ccci.capabilities.snapshot import AppVolumes, SnapshotError, Snapshots
from ccci.pure.config import Config, InfraApp
from ccci.pure.names import Domain, RecipeName
from ccci.pure.plan import HealthRecord, HealthVerdict, Outcome, ReconcileError, ReconcileResult
from ccci.seams import engine, proc
from ccci.seams.abra import Abra

log = logging.getLogger("ccci")


@attrs.define
class Rollout:
    """One infra app's parts, and the steps that change it; each step records into `result`."""

    name: str
    config: Config
    spec: InfraApp
    recipe: RecipeName
    domain: Domain
    abra: Abra
    stack: engine.Stack
    gate: HealthGate
    state: InfraState
    snapshots: Snapshots
    alerts: Alerts
    calls: proc.Calls
    result: ReconcileResult
    mirror: Mirror | None = None  # the upstream the plan was made from, while the reconcile runs

    def deployed(self) -> bool:
        return bool(self.stack.services())

    # -- deploys and the health gate ----------------------------------------------------------

    def _judged(self, record: HealthRecord) -> HealthRecord:
        self.result.health.append(record)
        log.info("health gate for %s %s: %s after %.1fs of a %.0fs window%s", self.name, record.version,
                 record.verdict.value, record.seconds, record.window,
                 f" ({record.reason})" if record.reason else "")
        return record

    def _deploy(self, version: str, *, upgrade: bool = False, rollback: bool = False) -> HealthRecord:
        """Deploy `version` and health-gate it. A running app goes back with
        `abra app rollback` (what abra offers for that), forward with `upgrade`;
        an app whose failed upgrade never left `version` (abra refused it, e.g.
        at lint) is deployed again at `version`, which `rollback` refuses."""
        since = utc_stamp()
        self.result.steps.append(f"deploy {version}")
        try:
            if upgrade and self.deployed():
                self.abra.upgrade(self.domain, version)
            elif rollback and self.deployed() and self.stack.version_label() != version:
                self.abra.rollback(self.domain, version)
            else:
                self.abra.deploy(self.domain, version, force=self.deployed())
        except proc.CommandError as error:
            now = time.time()
            return self._judged(HealthRecord(version, 0.0, 0.0, HealthVerdict.DEPLOY_FAILED,
                                             proc.describe(error), now, now))
        return self._judged(self.gate.judge(version, since))

    def _set_last_good(self, version: str) -> None:
        if self.state.set_last_good(version):
            self.result.steps.append(f"last_good := {version}")

    def _reject(self, version: str, reason: str) -> None:
        self.state.reject(version, reason)
        self.result.steps.append(f"rejected {version}")

    # -- steps ----------------------------------------------------------------------------

    def _ensure_abra_dir(self) -> None:
        if not (self.abra.abra_dir / "servers" / self.config.server).is_dir():
            self.abra.server_add_local()
        path = self.abra.recipe_dir(self.recipe)
        if not (path / ".git").is_dir():
            Checkout.clone(self.config.recipe_url(self.recipe), path, self.calls)

    def _sync_checkout(self) -> None:
        """Bring the new tags into the app's checkout, from the mirror the gate read."""
        assert self.mirror is not None
        Checkout(self.abra.recipe_dir(self.recipe), self.calls).fetch_tags(self.mirror)

    def _undeploy(self) -> None:
        if self.deployed():
            self.abra.undeploy(self.domain)
            self.result.steps.append("undeploy")
        if not self.stack.wait_gone(self.config.timeouts.undeploy):
            raise ReconcileError(f"{self.stack.name} did not go away after undeploy")

    def install(self, version: str) -> None:
        self.result.attempted = version
        self._ensure_abra_dir()
        if not self.abra.env_file(self.domain).exists():  # else: an earlier install stopped half-way
            self.abra.app_new(self.recipe, self.domain, version)
            self.abra.secret_generate(self.domain)
            self.result.steps += [f"app new {version}", "secret generate --all"]
        record = self._deploy(version)
        if record.healthy:
            self._set_last_good(version)
            self.result.outcome = Outcome.INSTALLED
            self.alert("installed", f"{self.name}: installed {version}", f"{self.name} installed at {version}, healthy.",
                       version=version)
            return
        self._reject(version, record.reason)
        self.result.outcome = Outcome.INSTALL_FAILED
        self.result.reason = record.reason
        self.alert("install-failed", f"{self.name}: install of {version} is not healthy",
                   f"{self.name} was installed at {version} but is not healthy: {record.reason}\n"
                   "There is no earlier release to go back to; it is left as it is.",
                   attempted=version, reason=record.reason)

    def check(self, current: str) -> None:
        self._ensure_abra_dir()
        if self.deployed():
            record = self._judged(self.gate.judge(current, utc_stamp(), observe=False))
        else:  # nothing runs (an operator undeployed it, or a crash did): start the known release
            self._sync_checkout()
            record = self._deploy(current)
        if record.healthy:
            self._set_last_good(current)
            self.result.outcome = Outcome.NOOP_HEALTHY
            return
        self.result.outcome = Outcome.UNHEALTHY
        self.result.reason = record.reason
        self.alert("unhealthy", f"{self.name}: {current} is not healthy",
                   f"{self.name} runs {current}, which is not healthy: {record.reason}\n"
                   "Nothing was changed.", current=current, reason=record.reason)

    def upgrade(self, current: str, latest: str) -> None:
        assert self.mirror is not None
        self.result.attempted = latest
        self._ensure_abra_dir()
        self._sync_checkout()
        self._set_last_good(current)
        snapshot_taken = False
        try:
            if self.spec.stateful:
                self._undeploy()
                try:
                    self.snapshots.take(AppVolumes(self.stack), recipe=self.recipe.value, version=current,
                                        commit=self.mirror.commit_of(current))
                except SnapshotError as error:
                    self._roll_back(current, latest, f"snapshot failed: {error}", restore=False, reject=False)
                    return
                snapshot_taken = True
                self.result.steps.append("snapshot")
            record = self._deploy(latest, upgrade=not self.spec.stateful)
        except Interrupted as stop:
            with signals_deferred():
                self._roll_back(current, latest, str(stop), restore=snapshot_taken, reject=False)
            raise
        if record.healthy:
            self._set_last_good(latest)
            self.result.outcome = Outcome.UPGRADED
            self.alert("upgraded", f"{self.name}: upgraded {current} -> {latest}",
                       f"{self.name} upgraded from {current} to {latest}; healthy over a "
                       f"{record.window:.0f}s window.", current=current, latest=latest)
            return
        with signals_deferred():
            self._roll_back(current, latest, record.reason, restore=self.spec.stateful)

    def _roll_back(self, last_good: str, attempted: str, reason: str, *, restore: bool, reject: bool = True) -> None:
        """Back to last_good (and its data); a failure here is left for a human."""
        self.result.reason = reason
        log.info("rolling %s back to %s: %s", self.name, last_good, reason)
        try:
            if self.spec.stateful:
                self._undeploy()
                if restore:
                    self.snapshots.restore(AppVolumes(self.stack))
                    self.result.steps.append("restore snapshot")
            record = self._deploy(last_good, rollback=True)
            recovered = record.healthy
            failure = "" if recovered else record.reason
        except (proc.CommandError, SnapshotError, ReconcileError, engine.EngineError) as error:
            recovered, failure = False, proc.describe(error)
        if reject:
            self._reject(attempted, reason)
        self.result.recovered = recovered
        details = dict(attempted=attempted, last_good=last_good, recovered=recovered, reason=reason,
                       stateful=self.spec.stateful, restored_snapshot=restore)
        if recovered:
            self.result.outcome = Outcome.ROLLED_BACK
            self.alert("rolled-back", f"{self.name}: {attempted} rolled back to {last_good}",
                       f"{self.name}: {attempted} was not healthy ({reason}). Rolled back to {last_good}"
                       + (" and its data snapshot" if restore else "") + f", which is healthy. {attempted} "
                       "will not be tried again until a newer release appears.", **details)
            return
        self.result.outcome = Outcome.ROLLBACK_FAILED
        self.result.reason = f"{reason}; rollback to {last_good} failed: {failure}"
        self.state.mark_rollback_failed(attempted, last_good, self.result.reason)
        self.alert("rollback-failed", f"{self.name}: ROLLBACK FAILED, needs a human",
                   f"{self.name}: {attempted} was not healthy ({reason}) and the rollback to {last_good} "
                   f"is not healthy either ({failure}). Everything is left in place; reconciles of "
                   f"{self.name} do nothing until an operator clears it (ccci-reconcile {self.name} "
                   "--clear-failed).", **{**details, "failure": failure})

    def alert(self, kind: str, title: str, message: str, **details: object) -> None:
        self.result.alert = str(self.alerts.send(self.name, kind, title, message, **details))
