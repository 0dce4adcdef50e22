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
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from pathlib import Path

import attrs
import cattrs
import docker

from ccci.capabilities import capacity, locks, prune, reaper
from ccci.seams import proc
from ccci.capabilities.alerts import Alerts
from ccci.pure.config import Config
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")

# ccci-reconcile's exit codes (docs/reconcile.md) and what they mean here.
RECONCILE_OK = {0}
RECONCILE_HELD = {3}
TEARDOWN_GRACE = 300


@attrs.define
class InfraOutcome:
    app: str
    exit_code: int | None
    outcome: str
    detail: str = ""


@attrs.define
class RecipeOutcome:
    recipe: str
    status: str  # passed | failed | timed-out | error
    seconds: float
    reason: str = ""
    promotion: str = ""
    artifacts: str = ""


@attrs.define
class NightlyResult:
    started: str
    status: str = "passed"
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


def _last_json(text: str) -> dict:
    """The JSON object a ccci executable printed on stdout."""
    start = text.find("{")
    if start < 0:
        return {}
    try:
        return json.loads(text[start:])
    except ValueError:
        return {}


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
        with locks.hold(self.config.state, "nightly", "nightly sweep", timeout=0):
            busy = capacity.runs_in_flight(self.config)
            if busy:
                raise locks.Busy(f"runs in flight ({'; '.join(busy)}): the sweep does not start; try later")
            self.folder.mkdir(parents=True, exist_ok=True)
            self.result.pruned = prune.prune(self.config, self.client)
            self._reap_realms()
            for app in sorted(self.config.infra):
                self.result.infra.append(self._reconcile(app))
            for recipe in sorted(self.config.recipes):
                self.result.recipes.append(self._cold(recipe))
            self._verdict()
            write_atomic(self.folder / "summary.json", self.result.to_json())
        return self.result

    def _reap_realms(self) -> None:
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
            return InfraOutcome(app, error.exit_code, "error", error.why)
        data = _last_json(done.output)
        outcome = InfraOutcome(app, done.exit_code, str(data.get("outcome", "error")),
                               str(data.get("reason", "") or data.get("detail", "")))
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
            status = "timed-out" if error.exit_code is None else "error"
            return RecipeOutcome(recipe, status, float(timeout), error.why)
        data = _last_json(result_file.read_text()) if result_file.is_file() else {}
        if not data:
            return RecipeOutcome(recipe, "error", done.seconds,
                                 f"ccci-run exited {done.exit_code}: {done.errors.strip().splitlines()[-1:]}")
        status = "passed" if done.exit_code == 0 and data.get("status") == "passed" else "failed"
        log.info("nightly: %s: %s%s", recipe, status, f" ({data.get('promotion')})" if data.get("promotion") else "")
        return RecipeOutcome(recipe, status, float(data.get("seconds", done.seconds)), str(data.get("reason", "")),
                             str(data.get("promotion", "")), str(data.get("artifacts", "")))

    def _verdict(self) -> None:
        red = [r.recipe for r in self.result.recipes if r.status != "passed"]
        infra_bad = [i.app for i in self.result.infra
                     if i.exit_code not in RECONCILE_OK | RECONCILE_HELD]
        held = [i.app for i in self.result.infra if i.exit_code in RECONCILE_HELD]
        problems = []
        if red:
            problems.append(f"red: {', '.join(red)}")
        if infra_bad:
            problems.append(f"infra rolled back or failed: {', '.join(infra_bad)}")
        if held:
            log.info("nightly: held for an operator: %s", ", ".join(held))
        if problems:
            self.result.status = "failed"
            self.result.reason = "; ".join(problems)
            Alerts(self.config.state, self.config.alerts).send(
                "nightly", "red", "nightly sweep is red", self.result.reason,
                recipes=red, infra=infra_bad, summary=str(self.folder / "summary.json"),
            )
