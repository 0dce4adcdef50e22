"""What a reconcile of one infra app decides and reports, as values: no I/O.

- `plan()`: from what the reconcile found (the running version, the recipe's
  releases, the rejected ones, a rollback-failed marker) to one `Action`.
  A recipe none of whose tags is a release (`x.y.z+upstream`) is HELD as
  unparseable: nothing is installed or upgraded.
- `Outcome` and `ExitCode`: each outcome's exit code, defined here once and
  used by `ccci-reconcile` (which exits with it) and the nightly sweep
  (which reads it back).
- `describe()`: the `--plan` text, the steps a real run would take.
- `ReconcileResult`: the JSON `ccci-reconcile` prints on stdout, written by
  `to_json` and read back (by the nightly sweep) by `from_json`, one pair.
"""

from __future__ import annotations

import enum
import json

import attrs
import cattrs

from ccci.pure import strict
from ccci.pure.config import HealthSettings
from ccci.pure.versions import Release


class ReconcileError(Exception):
    """The reconcile could not even start (every release rejected, a broken checkout)."""


class Outcome(enum.Enum):
    """How a reconcile ended (the result's `outcome`)."""

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

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self]


class ExitCode(enum.IntEnum):
    """ccci-reconcile's exit codes (docs/reconcile.md), what a systemd unit acts on."""

    OK = 0  # nothing to do, or done and healthy
    ERROR = 1  # ccci's own error: engine unreachable, lock busy, every release rejected
    BAD_INPUT = 2
    HELD = 3  # an operator should decide
    ROLLED_BACK = 4  # healed itself
    ROLLBACK_FAILED = 5  # a human is needed now
    UNHEALTHY = 6  # a human is needed now


EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.NOOP_HEALTHY: ExitCode.OK,
    Outcome.INSTALLED: ExitCode.OK,
    Outcome.UPGRADED: ExitCode.OK,
    Outcome.HELD_MAJOR: ExitCode.HELD,
    Outcome.HELD_MANUAL_MIGRATION: ExitCode.HELD,
    Outcome.HELD_UNPARSEABLE: ExitCode.HELD,
    Outcome.ROLLED_BACK: ExitCode.ROLLED_BACK,
    Outcome.ROLLBACK_FAILED: ExitCode.ROLLBACK_FAILED,
    Outcome.UNHEALTHY: ExitCode.UNHEALTHY,
    Outcome.INSTALL_FAILED: ExitCode.UNHEALTHY,
}


def went_wrong(code: int | None) -> bool:
    """A reconcile's exit code that a sweep reports as a failure.

    Everything but done (0) and held (3, which alerted on its own): rolled
    back, rollback failed, unhealthy, ccci's own error, bad input, a signal,
    and no exit code at all (the reconcile timed out).
    """
    return code not in (ExitCode.OK, ExitCode.HELD)


class Action(enum.Enum):
    BLOCKED = "blocked"  # a rollback failed earlier: a human must clear it
    HOLD = "hold"  # no release can be told apart from another: the safety gate's unparseable
    INSTALL = "install"
    CHECK = "check"  # nothing to apply: verify the running release is healthy
    UPGRADE = "upgrade"


@attrs.frozen
class Plan:
    action: Action
    current: str | None
    target: str | None
    note: str = ""


def no_release_why(tags: list[str]) -> str:
    """Why a recipe whose tags hold no release is held."""
    if not tags:
        return "the recipe has no tags at all; no release (x.y.z+upstream) to reconcile to"
    shown = ", ".join(sorted(tags)[:5]) + (", ..." if len(tags) > 5 else "")
    return f"no tag of the recipe is a release (x.y.z+upstream): {shown}"


def plan(current: str | None, available: list[Release], rejected: set[str], blocked: bool,
         tags: list[str] | None = None) -> Plan:
    """What a reconcile does, from what it found. `tags`: every tag, to say why none is a release."""
    if blocked:
        return Plan(Action.BLOCKED, current, None, "a rollback failed earlier; clear it with --clear-failed")
    if not available:
        return Plan(Action.HOLD, current, None, no_release_why(tags or []))
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


def describe(what: Plan, *, recipe: str, health: HealthSettings, stateful: bool, deployed: bool) -> list[str]:
    """--plan: the steps a reconcile would take for an install, check or upgrade."""
    gate = f"health gate (window >= {health.window}s, {health.samples} healthy samples, GET {health.path})"
    if what.action is Action.INSTALL:
        steps = [f"app new {recipe} {what.target}", "secret generate --all", f"deploy {what.target}", gate]
    elif what.action is Action.CHECK:
        steps = ([] if deployed else [f"deploy {what.current} (nothing is deployed)"]) + [
            f"check {what.current} is healthy"]
    elif what.action is Action.UPGRADE:
        steps = [f"safety gate: proceed ({what.current} -> {what.target})", f"last_good := {what.current}"]
        if stateful:
            steps += ["undeploy", "snapshot volumes"]
        steps += [f"deploy {what.target}", gate, f"healthy: last_good := {what.target}",
                  "unhealthy: " + ("undeploy, restore snapshot, " if stateful else "")
                  + f"redeploy {what.current}, reject {what.target}, alert"]
    else:
        raise ValueError(f"a {what.action.value} plan takes no steps")
    return [f"would {step}" for step in steps]


class HealthVerdict(enum.Enum):
    """How the health gate judged one deploy (a health record's `verdict`)."""

    HEALTHY = "healthy"
    DOCKER = "docker"  # Docker's own verdict: a task rejected or failing, a container unhealthy
    WINDOW = "window"  # the window ran out: not converged, or the HTTP probe failing
    DEPLOY_FAILED = "deploy-failed"  # abra refused or failed the deploy itself


@attrs.define
class HealthRecord:
    version: str
    window: float
    seconds: float
    verdict: HealthVerdict
    reason: str = ""
    started_at: float = 0.0  # unix time the window started (the deploy had returned)
    decided_at: float = 0.0  # unix time of the decision

    @property
    def healthy(self) -> bool:
        return self.verdict is HealthVerdict.HEALTHY


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
    def exit_code(self) -> ExitCode:
        if self.plan or self.outcome is None:
            return ExitCode.OK
        return self.outcome.exit_code

    def to_json(self) -> str:
        """The one JSON object ccci-reconcile prints on stdout."""
        return json.dumps(_CONVERTER.unstructure(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReconcileResult:
        """Read what `to_json` wrote; ValueError when the text is not such a result."""
        return strict.record(text, cls, _CONVERTER, "a ccci-reconcile result")


_CONVERTER = cattrs.Converter(forbid_extra_keys=True)
