"""The cold run: a recipe deployed from nothing, tested stage by stage, torn down.

A cold run owns one app, `<recipe[:4]>-<6hex>.<base>`, one stack and one
ABRA_DIR, all named by its run id, so two runs never touch each other.
Stages run in the fixed order install, upgrade, backup, restore, custom; each
brings the app into the state it needs, so any subset can be asked for. After
a stage fails the rest are skipped. Teardown always runs (on success, failure,
exception, SIGINT and SIGTERM) and is itself checked: after it, nothing
labelled with the run's stack is left on the engine and its ABRA_DIR is gone.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable

import attrs
import docker

from ccci.seams import proc
from ccci.pure import results
from ccci.capabilities.app import (
    AppUnderTest,
    Skip,
    StageFailed,
    resolve_target,
    utc_now_iso,
)
from ccci.pure.config import Config
from ccci.pure.names import BadInput, Domain, RecipeName, Ref, RunId, Stage, cold_domain
from ccci.capabilities.recipe import Checkout
from ccci.pure.results import Mode, RunResult, StageResult, Status
from ccci.capabilities.signals import Interrupted, interruptible, signals_deferred
from ccci.seams.files import write_atomic
from ccci.capabilities import artifacts

log = logging.getLogger("ccci")


@attrs.frozen
class ColdRequest:
    recipe: RecipeName
    ref: Ref | None
    stages: tuple[Stage, ...]


class ColdRun(AppUnderTest):
    """One cold run. `execute()` returns its result; it never raises for a red run."""

    def __init__(
        self,
        config: Config,
        request: ColdRequest,
        *,
        run_id: RunId | None = None,
        client: docker.DockerClient | None = None,
    ):
        self.request = request
        self.run_id = run_id or RunId.new()
        domain = cold_domain(request.recipe, self.run_id, config.domain)
        folder = config.state / "runs" / f"{request.recipe.value}-{self.run_id.value}"
        result = RunResult(
            recipe=request.recipe.value,
            ref=request.ref.value if request.ref else None,
            mode=Mode.COLD,
            run_id=self.run_id.value,
            domain=domain.value,
            stack="",
            artifacts=str(folder),
        )
        super().__init__(
            config, request.recipe, domain, config.state / "abra" / self.run_id.value,
            folder, result, client,
        )
        result.stack = self.stack_name
        self.marker: str | None = None  # what the backup stage wrote before backing up
        self._bad_input = False

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunResult:
        with interruptible():
            return self._execute()

    def _execute(self) -> RunResult:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        log.info("run %s: %s cold at %s", self.run_id, self.request.recipe, self.domain)
        try:
            self._prepare()
            # Only a run whose input held up may touch Keycloak or clear old run folders.
            artifacts.prune_runs(self.config.state / "runs", self.config.keep_runs, keep=self.folder)
            self.open_sso(self.run_id.value)
            self._stages()
        except Interrupted as stop:
            self.result.reason = str(stop)
            self._skip_rest(str(stop))
            self._keep_evidence()
            raise
        except BadInput:
            self._bad_input = True
            raise
        except Exception as error:  # a bug or an engine failure: still tear down
            self.result.reason = self.result.reason or f"{type(error).__name__}: {error}"
            self._keep_evidence()
        finally:
            with signals_deferred():
                self._teardown()
                self.result.seconds = time.monotonic() - started
                self.result.call_seconds = self.calls.seconds
                if self._bad_input:  # refused input leaves nothing behind, not even a folder
                    shutil.rmtree(self.folder, ignore_errors=True)
                else:
                    self._finish()
        return self.result

    def _prepare(self) -> None:
        url = self.config.recipe_url(self.request.recipe)
        log.info("cloning %s", url)
        try:
            self.checkout = Checkout.clone(url, self.abra.recipe_dir(self.request.recipe), self.calls)
        except proc.CommandError as error:
            raise BadInput(
                f"cannot clone recipe {self.request.recipe} from {url}: {error.last_lines(2)}"
            ) from None
        self.target = resolve_target(self.checkout, self.request.ref, self.request.recipe)
        self.result.commit = self.target.commit
        self.result.to_version = self.target.version
        self.result.from_version = self.target.start.tag if self.target.start else None
        log.info(
            "target %s (commit %s); upgrade starts from %s",
            self.target.version, self.target.commit[:12], self.result.from_version or "nothing",
        )
        self.abra.server_add_local()

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
            self.run_stage(stage.value, actions[stage])

    def _skip_rest(self, why: str) -> None:
        done = {s.name for s in self.result.stages}
        for stage in self.request.stages:
            if stage.value not in done:
                self.result.stages.append(StageResult(stage.value, Status.SKIPPED, 0.0, why))

    # -- stages --------------------------------------------------------------------

    def install(self) -> str:
        assert self.checkout is not None and self.target is not None
        self._checkout_target()
        report = self.abra.lint(self.request.recipe)
        if report.errors:
            raise StageFailed(
                "abra recipe lint: " + "; ".join(f"{r.ref} {r.rule}" for r in report.errors)
            )
        self._ensure_app()
        if self._deployed():
            self._undeploy_fresh()
        self._deploy_target(upgrade=False)
        return self._suites("install")

    def upgrade(self) -> str:
        assert self.target is not None
        start = self.target.start
        if start is None:
            raise Skip("the recipe has no earlier release to upgrade from")
        self._ensure_app()
        self._undeploy_fresh()
        since = utc_now_iso()
        self.abra.deploy(self.domain, start.tag)
        self._wait_up(since)
        self.result.from_version = start.tag
        value = f"upgrade-{secrets.token_hex(8)}"
        self._write_marker(value)
        self._deploy_target(upgrade=True)
        kept = self._read_marker()
        if kept != value:
            raise StageFailed(f"data written on {start.tag} did not survive the upgrade: {kept!r}")
        return self._suites("upgrade")

    def backup(self) -> str:
        self._require_backupbot()
        self._ensure_target_up()
        self.marker = f"backup-{secrets.token_hex(8)}"
        self._write_marker(self.marker)
        done = self.abra.backup_create(self.domain)
        log.info("backup: %s", done.output.strip().splitlines()[-1:] or "done")
        return "marker written, backup created"

    def restore(self) -> str:
        if self.marker is None:  # restore asked for alone: it needs a backup to restore
            self.backup()
        assert self.marker is not None
        self._write_marker(f"changed-{secrets.token_hex(8)}")
        since = utc_now_iso()
        self.abra.restore(self.domain)
        self._wait_up(since)
        back = self._read_marker()
        if back != self.marker:
            raise StageFailed(
                f"restore did not bring the backed-up data back: read {back!r}, "
                f"expected {self.marker!r} (an empty or stale backup?)"
            )
        return "marker restored exactly"

    def custom(self) -> str:
        assert self.checkout is not None
        self._ensure_target_up()
        return self._suites("custom", recipe_tests=self.checkout.tests_dir())

    def _teardown(self) -> None:
        began = time.monotonic()
        notes: list[str] = [note for note in [self.close_sso()] if note]
        has_env = self.abra.env_file(self.domain).exists()
        try:
            if self._deployed() and has_env:
                self._quiet(self.abra.undeploy, notes)
            with self._waiting():
                self.stack.wait_gone(self.config.timeouts.undeploy)
            if has_env:
                self._quiet(self.abra.volume_remove, notes)
                self._quiet(self.abra.secret_remove, notes)
                self._quiet(self.abra.remove, notes)
            abra_left = self.stack.leftovers()
            if abra_left:
                notes.append(f"abra left {abra_left}; removed by ccci")
                self.stack.remove_leftovers()
        except Exception as error:
            notes.append(f"teardown error: {error}")
            self.stack.remove_leftovers()
        shutil.rmtree(self.abra_dir, ignore_errors=True)
        with self._waiting():
            left = self._settled_leftovers()
        teardown = self.result.teardown
        teardown.seconds = time.monotonic() - began
        teardown.leftovers = left
        if self.abra_dir.exists():
            left.setdefault("abra_dir", []).append(str(self.abra_dir))
        teardown.status = Status.FAILED if left else Status.PASSED
        teardown.reason = "; ".join(notes + ([f"left behind: {left}"] if left else []))
        log.info("teardown: %s in %.1fs", teardown.status.value, teardown.seconds)

    def _settled_leftovers(self) -> dict[str, list[str]]:
        deadline = time.monotonic() + 30
        while True:
            left = self.stack.leftovers()
            if not left or time.monotonic() > deadline:
                return left
            self.stack.remove_leftovers()
            time.sleep(1)

    def _quiet(self, action: Callable[[Domain], proc.Completed], notes: list[str]) -> None:
        try:
            action(self.domain)
        except proc.CommandError as error:
            notes.append(f"{' '.join(error.argv[1:3])} failed: {error.last_lines(1)}")

    def _finish(self) -> None:
        stages_ok = all(s.status is not Status.FAILED for s in self.result.stages)
        complete = len(self.result.stages) == len(self.request.stages)
        ok = stages_ok and complete and not self.result.reason
        self.result.status = (
            Status.PASSED if ok and self.result.teardown.status is Status.PASSED else Status.FAILED
        )
        if ok and self.result.teardown.status is Status.FAILED:
            self.result.reason = f"teardown: {self.result.teardown.reason}"
        write_atomic(self.folder / "result.json", results.to_json(self.result))
        write_atomic(self.folder / "junit.xml", results.junit(self.result))
