"""The quick run: a PR's head tested as an in-place upgrade of the warm canonical.

Under the app's lock: reattach the canonical at its recorded version (its
volumes restored to the known-good first if an earlier quick run used them),
upgrade it in place to the ref, run the generic upgrade and serving tests,
then the overlay and the recipe's own tests.
PASS: undeploy, keep the volumes (marked `used`); record and snapshot unchanged.
FAIL (or SIGINT/SIGTERM, or any error): undeploy, restore the known-good into
the volumes, verify it, leave the canonical idle; exit non-zero.
A quick run never promotes. Without a usable canonical it says why and runs
cold instead; the result's `mode` says what actually ran. `run_quick` is the
job ccci-quick calls: a run slot, then the run.
"""

from __future__ import annotations

import logging
import secrets
import time

import docker

from ccci.capabilities import artifacts, capacity, locks, progress, reaper, status_page
from ccci.capabilities.app import AppUnderTest, StageFailed, abra_identity, resolve_target
from ccci.capabilities.canonical import Canonical, Use, Volumes
from ccci.capabilities.signals import Interrupted, interruptible, signals_deferred
from ccci.jobs.cold import ColdRequest, ColdRun
from ccci.pure.config import Config
from ccci.pure.names import ALL_STAGES, BadInput, RecipeName, Ref, RunId
from ccci.pure.results import Mode, RunResult, Status
from ccci.pure.versions import Release
from ccci.seams import engine

log = logging.getLogger("ccci")

STAGES = ("reattach", "upgrade", "custom")


def run_quick(config: Config, run: QuickRun) -> RunResult:
    """ccci-quick's job: a run slot, then the quick run (or its cold fallback)."""
    with status_page.refreshed_after(config):
        with capacity.admitted(config, f"quick run {run.run_id} of {run.recipe} at {run.ref}", run.run_id):
            result = run.execute()
    return result


class QuickRun:
    def __init__(
        self,
        config: Config,
        recipe: RecipeName,
        ref: Ref,
        *,
        run_id: RunId | None = None,
        client: docker.DockerClient | None = None,
    ):
        self.config = config
        self.recipe = recipe
        self.ref = ref
        self.run_id = run_id or RunId.new()
        client = client or engine.connect()
        self.canonical = Canonical(config, recipe, client)
        self.result, self.folder = artifacts.new_result(
            config, recipe, self.run_id, self.canonical.domain, Mode.QUICK, ref, requested_mode=Mode.QUICK,
        )
        self.app = AppUnderTest(config, recipe, self.canonical.domain, self.canonical.abra_dir, self.folder, client)
        self._bad_input = False
        self._touched = False  # whether this run deployed or restored anything
        self._marked = False  # whether this run marked the canonical as in use

    def execute(self) -> RunResult:
        with interruptible():
            lock = locks.app_lock_name(self.recipe.value)
            what = f"quick run {self.run_id} of {self.recipe} at {self.ref}"
            with locks.hold(self.config.state, lock, what, self.config.timeouts.lock):
                usable, why = self.canonical.available()
                if usable:
                    return self._quick()
            return self._fall_back(why)

    def _fall_back(self, why: str) -> RunResult:
        log.info("no usable canonical (%s): falling back to a cold run", why)
        cold = ColdRun(
            self.config, ColdRequest(self.recipe, self.ref, ALL_STAGES),
            run_id=self.run_id, client=self.app.client,
        )
        result = cold.execute()
        result.requested_mode = Mode.QUICK
        result.note = f"quick requested; ran cold because {why}"
        artifacts.write_result(cold.folder, result)
        return result

    # -- the quick run proper (lock held) -------------------------------------------

    def _quick(self) -> RunResult:
        started = time.monotonic()
        app = self.app
        record = self.canonical.record()
        assert record is not None
        self.result.from_version = record.version
        try:
            with progress.held_until_accepted():
                log.info("run %s: quick %s at %s on the canonical (%s)", self.run_id, self.recipe, self.ref, record.version)
                self.result.abra = abra_identity(self.config.abra)
                log.info("abra: %s", self.result.abra)
                app.checkout = self.canonical.checkout(app.calls)
                app.target = resolve_target(app.checkout, self.ref, self.recipe)
            # The input held up: from here on the run may change state.
            self.folder.mkdir(parents=True, exist_ok=True)
            self.canonical.mark(status=Use.QUICK)
            self._marked = True
            artifacts.prune_runs(self.config.state / "runs", self.config.keep_runs, keep=self.folder)
            reaper.reap_at_start(self.config, app.client, self.run_id, self.recipe)
            app.open_sso(self.run_id.value)
            self.result.commit = app.target.commit
            self.result.to_version = app.target.version
            for name, action in zip(STAGES, (self.reattach, self.upgrade, self.custom), strict=True):
                if self.result.stage_failed():
                    break
                app.run_stage(self.result, name, action)
        except Interrupted as stop:
            self.result.reason = str(stop)
            app.keep_evidence()
            raise
        except BadInput:
            self._bad_input = True
            raise
        except Exception as error:
            self.result.reason = self.result.reason or f"{type(error).__name__}: {error}"
            app.keep_evidence()
        finally:
            with signals_deferred():
                self._settle()
                self.result.seconds = time.monotonic() - started
                self.result.call_seconds = app.calls.seconds
                self.result.wait_seconds = app.wait_seconds
                self._finish()
        return self.result

    def reattach(self) -> str:
        app = self.app
        self._touched = True
        record = self.canonical.record()
        assert record is not None
        if app.deployed():  # a crashed run left it up: its data is suspect
            app.undeploy_keep()
            self.canonical.mark(volumes=Volumes.USED)
            record = self.canonical.record()
            assert record is not None
        if record.volumes is Volumes.USED:
            log.info("restoring the known-good before reattaching (an earlier quick run used the volumes)")
            self.canonical.snapshots.restore(self.canonical.app_volumes())
            self.canonical.mark(volumes=Volumes.KNOWN_GOOD)
        app.deploy_release(record.version)
        self.canonical.mark(volumes=Volumes.USED)  # from here on the volumes are no longer pristine
        return f"reattached at {record.version}"

    def upgrade(self) -> str:
        app = self.app
        assert app.target is not None
        record = self.canonical.record()
        assert record is not None
        marker = None
        try:
            app.data_service()
            marker = f"quick-{secrets.token_hex(8)}"
            app.write_marker(marker)
        except StageFailed:
            log.info("no backed-up volume to carry a marker through the upgrade")
        known_good = Release.parse(record.version)
        release = app.target.release
        if release is not None and known_good is not None and release > known_good:
            app.deploy_target(upgrade=True)
        elif release is not None:  # the same release or an older one: redeploy it
            app.deploy_release(release.tag, force=True)
        else:
            app.deploy_target(upgrade=True)  # a commit: checked out, deployed --chaos --force
        if marker is not None and app.read_marker() != marker:
            raise StageFailed(f"data written on {record.version} did not survive the upgrade to {app.target.version}")
        return app.suites("upgrade")

    def custom(self) -> str:
        app = self.app
        assert app.checkout is not None
        return app.suites("custom", recipe_tests=app.checkout.tests_dir())

    # -- after: the known-good is kept or put back ---------------------------------

    def _passed(self) -> bool:
        return (
            not self._bad_input
            and not self.result.reason
            and len(self.result.stages) == len(STAGES)
            and all(s.status is Status.PASSED for s in self.result.stages)
        )

    def _settle(self) -> None:
        began = time.monotonic()
        sso_note = self.app.close_sso()
        passed = self._passed()
        teardown = self.result.teardown
        if not self._touched:  # refused before anything was deployed: nothing to put back
            if self._marked:
                self.canonical.mark(status=Use.IDLE)
            teardown.status = Status.PASSED
            return
        try:
            self._put_back(passed)
            teardown.status = Status.PASSED
        except Exception as error:  # SnapshotError, StageFailed, engine trouble
            teardown.status = Status.FAILED
            teardown.reason = f"could not put the canonical back: {error}"
            self.result.note = "CANONICAL NEEDS A HUMAN: " + teardown.reason
            log.error("%s", self.result.note)
            try:
                self.canonical.mark(status=Use.IDLE, volumes=Volumes.USED)
            except Exception:
                pass
        if sso_note:
            teardown.reason = "; ".join(x for x in (teardown.reason, sso_note) if x)
        teardown.seconds = time.monotonic() - began
        teardown.leftovers = {}

    def _put_back(self, passed: bool) -> None:
        """Undeploy; on a pass keep the volumes, otherwise restore the known-good.

        If the engine is away, wait for it (up to timeouts.engine_back), then
        put back as usual.
        """
        limit = self.config.timeouts.engine_back
        try:
            self.app.undeploy_keep()
        except Exception as error:
            if engine.ready(self.app.client):
                raise
            log.warning("the Docker engine is away (%s); waiting up to %ds for it", error, limit)
            if not engine.wait_ready(self.app.client, limit):
                raise engine.EngineError(f"the Docker engine did not come back within {limit}s") from None
            self.app.undeploy_keep()
        if passed:
            self.canonical.mark(status=Use.IDLE)
            self.result.note = "known-good unchanged; volumes kept as the PR left them (restored before the next use)"
        else:
            self.canonical.snapshots.restore(self.canonical.app_volumes())
            self.canonical.verify_snapshot()
            self.canonical.mark(status=Use.IDLE, volumes=Volumes.KNOWN_GOOD)
            self.result.note = "known-good restored and verified"

    def _finish(self) -> None:
        if self._bad_input:
            artifacts.remove_folder(self.folder)
            return
        ok = self._passed() and self.result.teardown.status is Status.PASSED
        self.result.status = Status.PASSED if ok else Status.FAILED
        artifacts.write_result(self.folder, self.result)
