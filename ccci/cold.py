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

import datetime
import logging
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import docker

from ccci import engine, health, proc, results, suites
from ccci.abra import Abra
from ccci.config import Config, Ingress
from ccci.names import BadInput, Domain, RecipeName, Ref, RunId, Stage, cold_domain, stack_name
from ccci.recipe import Checkout
from ccci.results import Mode, RunResult, StageResult, Status, Teardown
from ccci.versions import Release, previous

log = logging.getLogger("ccci")

MARKER = ".ccci-marker"
BACKUP_LABEL = "backupbot.backup"
BACKUP_PATH_LABEL = "backupbot.backup.path"


class StageFailed(Exception):
    """A stage's check failed; the message is the reason shown to the user."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; teardown still runs."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into `Interrupted` for the duration of a run."""

    def handler(signum, _frame):
        raise Interrupted(signum)

    previous_handlers = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous_handlers.items():
            signal.signal(sig, old)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends: teardown must not be cut short."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


@attrs.frozen
class ColdRequest:
    recipe: RecipeName
    ref: Ref | None
    stages: tuple[Stage, ...]


@attrs.define
class Target:
    """What the run deploys: a release tag, or a commit deployed with --chaos."""

    commit: str
    release: Release | None
    start: Release | None  # the release the upgrade stage starts from

    @property
    def version(self) -> str:
        # abra records a chaos deploy by the commit's first 8 characters.
        return self.release.tag if self.release else self.commit[:8]


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
        self.domain: Domain = cold_domain(request.recipe, self.run_id, config.domain)
        self.stack_name = stack_name(self.domain)
        self.folder = config.state / "runs" / f"{request.recipe.value}-{self.run_id.value}"
        self.abra_dir = config.state / "abra" / self.run_id.value
        self.calls = proc.Calls(self.folder / "calls")
        self.abra = Abra(
            config.abra, self.abra_dir, config.server, config.timeouts.abra, self.calls
        )
        self.client = client or engine.connect()
        self.stack = engine.Stack(self.client, self.stack_name)
        self.checkout: Checkout | None = None
        self.target: Target | None = None
        self.marker: str | None = None  # what the backup stage wrote before backing up
        self._bad_input = False
        self.result = RunResult(
            recipe=request.recipe.value,
            ref=request.ref.value if request.ref else None,
            mode=Mode.COLD,
            run_id=self.run_id.value,
            domain=self.domain.value,
            stack=self.stack_name,
            artifacts=str(self.folder),
        )

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunResult:
        with interruptible():
            return self._execute()

    def _execute(self) -> RunResult:
        started = time.monotonic()
        results.prune_runs(self.config.state / "runs", self.config.keep_runs - 1)
        self.folder.mkdir(parents=True, exist_ok=True)
        log.info("run %s: %s cold at %s", self.run_id, self.request.recipe, self.domain)
        try:
            self._prepare()
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
            raise BadInput(f"cannot clone recipe {self.request.recipe} from {url}: {error.last_lines(2)}") from None
        all_releases = self.checkout.releases()
        if self.request.ref is None:
            latest = self.checkout.latest()
            if latest is None:
                raise BadInput(f"recipe {self.request.recipe} has no release tags (x.y.z+upstream)")
            commit = self.checkout.resolve(Ref.parse(latest.tag))
            release: Release | None = latest
        else:
            commit = self.checkout.resolve(self.request.ref)
            release = self.checkout.release_at(commit)
        self.target = Target(commit, release, previous(all_releases, release))
        self.result.commit = commit
        self.result.to_version = self.target.version
        self.result.from_version = self.target.start.tag if self.target.start else None
        log.info(
            "target %s (commit %s); upgrade starts from %s",
            self.target.version, commit[:12], self.result.from_version or "nothing",
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
            log.info("stage %s: started", stage.value)
            began = time.monotonic()
            try:
                note = actions[stage]()
                outcome = StageResult(stage.value, Status.PASSED, time.monotonic() - began, tests=note)
            except _Skip as skip:
                outcome = StageResult(stage.value, Status.SKIPPED, time.monotonic() - began, str(skip))
            except (StageFailed, health.NotHealthy, engine.EngineError, proc.CommandError) as error:
                reason = _reason(error)
                outcome = StageResult(stage.value, Status.FAILED, time.monotonic() - began, reason)
                self.result.reason = f"{stage.value}: {reason}"
                self._keep_evidence()
            self.result.stages.append(outcome)
            log.info(
                "stage %s: %s in %.1fs%s", stage.value, outcome.status.value, outcome.seconds,
                f" ({outcome.reason})" if outcome.reason else "",
            )

    def _skip_rest(self, why: str) -> None:
        done = {s.name for s in self.result.stages}
        for stage in self.request.stages:
            if stage.value not in done:
                self.result.stages.append(StageResult(stage.value, Status.SKIPPED, 0.0, why))

    # -- app lifecycle -----------------------------------------------------------

    def _ensure_app(self) -> None:
        if self.abra.env_file(self.domain).exists():
            return
        assert self.target is not None
        if self.target.release is not None:
            self.abra.app_new(self.request.recipe, self.domain, self.target.release.tag)
        else:
            self._checkout_target()
            self.abra.app_new(self.request.recipe, self.domain, None, chaos=True)
        self.abra.secret_generate(self.domain)

    def _checkout_target(self) -> None:
        assert self.checkout is not None and self.target is not None
        self.checkout.checkout(self.target.commit)

    def _deployed(self) -> bool:
        return bool(self.stack.services())

    def _deploy_target(self, *, upgrade: bool) -> None:
        """Deploy (or upgrade to) the target, then wait until it is up."""
        assert self.target is not None
        since = utc_now_iso()
        if self.target.release is not None:
            if upgrade:
                self.abra.upgrade(self.domain, self.target.release.tag)
            else:
                self.abra.deploy(self.domain, self.target.release.tag)
        else:
            self._checkout_target()
            self.abra.deploy(self.domain, chaos=True, force=upgrade)
        self._wait_up(since)

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        """Time spent waiting on the engine and the app counts as outside time."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.result.wait_seconds += time.monotonic() - began

    def _wait_up(self, since: str) -> None:
        timeouts = self.config.timeouts
        with self._waiting():
            health.wait_converged(self.stack, timeouts.converge, started_iso=since)
            health.wait_http(self._endpoint(), timeouts.http)

    def _endpoint(self) -> health.Endpoint:
        if self.config.ingress is Ingress.HOST_PORT:
            port = self.stack.published_port("app")
            return health.Endpoint(f"http://127.0.0.1:{port}", self.domain.value)
        return health.Endpoint(f"https://{self.domain.value}", self.domain.value)

    def _ensure_target_up(self) -> None:
        self._ensure_app()
        if not self._deployed():
            self._deploy_target(upgrade=False)

    def _undeploy_fresh(self) -> None:
        """Back to nothing deployed and no data: the upgrade starts from scratch."""
        if self._deployed():
            self.abra.undeploy(self.domain)
            with self._waiting():
                gone = self.stack.wait_gone(self.config.timeouts.undeploy)
            if not gone:
                raise StageFailed(f"stack {self.stack_name} did not go away after undeploy")
        if self.stack.leftovers().get("volumes"):
            self.abra.volume_remove(self.domain)

    # -- data markers (backup, restore, upgrade) ---------------------------------

    def _data_service(self) -> tuple[str, str]:
        """The first service backupbot backs up, and its first backup path."""
        for service in self.stack.services():
            labels = service.attrs["Spec"].get("Labels") or {}
            if labels.get(BACKUP_LABEL, "").lower() == "true" and labels.get(BACKUP_PATH_LABEL):
                path = labels[BACKUP_PATH_LABEL].split(",")[0].strip()
                return self.stack.short_name(service), path
        raise StageFailed(
            f"no service of {self.request.recipe} has the labels {BACKUP_LABEL}=true and "
            f"{BACKUP_PATH_LABEL}: there is nothing to back up"
        )

    def _write_marker(self, value: str) -> None:
        service, path = self._data_service()
        self.stack.exec(service, ["sh", "-c", 'printf %s "$1" > "$2"', "sh", value, f"{path}/{MARKER}"])

    def _read_marker(self) -> str:
        service, path = self._data_service()
        return self.stack.exec(service, ["cat", f"{path}/{MARKER}"])

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
            raise _Skip("the recipe has no earlier release to upgrade from")
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

    def _suites(self, stage: str, recipe_tests: Path | None = None) -> str:
        assert self.target is not None
        endpoint = self._endpoint()
        env = {
            "CCCI_URL": endpoint.url,
            "CCCI_DOMAIN": self.domain.value,
            "CCCI_STACK": self.stack_name,
            "CCCI_RECIPE": self.request.recipe.value,
            "CCCI_VERSION": self.target.version,
            "CCCI_STAGE": stage,
            "CCCI_ENV_FILE": str(self.abra.env_file(self.domain)),
        }
        overlay = self.config.settings_for(self.request.recipe).overlay_tests
        plan = [
            ("generic", suites.generic_files(stage)),
            ("overlay", suites.overlay_files(overlay, stage)),
        ]
        if recipe_tests is not None:
            plan.append(("recipe", suites.recipe_files(recipe_tests)))
        notes = []
        for name, files in plan:
            outcome = suites.run_suite(
                f"{stage}-{name}", files, env=env, out_dir=self.folder / "tests",
                timeout=self.config.timeouts.tests, calls=self.calls,
            )
            notes.append(outcome.summary())
            if not outcome.ok:
                raise StageFailed(f"{outcome.summary()}: " + "; ".join(outcome.failures[:3]))
        return "; ".join(notes)

    # -- evidence and teardown -------------------------------------------------------

    def _keep_evidence(self) -> None:
        """Every service's logs and the task states, before teardown erases them."""
        folder = self.folder / "failure"
        if folder.exists():
            return
        try:
            folder.mkdir(parents=True)
            (folder / "tasks.json").write_text(self.stack.task_states())
            for service in self.stack.services():
                name = self.stack.short_name(service)
                (folder / f"{name}.log").write_text(self.stack.service_logs(service))
        except Exception as error:  # evidence is best effort; teardown must still run
            log.warning("could not keep all failure evidence: %s", error)

    def _teardown(self) -> None:
        began = time.monotonic()
        notes: list[str] = []
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
        results.write_atomic(self.folder / "result.json", results.to_json(self.result))
        results.write_atomic(self.folder / "junit.xml", results.junit(self.result))


class _Skip(Exception):
    """A stage that does not apply to this recipe (e.g. only one release)."""


def _reason(error: BaseException) -> str:
    if isinstance(error, proc.CommandError):
        words = " ".join([Path(error.argv[0]).name, *error.argv[1:3]])
        detail = error.last_lines(3)
        return f"{words} {error.why}" + (f": {detail}" if detail else "")
    return str(error)
