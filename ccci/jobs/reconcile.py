"""The warm-infrastructure reconcile: keep one infra app on its recipe's latest release.

Under the app's lock `infra-<app>`, in this order:
 1. A `rollback-failed` marker from an earlier run: report it again, touch
    nothing (a human must look; never loop).
 2. Discover: the recipe's releases (from a throwaway mirror clone, so that
    nothing under the state directory changes), the running version (abra's
    env file `TYPE=<recipe>:<version>`), last_good and the rejected releases.
 3. Plan (pure, `plan()`): install, check (already on the latest release, or
    the latest was rolled back before), or upgrade.
 4. The safety gate (ccci.capabilities.gate) before anything else: a hold deploys nothing,
    snapshots nothing, writes no state; it raises an alert with the notes.
 5. Record last_good := the running release.
 6. Stateful: undeploy, snapshot the volumes (ccci.capabilities.snapshot).
 7. Deploy latest, then the health gate: a window of at least the slowest
    service's start_period + interval x retries, `samples` consecutive healthy
    polls (converged, HTTP probe answering) at its end; Docker's own verdict
    (task rejected or failing, container unhealthy) ends it at once.
 8. Healthy: last_good := latest, atomically. Otherwise roll back (stateful:
    undeploy, restore the snapshot, redeploy last_good; stateless: redeploy
    last_good), health-gate that, remember latest as rejected, alert.
 9. A rollback that is not healthy ends in rollback-failed: a distinct alert,
    the marker, a non-zero exit, everything left in place for a human.

State, under `<state>/infra/<app>/`: `last_good` (a version, one line),
`rejected` (JSON: version -> when and why), `rollback-failed` (JSON, only
while a human is needed), `snapshot/` (stateful apps), `abra/` (the app's own
ABRA_DIR). Every write is atomic. A rejected release is not attempted again
until a newer release appears or an operator clears it (--clear-rejected).
"""

from __future__ import annotations

import datetime
import enum
import http.client
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import docker
import docker.errors

from ccci.seams import engine, proc
from ccci.capabilities import health, locks
from ccci.seams.abra import Abra
from ccci.capabilities.alerts import Alerts
from ccci.capabilities.signals import Interrupted, interruptible, signals_deferred
from ccci.pure.config import Config, InfraApp, Ingress
from ccci.capabilities.gate import Decision, RepoNotes, SafetyGate, Verdict
from ccci.pure.names import BadInput, Domain, RecipeName, stack_name
from ccci.capabilities.recipe import Checkout
from ccci.seams.files import write_atomic
from ccci.capabilities.snapshot import AppVolumes, SnapshotError, Snapshots
from ccci.pure.versions import Release, releases

log = logging.getLogger("ccci")

NANO = 1e9
# Docker's healthcheck defaults when a spec leaves a field at 0.
DEFAULT_INTERVAL, DEFAULT_RETRIES = 30.0, 3


class ReconcileError(Exception):
    """The reconcile could not even start (no releases, a broken checkout)."""


class Outcome(enum.Enum):
    NOOP_HEALTHY = "noop-healthy"
    INSTALLED = "installed"
    UPGRADED = "upgraded"
    HELD_MAJOR = "held-major"
    HELD_MANUAL_MIGRATION = "held-manual-migration"
    HELD_UNPARSEABLE = "held-unparseable"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"
    UNHEALTHY = "unhealthy"
    INSTALL_FAILED = "install-failed"


# What a systemd unit acts on (docs/reconcile.md): 0 nothing to do, 3 an
# operator should decide, 4 healed itself, 5 and 6 need a human now.
EXIT_CODES = {
    Outcome.NOOP_HEALTHY: 0,
    Outcome.INSTALLED: 0,
    Outcome.UPGRADED: 0,
    Outcome.HELD_MAJOR: 3,
    Outcome.HELD_MANUAL_MIGRATION: 3,
    Outcome.HELD_UNPARSEABLE: 3,
    Outcome.ROLLED_BACK: 4,
    Outcome.ROLLBACK_FAILED: 5,
    Outcome.UNHEALTHY: 6,
    Outcome.INSTALL_FAILED: 6,
}

HELD = {
    Verdict.HELD_MAJOR: Outcome.HELD_MAJOR,
    Verdict.HELD_MANUAL_MIGRATION: Outcome.HELD_MANUAL_MIGRATION,
    Verdict.HELD_UNPARSEABLE: Outcome.HELD_UNPARSEABLE,
}


class Action(enum.Enum):
    BLOCKED = "blocked"  # a rollback failed earlier: a human must clear it
    INSTALL = "install"
    CHECK = "check"  # nothing to apply: verify the running release is healthy
    UPGRADE = "upgrade"


@attrs.frozen
class Plan:
    action: Action
    current: str | None
    target: str | None
    note: str = ""


def plan(current: str | None, available: list[Release], rejected: set[str], blocked: bool) -> Plan:
    """What a reconcile does, from what it found. Pure."""
    if blocked:
        return Plan(Action.BLOCKED, current, None, "a rollback failed earlier; clear it with --clear-failed")
    if not available:
        raise ReconcileError("the recipe has no release tags (x.y.z+upstream)")
    latest = max(available)
    if current is None:
        usable = [r for r in available if r.tag not in rejected]
        if not usable:
            raise ReconcileError("every release of the recipe was rejected; nothing to install")
        return Plan(Action.INSTALL, None, max(usable).tag)
    if latest.tag in rejected:
        return Plan(Action.CHECK, current, None,
                    f"latest {latest.tag} was rolled back before; not retried until a newer "
                    "release appears (or --clear-rejected)")
    now = Release.parse(current)
    if now is not None and latest <= now:
        return Plan(Action.CHECK, current, None, f"{current} is the latest release")
    return Plan(Action.UPGRADE, current, latest.tag)


@attrs.define
class HealthRecord:
    version: str
    window: float
    seconds: float
    verdict: str  # healthy | docker | window | deploy-failed
    reason: str = ""
    started_at: float = 0.0  # unix time the window started (the deploy had returned)
    decided_at: float = 0.0  # unix time of the decision


@attrs.define
class ReconcileResult:
    app: str
    recipe: str
    domain: str
    outcome: Outcome | None = None
    plan: bool = False
    current: str | None = None
    latest: str | None = None
    attempted: str | None = None
    running: str | None = None
    last_good: str | None = None
    recovered: bool | None = None
    reason: str = ""
    note: str = ""
    flagged: list[str] = attrs.Factory(list)
    notes: list[dict[str, str]] = attrs.Factory(list)
    steps: list[str] = attrs.Factory(list)
    health: list[HealthRecord] = attrs.Factory(list)
    alert: str | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.plan or self.outcome is None:
            return 0
        return EXIT_CODES[self.outcome]

    def to_json(self) -> str:
        data = attrs.asdict(self, value_serializer=lambda _i, _a, v: v.value if isinstance(v, enum.Enum) else v)
        return json.dumps(data, indent=2, sort_keys=True)


def utc_stamp() -> str:
    """Now, to the microsecond: tasks of a deploy are those created after it."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def healthcheck_floor(specs: list[dict[str, Any]], image_healthchecks: dict[str, dict[str, Any]]) -> float:
    """The slowest service's start_period + interval x retries, in seconds."""
    floor = 0.0
    for spec in specs:
        container = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
        check = container.get("Healthcheck") or image_healthchecks.get(container.get("Image", "")) or {}
        test = check.get("Test") or []
        if not test or test[0] == "NONE":
            continue
        interval = (check.get("Interval") or 0) / NANO or DEFAULT_INTERVAL
        retries = check.get("Retries") or DEFAULT_RETRIES
        start = (check.get("StartPeriod") or 0) / NANO
        floor = max(floor, start + interval * retries)
    return floor


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
        self.dir = config.state / "infra" / name
        self.abra_dir = self.dir / "abra"
        self.calls = proc.Calls()
        self.abra = Abra(config.abra, self.abra_dir, config.server, config.timeouts.abra, self.calls)
        self.client = client or engine.connect()
        self.stack = engine.Stack(self.client, stack_name(self.domain))
        self.snapshots = Snapshots(self.dir / "snapshot", self.calls)
        self.alerts = Alerts(config.state, config.alerts)
        self.result = ReconcileResult(name, self.recipe.value, self.domain.value)
        self._mirror: Path | None = None

    # -- state files -------------------------------------------------------------------

    @property
    def last_good_path(self) -> Path:
        return self.dir / "last_good"

    @property
    def rejected_path(self) -> Path:
        return self.dir / "rejected"

    @property
    def failed_path(self) -> Path:
        return self.dir / "rollback-failed"

    def last_good(self) -> str | None:
        try:
            return self.last_good_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _set_last_good(self, version: str) -> None:
        if self.last_good() != version:
            write_atomic(self.last_good_path, version + "\n")
            self.result.steps.append(f"last_good := {version}")

    def rejected(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.rejected_path.read_text()))
        except FileNotFoundError:
            return {}

    def _reject(self, version: str, reason: str) -> None:
        known = self.rejected()
        known[version] = {"at": utc_stamp(), "reason": reason[:500]}
        write_atomic(self.rejected_path, json.dumps(known, indent=2, sort_keys=True) + "\n")
        self.result.steps.append(f"rejected {version}")

    def clear_rejected(self) -> list[str]:
        with self._locked("clear rejected"):
            versions = sorted(self.rejected())
            self.rejected_path.unlink(missing_ok=True)
            return versions

    def clear_failed(self) -> dict[str, Any] | None:
        with self._locked("clear rollback-failed"):
            try:
                marker = json.loads(self.failed_path.read_text())
            except FileNotFoundError:
                return None
            self.failed_path.unlink()
            return marker

    # -- discovery (reads only) ----------------------------------------------------------

    def _deployed(self) -> bool:
        return bool(self.stack.services())

    def _current(self) -> str | None:
        """The release running now: what abra recorded; last_good when nothing is deployed."""
        recorded = self.abra.recorded_version(self.domain)
        if recorded is None:
            return None
        if not self._deployed():
            return self.last_good() or recorded
        return recorded

    @contextmanager
    def _upstream(self) -> Iterator[Path]:
        """A throwaway mirror of the recipe repository: its tags and release notes."""
        with tempfile.TemporaryDirectory(prefix=f"ccci-infra-{self.name}-") as tmp:
            mirror = Path(tmp) / "mirror.git"
            proc.run(["git", "clone", "--quiet", "--mirror", "--", self.config.recipe_url(self.recipe), str(mirror)],
                     env={"GIT_TERMINAL_PROMPT": "0"}, calls=self.calls, timeout=600)
            self._mirror = mirror
            try:
                yield mirror
            finally:
                self._mirror = None

    def _releases(self, mirror: Path) -> list[Release]:
        tags = proc.run(["git", "--git-dir", str(mirror), "tag", "--list"], calls=self.calls, timeout=60)
        return releases(tags.output.split())

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
                with interruptible(), self._locked("reconcile"):
                    self._run(dry_run=False)
        finally:
            self.result.seconds = round(time.monotonic() - began, 2)
            self.result.last_good = self.last_good()
            if self.abra.env_file(self.domain).exists():
                self.result.running = self.abra.recorded_version(self.domain) if self._deployed() else None
        return self.result

    def _run(self, *, dry_run: bool) -> None:
        blocked = self.failed_path.exists()
        current = self._current()
        self.result.current = current
        if blocked:
            marker = json.loads(self.failed_path.read_text())
            self.result.outcome = Outcome.ROLLBACK_FAILED
            self.result.attempted = marker.get("attempted")
            self.result.recovered = False
            self.result.reason = f"left in place since {marker.get('at')}: {marker.get('reason', '')}"
            self.result.note = "a rollback failed earlier; nothing was touched. Fix the app, then --clear-failed"
            return
        with self._upstream() as mirror:
            available = self._releases(mirror)
            self.result.latest = max(available).tag if available else None
            what = plan(current, available, set(self.rejected()), blocked=False)
            self.result.note = what.note
            if what.action is Action.UPGRADE:
                assert what.current is not None and what.target is not None
                decision = SafetyGate(RepoNotes(mirror, self.calls)).check(what.current, what.target, available)
                self.result.notes = [attrs.asdict(n) for n in decision.notes]
                if decision.verdict.held:
                    self._hold(decision, what.current, what.target, dry_run)
                    return
            if dry_run:
                self._describe(what)
                return
            if what.action is Action.INSTALL:
                assert what.target is not None
                self._install(what.target)
            elif what.action is Action.CHECK:
                assert what.current is not None
                self._check(what.current)
            else:
                assert what.current is not None and what.target is not None
                self._upgrade(what.current, what.target)

    def _describe(self, what: Plan) -> None:
        """--plan: say what would happen; nothing is changed."""
        window = self.spec.health.window
        gate = f"health gate (window >= {window}s, {self.spec.health.samples} healthy samples, GET {self.spec.health.path})"
        if what.action is Action.INSTALL:
            steps = [f"app new {self.recipe} {what.target}", "secret generate --all", f"deploy {what.target}", gate]
        elif what.action is Action.CHECK:
            steps = ([f"deploy {what.current} (nothing is deployed)"] if not self._deployed() else []) + [
                f"check {what.current} is healthy"]
        else:
            steps = [f"safety gate: proceed ({what.current} -> {what.target})", f"last_good := {what.current}"]
            if self.spec.stateful:
                steps += ["undeploy", "snapshot volumes"]
            steps += [f"deploy {what.target}", gate, f"healthy: last_good := {what.target}",
                      "unhealthy: " + ("undeploy, restore snapshot, " if self.spec.stateful else "")
                      + f"redeploy {what.current}, reject {what.target}, alert"]
        self.result.steps = [f"would {step}" for step in steps]
        self.result.attempted = what.target

    # -- hold ---------------------------------------------------------------------------

    def _hold(self, decision: Decision, current: str, latest: str, dry_run: bool) -> None:
        outcome = HELD[decision.verdict]
        self.result.outcome = outcome
        self.result.reason = decision.why
        self.result.flagged = list(decision.flagged)
        self.result.running = current
        if dry_run:
            self.result.steps = [f"would hold on {current}: {decision.why}", "would alert"]
            return
        notes = decision.notes_text() or "(no release notes found)"
        self.result.alert = str(self.alerts.send(
            self.name, outcome.value,
            f"{self.name}: {latest} held on {current} ({outcome.value})",
            f"{self.name} stays on {current}; {latest} needs an operator: {decision.why}\n\n"
            f"Release notes:\n{notes}",
            current=current, latest=latest, reason=decision.why, flagged=list(decision.flagged),
            release_notes=[attrs.asdict(n) for n in decision.notes],
        ))

    # -- health ---------------------------------------------------------------------------

    def _endpoint(self) -> health.Endpoint:
        if self.config.ingress is Ingress.HOST_PORT:
            port = self.stack.published_port("app")
            return health.Endpoint(f"http://127.0.0.1:{port}", self.domain.value)
        return health.Endpoint(f"https://{self.domain.value}", self.domain.value)

    def _probe(self) -> str | None:
        """One HTTP sample: None when the app answers as configured, else why not."""
        settings = self.spec.health
        try:
            status, body = self._endpoint().get(settings.path, timeout=min(5.0, max(1.0, settings.poll * 3)))
        except (OSError, engine.EngineError, http.client.HTTPException) as error:
            return f"GET {settings.path}: {error}"
        if status not in settings.status:
            return f"GET {settings.path}: HTTP {status}"
        if settings.contains is not None and settings.contains not in body:
            return f"GET {settings.path}: the body lacks {settings.contains!r}"
        return None

    def window(self) -> float:
        """The health window: the configured one, raised to what the healthchecks need."""
        specs = [service.attrs["Spec"] for service in self.stack.services()]
        images: dict[str, dict[str, Any]] = {}
        for spec in specs:
            image = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
            if image and not spec["TaskTemplate"]["ContainerSpec"].get("Healthcheck"):
                try:
                    images[image] = self.client.images.get(image).attrs.get("Config", {}).get("Healthcheck") or {}
                except docker.errors.DockerException:
                    pass
        return max(float(self.spec.health.window), healthcheck_floor(specs, images))

    def _gate(self, version: str, since: str, *, observe: bool = True) -> HealthRecord:
        """The health gate for what was just deployed (or, observe=False, what runs now)."""
        settings = self.spec.health
        began = time.monotonic()
        window = self.window()
        record = HealthRecord(version, window, 0.0, "healthy", started_at=time.time())
        try:
            health.wait_converged(
                self.stack, window, started_iso=since, settle=settings.samples, poll=settings.poll,
                observe=window if observe else 0.0, probe=self._probe,
            )
        except health.DockerVerdict as verdict:
            record.verdict, record.reason = "docker", str(verdict)
        except health.NotHealthy as why:
            record.verdict, record.reason = "window", str(why)
        except engine.EngineError as error:
            record.verdict, record.reason = "window", str(error)
        record.seconds = round(time.monotonic() - began, 2)
        record.decided_at = time.time()
        self.result.health.append(record)
        log.info("health gate for %s %s: %s after %.1fs of a %.0fs window%s", self.name, version,
                 record.verdict, record.seconds, window, f" ({record.reason})" if record.reason else "")
        return record

    def _deploy(self, version: str, *, upgrade: bool = False) -> HealthRecord:
        """Deploy `version` and health-gate it."""
        since = utc_stamp()
        self.result.steps.append(f"deploy {version}")
        try:
            if upgrade and self._deployed():
                self.abra.upgrade(self.domain, version)
            else:
                self.abra.deploy(self.domain, version, force=self._deployed())
        except proc.CommandError as error:
            now = time.time()
            record = HealthRecord(version, 0.0, 0.0, "deploy-failed", proc.describe(error), now, now)
            self.result.health.append(record)
            log.info("deploy of %s %s failed: %s", self.name, version, record.reason)
            return record
        return self._gate(version, since)

    # -- steps ----------------------------------------------------------------------------

    def _ensure_abra_dir(self) -> None:
        if not (self.abra_dir / "servers" / self.config.server).is_dir():
            self.abra.server_add_local()
        path = self.abra.recipe_dir(self.recipe)
        if not (path / ".git").is_dir():
            Checkout.clone(self.config.recipe_url(self.recipe), path, self.calls)

    def _sync_checkout(self) -> None:
        """Bring the new tags into the app's checkout, from the mirror the gate read."""
        assert self._mirror is not None
        checkout = Checkout(self.abra.recipe_dir(self.recipe), self.calls)
        checkout.git("fetch", "--quiet", "--force", str(self._mirror), "+refs/tags/*:refs/tags/*")

    def _undeploy(self) -> None:
        if self._deployed():
            self.abra.undeploy(self.domain)
            self.result.steps.append("undeploy")
        if not self.stack.wait_gone(self.config.timeouts.undeploy):
            raise ReconcileError(f"{self.stack.name} did not go away after undeploy")

    def _install(self, version: str) -> None:
        self.result.attempted = version
        self._ensure_abra_dir()
        if not self.abra.env_file(self.domain).exists():  # else: an earlier install stopped half-way
            self.abra.app_new(self.recipe, self.domain, version)
            self.abra.secret_generate(self.domain)
            self.result.steps += [f"app new {version}", "secret generate --all"]
        record = self._deploy(version)
        if record.verdict == "healthy":
            self._set_last_good(version)
            self.result.outcome = Outcome.INSTALLED
            self._alert("installed", f"{self.name}: installed {version}", f"{self.name} installed at {version}, healthy.",
                        version=version)
            return
        self._reject(version, record.reason)
        self.result.outcome = Outcome.INSTALL_FAILED
        self.result.reason = record.reason
        self._alert("install-failed", f"{self.name}: install of {version} is not healthy",
                    f"{self.name} was installed at {version} but is not healthy: {record.reason}\n"
                    "There is no earlier release to go back to; it is left as it is.",
                    attempted=version, reason=record.reason)

    def _check(self, current: str) -> None:
        self._ensure_abra_dir()
        if self._deployed():
            record = self._gate(current, utc_stamp(), observe=False)
        else:  # nothing runs (an operator undeployed it, or a crash did): start the known release
            self._sync_checkout()
            record = self._deploy(current)
        if record.verdict == "healthy":
            self._set_last_good(current)
            self.result.outcome = Outcome.NOOP_HEALTHY
            return
        self.result.outcome = Outcome.UNHEALTHY
        self.result.reason = record.reason
        self._alert("unhealthy", f"{self.name}: {current} is not healthy",
                    f"{self.name} runs {current}, which is not healthy: {record.reason}\n"
                    "Nothing was changed.", current=current, reason=record.reason)

    def _upgrade(self, current: str, latest: str) -> None:
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
                                        commit=self._commit_of(current))
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
        if record.verdict == "healthy":
            self._set_last_good(latest)
            self.result.outcome = Outcome.UPGRADED
            self._alert("upgraded", f"{self.name}: upgraded {current} -> {latest}",
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
            record = self._deploy(last_good)
            recovered = record.verdict == "healthy"
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
            self._alert("rolled-back", f"{self.name}: {attempted} rolled back to {last_good}",
                        f"{self.name}: {attempted} was not healthy ({reason}). Rolled back to {last_good}"
                        + (" and its data snapshot" if restore else "") + f", which is healthy. {attempted} "
                        "will not be tried again until a newer release appears.", **details)
            return
        self.result.outcome = Outcome.ROLLBACK_FAILED
        self.result.reason = f"{reason}; rollback to {last_good} failed: {failure}"
        marker = {"at": utc_stamp(), "attempted": attempted, "last_good": last_good,
                  "reason": self.result.reason}
        write_atomic(self.failed_path, json.dumps(marker, indent=2, sort_keys=True) + "\n")
        self._alert("rollback-failed", f"{self.name}: ROLLBACK FAILED, needs a human",
                    f"{self.name}: {attempted} was not healthy ({reason}) and the rollback to {last_good} "
                    f"is not healthy either ({failure}). Everything is left in place; reconciles of "
                    f"{self.name} do nothing until an operator clears it (ccci-reconcile {self.name} "
                    "--clear-failed).", **{**details, "failure": failure})

    def _commit_of(self, version: str) -> str:
        assert self._mirror is not None
        found = proc.run(["git", "--git-dir", str(self._mirror), "rev-parse", "--verify", "--quiet",
                          f"refs/tags/{version}^{{commit}}"], check=False, calls=self.calls, timeout=60)
        return found.output.strip() if found.exit_code == 0 else ""

    def _alert(self, kind: str, title: str, message: str, **details: object) -> None:
        self.result.alert = str(self.alerts.send(self.name, kind, title, message, **details))
