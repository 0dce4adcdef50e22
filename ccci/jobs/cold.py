"""The cold run: a recipe deployed from nothing, tested stage by stage, torn down.

A cold run owns one app, `<recipe[:4]>-<6hex>.<base>`, one stack and one
ABRA_DIR, all named by its run id, so two runs never touch each other.
Stages run in the fixed order install, upgrade, backup, restore, custom; each
brings the app into the state it needs, so any subset can be asked for. After
a stage fails the rest are skipped. Teardown always runs (on success, failure,
exception, SIGINT and SIGTERM) and is itself checked: after it, nothing
labelled with the run's stack is left on the engine and its ABRA_DIR is gone.
Teardown never raises: if the Docker engine goes away, it waits for it to
come back (up to `timeouts.engine_back`) and tears down as usual; if it does
not come back, the result says so (leftovers unknown, the run's labels) and
the reaper (`ccci.capabilities.reaper`) removes what is left later.
`run_cold` is the job ccci-run calls: admission, the run, then promotion
when the run earned it.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable

import attrs
import docker

from ccci.capabilities import artifacts, capacity, health, progress, reaper, status_page, teardown
from ccci.capabilities.app import AppUnderTest, Skip, StageFailed, abra_identity, resolve_target
from ccci.capabilities.recipe import Checkout
from ccci.capabilities.signals import Interrupted, interruptible, signals_deferred
from ccci.jobs import promote
from ccci.pure.config import Config
from ccci.pure.names import BadInput, RecipeName, Ref, RunId, Stage, cold_domain
from ccci.pure.results import Mode, RunResult, StageResult, Status
from ccci.seams import proc

log = logging.getLogger("ccci")



@attrs.frozen
class ColdRequest:
    recipe: RecipeName
    ref: Ref | None
    stages: tuple[Stage, ...]


def run_cold(config: Config, run: ColdRun) -> RunResult:
    """ccci-run's job: a run slot, the run, then promotion if the run earned it.

    The promotion runs inside the run's slot; the result (with what the
    promotion did) is written to the run's folder again afterwards.
    """
    with status_page.refreshed_after(config):
        with capacity.admitted(config, f"cold run {run.run_id} of {run.request.recipe}", run.run_id):
            result = run.execute()
            promote.promote_if_earned(config, run.request.stages, result, run.app.client, run.folder / "promotion")
        artifacts.write_result(run.folder, result)
    return result


def git_errors(output: str) -> str:
    """git's own error lines (`fatal:`, `error:`), not its generic hints."""
    lines = [line.strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return " | ".join(errors or [line for line in lines if line][-1:])


class ColdRun:
    """One cold run. `execute()` returns its result; it never raises for a red run."""

    def __init__(
        self,
        config: Config,
        request: ColdRequest,
        *,
        run_id: RunId | None = None,
        client: docker.DockerClient | None = None,
    ):
        self.config = config
        self.request = request
        self.run_id = run_id or RunId.new()
        domain = cold_domain(request.recipe, self.run_id, config.domain)
        self.result, self.folder = artifacts.new_result(
            config, request.recipe, self.run_id, domain, Mode.COLD, request.ref,
        )
        self.app = AppUnderTest(
            config, request.recipe, domain, config.state / "abra" / self.run_id.value, self.folder, client,
        )
        self.marker: str | None = None  # what the backup stage wrote before backing up

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunResult:
        with interruptible():
            return self._execute()

    def _execute(self) -> RunResult:
        started = time.monotonic()
        app = self.app
        refused = False
        try:
            try:
                with progress.held_until_accepted():
                    log.info("run %s: %s cold at %s", self.run_id, self.request.recipe, app.domain)
                    self.result.abra = abra_identity(self.config.abra)
                    log.info("abra: %s", self.result.abra)
                    self._prepare()
            except BadInput:
                refused = True
                raise
            # Only a run whose input held up may touch Keycloak, reap or clear old run folders.
            self.folder.mkdir(parents=True, exist_ok=True)
            artifacts.prune_runs(self.config.state / "runs", self.config.keep_runs, keep=self.folder)
            reaper.reap_at_start(self.config, app.client, self.run_id, self.request.recipe)
            app.open_sso(self.run_id.value)
            self._stages()
        except Interrupted as stop:
            self.result.reason = str(stop)
            self._skip_rest(str(stop))
            app.keep_evidence()
            raise
        except BadInput:
            raise
        except Exception as error:  # a bug or an engine failure: still tear down
            self.result.reason = self.result.reason or f"{type(error).__name__}: {error}"
            app.keep_evidence()
        finally:
            if refused:  # nothing reached the engine yet; refused input leaves nothing behind
                shutil.rmtree(app.abra_dir, ignore_errors=True)
                artifacts.remove_folder(self.folder)
            else:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._close(started)
        return self.result

    def _close(self, started: float) -> None:
        with signals_deferred():
            teardown.tear_down(self.app, self.result.teardown, self.config.timeouts.engine_back)
            self.result.seconds = time.monotonic() - started
            self.result.call_seconds = self.app.calls.seconds
            self.result.wait_seconds = self.app.wait_seconds
            self._finish()

    def _prepare(self) -> None:
        app = self.app
        url = self.config.recipe_url(self.request.recipe)
        log.info("cloning %s", url)
        try:
            app.checkout = Checkout.clone(url, app.abra.recipe_dir(self.request.recipe), app.calls)
        except proc.CommandError as error:
            raise BadInput(
                f"cannot clone recipe {self.request.recipe} from {url}: {git_errors(error.output)}"
            ) from None
        app.target = resolve_target(app.checkout, self.request.ref, self.request.recipe)
        self.result.commit = app.target.commit
        self.result.to_version = app.target.version
        self.result.from_version = app.target.start.tag if app.target.start else None
        log.info(
            "target %s (commit %s); upgrade starts from %s",
            app.target.version, app.target.commit[:12], self.result.from_version or "nothing",
        )
        app.abra.server_add_local()

    def _stages(self) -> None:
        actions: dict[Stage, Callable[[], str]] = {
            Stage.INSTALL: self.install,
            Stage.UPGRADE: self.upgrade,
            Stage.BACKUP: self.backup,
            Stage.RESTORE: self.restore,
            Stage.CUSTOM: self.custom,
        }
        for stage in self.request.stages:
            if self.result.stage_failed():
                self.result.stages.append(
                    StageResult(stage.value, Status.SKIPPED, 0.0, "an earlier stage failed")
                )
                continue
            self.app.run_stage(self.result, stage.value, actions[stage])

    def _skip_rest(self, why: str) -> None:
        done = {s.name for s in self.result.stages}
        for stage in self.request.stages:
            if stage.value not in done:
                self.result.stages.append(StageResult(stage.value, Status.SKIPPED, 0.0, why))

    # -- stages --------------------------------------------------------------------

    def install(self) -> str:
        app = self.app
        app.checkout_target()
        report = app.abra.lint(self.request.recipe)
        if report.errors:
            raise StageFailed(
                "abra recipe lint: " + "; ".join(f"{r.ref} {r.rule}" for r in report.errors)
            )
        app.ensure_app()
        if app.deployed():
            app.undeploy_fresh()
        app.deploy_target(upgrade=False)
        return app.suites("install")

    def upgrade(self) -> str:
        app = self.app
        assert app.target is not None
        start = app.target.start
        if start is None:
            raise Skip("the recipe has no earlier release to upgrade from")
        app.ensure_app()
        app.undeploy_fresh()
        app.deploy_release(start.tag)
        self.result.from_version = start.tag
        value = f"upgrade-{secrets.token_hex(8)}"
        app.write_marker(value)
        app.deploy_target(upgrade=True)
        kept = app.read_marker()
        if kept != value:
            raise StageFailed(f"data written on {start.tag} did not survive the upgrade: {kept!r}")
        return app.suites("upgrade")

    def backup(self) -> str:
        app = self.app
        app.require_backupbot()
        app.ensure_target_up()
        self.marker = f"backup-{secrets.token_hex(8)}"
        app.write_marker(self.marker)
        done = app.abra.backup_create(app.domain)
        log.info("backup: %s", done.output.strip().splitlines()[-1:] or "done")
        return "marker written, backup created"

    def restore(self) -> str:
        app = self.app
        if self.marker is None:  # restore asked for alone: it needs a backup to restore
            self.backup()
        assert self.marker is not None
        app.write_marker(f"changed-{secrets.token_hex(8)}")
        since = health.utc_stamp()
        app.abra.restore(app.domain)
        app.wait_up(since)
        back = app.read_marker()
        if back != self.marker:
            raise StageFailed(
                f"restore did not bring the backed-up data back: read {back!r}, "
                f"expected {self.marker!r} (an empty or stale backup?)"
            )
        return "marker restored exactly"

    def custom(self) -> str:
        app = self.app
        assert app.checkout is not None
        app.ensure_target_up()
        return app.suites("custom", recipe_tests=app.checkout.tests_dir())

    def _finish(self) -> None:
        stages_ok = all(s.status is not Status.FAILED for s in self.result.stages)
        complete = len(self.result.stages) == len(self.request.stages)
        ok = stages_ok and complete and not self.result.reason
        self.result.status = (
            Status.PASSED if ok and self.result.teardown.status is Status.PASSED else Status.FAILED
        )
        if ok and self.result.teardown.status is Status.FAILED:
            self.result.reason = f"teardown: {self.result.teardown.reason}"
        artifacts.write_result(self.folder, self.result)
