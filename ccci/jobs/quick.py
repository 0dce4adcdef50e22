"""The quick run: a PR's head tested as an in-place upgrade of the warm canonical.

Under the app's lock: reattach the canonical at its recorded version (its
volumes restored to the known-good first if an earlier quick run used them),
upgrade it in place to the ref, run the generic upgrade and serving tests,
then the overlay and the recipe's own tests.
PASS: undeploy, keep the volumes (marked `used`); record and snapshot unchanged.
FAIL (or SIGINT/SIGTERM, or any error): undeploy, restore the known-good into
the volumes, verify it, leave the canonical idle; exit non-zero.
A quick run never promotes. Without a usable canonical it says why and runs
cold instead; the result's `mode` says what actually ran.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time

import docker

from ccci.seams import engine
from ccci.capabilities import locks
from ccci.pure import results
from ccci.capabilities.app import (
    AppUnderTest,
    StageFailed,
    resolve_target,
    utc_now_iso,
)
from ccci.capabilities.canonical import Canonical, Use, Volumes
from ccci.jobs.cold import ColdRequest, ColdRun
from ccci.pure.config import Config
from ccci.pure.names import ALL_STAGES, BadInput, RecipeName, Ref, RunId
from ccci.pure.results import Mode, RunResult
from ccci.pure.results import Status
from ccci.capabilities.signals import Interrupted, interruptible, signals_deferred
from ccci.pure.versions import Release
from ccci.seams.files import write_atomic
from ccci.capabilities import artifacts

log = logging.getLogger("ccci")


class QuickRun(AppUnderTest):
    def __init__(
        self,
        config: Config,
        recipe: RecipeName,
        ref: Ref,
        *,
        run_id: RunId | None = None,
        client: docker.DockerClient | None = None,
    ):
        self.ref = ref
        self.run_id = run_id or RunId.new()
        client = client or engine.connect()
        self.canonical = Canonical(config, recipe, client)
        folder = config.state / "runs" / f"{recipe.value}-{self.run_id.value}"
        result = RunResult(
            recipe=recipe.value, ref=ref.value, mode=Mode.QUICK, run_id=self.run_id.value,
            domain=self.canonical.domain.value, stack="", artifacts=str(folder),
            requested_mode=Mode.QUICK,
        )
        super().__init__(config, recipe, self.canonical.domain, self.canonical.abra_dir, folder, result, client)
        result.stack = self.stack_name
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
            run_id=self.run_id, client=self.client,
        )
        result = cold.execute()
        result.requested_mode = Mode.QUICK
        result.note = f"quick requested; ran cold because {why}"
        write_atomic(cold.folder / "result.json", results.to_json(result))
        return result

    # -- the quick run proper (lock held) -------------------------------------------

    def _quick(self) -> RunResult:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        record = self.canonical.record()
        assert record is not None
        self.result.from_version = record.version
        log.info("run %s: quick %s at %s on the canonical (%s)", self.run_id, self.recipe, self.ref, record.version)
        try:
            self.checkout = self.canonical.checkout(self.calls)
            self.target = resolve_target(self.checkout, self.ref, self.recipe)
            # The input held up: from here on the run may change state.
            self.canonical.mark(status=Use.QUICK)
            self._marked = True
            artifacts.prune_runs(self.config.state / "runs", self.config.keep_runs, keep=self.folder)
            self.open_sso(self.run_id.value)
            self.result.commit = self.target.commit
            self.result.to_version = self.target.version
            for name, action in (("reattach", self.reattach), ("upgrade", self.upgrade), ("custom", self.custom)):
                if self.result.stage_failed():
                    break
                self.run_stage(name, action)
        except Interrupted as stop:
            self.result.reason = str(stop)
            self._keep_evidence()
            raise
        except BadInput:
            self._bad_input = True
            raise
        except Exception as error:
            self.result.reason = self.result.reason or f"{type(error).__name__}: {error}"
            self._keep_evidence()
        finally:
            with signals_deferred():
                self._settle()
                self.result.seconds = time.monotonic() - started
                self.result.call_seconds = self.calls.seconds
                self._finish()
        return self.result

    def reattach(self) -> str:
        self._touched = True
        record = self.canonical.record()
        assert record is not None
        if self._deployed():  # a crashed run left it up: its data is suspect
            self._undeploy_keep()
            self.canonical.mark(volumes=Volumes.USED)
            record = self.canonical.record()
            assert record is not None
        if record.volumes is Volumes.USED:
            log.info("restoring the known-good before reattaching (an earlier quick run used the volumes)")
            self.canonical.snapshots.restore(self.canonical.app_volumes())
            self.canonical.mark(volumes=Volumes.KNOWN_GOOD)
        since = utc_now_iso()
        self.abra.deploy(self.domain, record.version)
        self._wait_up(since)
        self.canonical.mark(volumes=Volumes.USED)  # from here on the volumes are no longer pristine
        return f"reattached at {record.version}"

    def upgrade(self) -> str:
        assert self.target is not None
        record = self.canonical.record()
        assert record is not None
        marker = None
        try:
            self._data_service()
            marker = f"quick-{secrets.token_hex(8)}"
            self._write_marker(marker)
        except StageFailed:
            log.info("no backed-up volume to carry a marker through the upgrade")
        since = utc_now_iso()
        known_good = Release.parse(record.version)
        release = self.target.release
        if release is not None and known_good is not None and release > known_good:
            self.abra.upgrade(self.domain, release.tag)
        elif release is not None:  # the same release or an older one: redeploy it
            self.abra.deploy(self.domain, release.tag, force=True)
        else:
            self._checkout_target()
            self.abra.deploy(self.domain, chaos=True, force=True)
        self._wait_up(since)
        if marker is not None and self._read_marker() != marker:
            raise StageFailed(f"data written on {record.version} did not survive the upgrade to {self.target.version}")
        return self._suites("upgrade")

    def custom(self) -> str:
        assert self.checkout is not None
        return self._suites("custom", recipe_tests=self.checkout.tests_dir())

    # -- after: the known-good is kept or put back ---------------------------------

    def _undeploy_keep(self) -> None:
        """Undeploy and wait; volumes stay."""
        if self._deployed():
            try:
                self.abra.undeploy(self.domain)
            except Exception as error:  # abra failed: take the services down ourselves
                log.warning("abra undeploy failed (%s); removing the services directly", error)
                for service in self.stack.services():
                    service.remove()
        with self._waiting():
            if not self.stack.wait_gone(self.config.timeouts.undeploy):
                raise StageFailed(f"{self.stack_name} did not go away after undeploy")

    def _settle(self) -> None:
        began = time.monotonic()
        sso_note = self.close_sso()
        passed = (
            not self._bad_input
            and not self.result.reason
            and len(self.result.stages) == 3
            and all(s.status is Status.PASSED for s in self.result.stages)
        )
        teardown = self.result.teardown
        if not self._touched:  # refused before anything was deployed: nothing to put back
            if self._marked:
                self.canonical.mark(status=Use.IDLE)
            teardown.status = Status.PASSED
            return
        try:
            self._undeploy_keep()
            if passed:
                self.canonical.mark(status=Use.IDLE)
                self.result.note = "known-good unchanged; volumes kept as the PR left them (restored before the next use)"
            else:
                self.canonical.snapshots.restore(self.canonical.app_volumes())
                self.canonical.snapshots.verify()
                self.canonical.mark(status=Use.IDLE, volumes=Volumes.KNOWN_GOOD)
                self.result.note = "known-good restored and verified"
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

    def _finish(self) -> None:
        if self._bad_input:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        ok = (
            not self.result.reason
            and len(self.result.stages) == 3
            and all(s.status is Status.PASSED for s in self.result.stages)
            and self.result.teardown.status is Status.PASSED
        )
        self.result.status = Status.PASSED if ok else Status.FAILED
        self.result.promotion = "never (quick runs do not promote)"
        write_atomic(self.folder / "result.json", results.to_json(self.result))
        write_atomic(self.folder / "junit.xml", results.junit(self.result))
