"""The nightly sweep: warm infra first, then every enrolled recipe, cold, one at a time.

Order and rules:
1. Refuses to start while another sweep holds the `nightly` lock, or while any
   run holds a run slot (a lock, never a process-name match): it says who.
2. Prunes stale state (canonicals of recipes no longer enrolled) and reaps
   what runs that are gone left: stacks, ABRA_DIRs, Keycloak realms.
3. Reconciles every infra app (`ccci-reconcile APP`, health-gated with
   rollback); a rolled-back or failed app is reported, and the sweep goes on
   against the healthy prior version.
4. Cold-runs every enrolled recipe at latest, serially, each as its own
   `ccci-run` process bounded by the recipe's `timeout` (SIGTERM first, so the
   run tears down; SIGKILL after a grace). Green enrolled canonicals promote
   (ccci-run does that); red ones do not.
5. Prints one JSON summary; exits 1 and raises an alert when any recipe was
   red or any infra app rolled back or failed.

A child's result is read with the function its writer uses to write it:
ccci-reconcile's stdout with `ReconcileResult.from_json` (ccci.pure.plan),
ccci-run's result file with `results.from_json`; its exit code is judged by
`ccci.pure.plan.went_wrong`, where the exit codes are defined.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import sys
from pathlib import Path

import attrs
import cattrs
import docker

from ccci.capabilities import capacity, locks, prune, reaper, status_page
from ccci.capabilities.alerts import Alerts
from ccci.pure import results
from ccci.pure.config import Config
from ccci.pure.plan import ExitCode, ReconcileResult, went_wrong
from ccci.seams import proc
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")

TEARDOWN_GRACE = 300
NO_OUTCOME = "error"  # an infra app's `outcome` when ccci-reconcile printed no result


class RecipeStatus(enum.Enum):
    """How one recipe's cold run in the sweep ended."""

    PASSED = "passed"
    FAILED = "failed"  # the run finished red
    TIMED_OUT = "timed-out"  # stopped at the recipe's timeout
    ERROR = "error"  # ccci-run itself failed: no result to read


class SweepStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"


@attrs.define
class InfraOutcome:
    app: str
    exit_code: int | None
    outcome: str  # a reconcile Outcome's value, or NO_OUTCOME
    detail: str = ""


@attrs.define
class RecipeOutcome:
    recipe: str
    status: RecipeStatus
    seconds: float
    reason: str = ""
    promotion: str = ""
    artifacts: str = ""


@attrs.define
class NightlyResult:
    started: str
    status: SweepStatus = SweepStatus.PASSED
    pruned: list[str] = attrs.Factory(list)
    reaped: list[str] = attrs.Factory(list)
    infra: list[InfraOutcome] = attrs.Factory(list)
    recipes: list[RecipeOutcome] = attrs.Factory(list)
    reason: str = ""
    folder: str = ""

    def to_json(self) -> str:
        return json.dumps(cattrs.unstructure(self), indent=2, sort_keys=True)


def _ccci(module: str) -> list[str]:
    return [sys.executable, "-m", f"ccci.entry.{module}"]


def infra_outcome(app: str, exit_code: int | None, stdout: str) -> InfraOutcome:
    """What a `ccci-reconcile APP` child reported: its result on stdout, if it printed one."""
    try:
        reported = ReconcileResult.from_json(stdout)
    except ValueError:  # ccci's own error or bad input: one line on stderr, nothing on stdout
        return InfraOutcome(app, exit_code, NO_OUTCOME)
    outcome = reported.outcome.value if reported.outcome is not None else NO_OUTCOME
    return InfraOutcome(app, exit_code, outcome, reported.reason)


def recipe_outcome(recipe: str, exit_code: int | None, seconds: float, result_text: str | None,
                   errors: str = "") -> RecipeOutcome:
    """What a `ccci-run RECIPE --result-file F` child reported in F (None: it wrote none)."""
    try:
        run = results.from_json(result_text) if result_text is not None else None
    except (ValueError, TypeError, KeyError, AttributeError, cattrs.BaseValidationError):
        run = None  # not a run's result (cattrs reads a JSON array's items as keys: AttributeError)
    if run is None:
        return RecipeOutcome(recipe, RecipeStatus.ERROR, seconds,
                             f"ccci-run exited {exit_code}: {errors.strip().splitlines()[-1:]}")
    passed = exit_code == ExitCode.OK and run.status is results.Status.PASSED
    return RecipeOutcome(recipe, RecipeStatus.PASSED if passed else RecipeStatus.FAILED, float(run.seconds),
                         run.reason, run.promotion, run.artifacts)


class Nightly:
    def __init__(self, config: Config, config_path: Path, client: docker.DockerClient):
        self.config = config
        self.config_path = config_path
        self.client = client
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.folder = config.state / "nightly" / stamp
        self.calls = proc.Calls(self.folder / "calls")
        self.result = NightlyResult(started=stamp, folder=str(self.folder))

    def run(self) -> NightlyResult:
        with status_page.refreshed_after(self.config), locks.hold(self.config.state, "nightly", "nightly sweep", timeout=0):
            busy = capacity.runs_in_flight(self.config)
            if busy:
                raise locks.Busy(f"runs in flight ({'; '.join(busy)}): the sweep does not start; try later")
            self.folder.mkdir(parents=True, exist_ok=True)
            self.result.pruned = prune.prune(self.config, self.client)
            self._reap()
            for app in sorted(self.config.infra):
                self.result.infra.append(self._reconcile(app))
            for recipe in sorted(self.config.recipes):
                self.result.recipes.append(self._cold(recipe))
            self._judge()
            write_atomic(self.folder / "summary.json", self.result.to_json())
        return self.result

    def _reap(self) -> None:
        """Everything of runs that are gone: stacks, ABRA_DIRs, realms (see capabilities/reaper.py)."""
        self.result.reaped = reaper.reap(self.config, self.client).names()

    def _reconcile(self, app: str) -> InfraOutcome:
        log.info("nightly: reconciling %s", app)
        try:
            done = proc.run(
                [*_ccci("reconcile"), app, "--config", str(self.config_path)],
                check=False, timeout=3600, term_grace=TEARDOWN_GRACE, stderr_apart=True, calls=self.calls,
            )
        except proc.CommandError as error:
            return InfraOutcome(app, error.exit_code, NO_OUTCOME, error.why)
        outcome = infra_outcome(app, done.exit_code, done.output)
        log.info("nightly: %s: %s (exit %d)", app, outcome.outcome, done.exit_code)
        return outcome

    def _cold(self, recipe: str) -> RecipeOutcome:
        timeout = self.config.recipes[recipe].timeout
        result_file = self.folder / f"{recipe}.json"
        log.info("nightly: cold run of %s (at most %ds)", recipe, timeout)
        try:
            done = proc.run(
                [*_ccci("run"), recipe, "--config", str(self.config_path), "--result-file", str(result_file)],
                check=False, timeout=timeout, term_grace=TEARDOWN_GRACE, stderr_apart=True, calls=self.calls,
            )
        except proc.CommandError as error:
            status = RecipeStatus.TIMED_OUT if error.exit_code is None else RecipeStatus.ERROR
            return RecipeOutcome(recipe, status, float(timeout), error.why)
        text = result_file.read_text() if result_file.is_file() else None
        outcome = recipe_outcome(recipe, done.exit_code, done.seconds, text, done.errors)
        log.info("nightly: %s: %s%s", recipe, outcome.status.value,
                 f" ({outcome.promotion})" if outcome.promotion else "")
        return outcome

    def _judge(self) -> None:
        red = [r.recipe for r in self.result.recipes if r.status is not RecipeStatus.PASSED]
        infra_bad = [i.app for i in self.result.infra if went_wrong(i.exit_code)]
        held = [i.app for i in self.result.infra if i.exit_code == ExitCode.HELD]
        problems = []
        if red:
            problems.append(f"red: {', '.join(red)}")
        if infra_bad:
            problems.append(f"infra rolled back or failed: {', '.join(infra_bad)}")
        if held:
            log.info("nightly: held for an operator: %s", ", ".join(held))
        if problems:
            self.result.status = SweepStatus.FAILED
            self.result.reason = "; ".join(problems)
            Alerts(self.config.state, self.config.alerts).send(
                "nightly", "red", "nightly sweep is red", self.result.reason,
                recipes=red, infra=infra_bad, summary=str(self.folder / "summary.json"),
            )
