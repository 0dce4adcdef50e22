"""An app under test: the object cold runs, quick runs and promotion use.

One app (its domain, stack and ABRA_DIR), the recipe checkout it deploys from,
the target it deploys, and the checks that tell whether it is up: deploy by
release tag or by --chaos for any other commit, wait for convergence and an
HTTP answer, write and read data markers in the backed-up volume, run the
generic, overlay and recipe test suites, and keep the evidence of a failure
before anything is torn down. Jobs hold one and call its public methods; it
knows nothing of run results beyond the one stage it is asked to time
(`run_stage`). Signal handling lives in `ccci.capabilities.signals`.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs
import docker

from ccci.seams import engine, proc
from ccci.capabilities import health, realms, suites
from ccci.seams.abra import Abra, declared_timeout
from ccci.pure import backupbot
from ccci.pure.config import BadConfig, Config, check_env_value
from ccci.pure.names import BadInput, Domain, RecipeName, Ref, stack_name
from ccci.capabilities.recipe import Checkout
from ccci.pure.results import AbraIdentity, RunResult, StageResult, Status
from ccci.pure.versions import Release, previous

log = logging.getLogger("ccci")

MARKER = ".ccci-marker"


class StageFailed(Exception):
    """A stage's check failed; the message is the reason shown to the user."""


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


@functools.cache
def abra_identity(binary: str) -> AbraIdentity:
    """Which abra `binary` is, from its path and what `abra --version` prints."""
    path = os.path.realpath(shutil.which(binary) or binary)
    try:
        output = proc.run([path, "--version"], tty=True, timeout=30, check=False).output
    except proc.CommandError as error:  # missing or not executable: say so, guess nothing
        output = error.why
    return AbraIdentity.judge(path, output)


def resolve_target(checkout: Checkout, ref: Ref | None, recipe: RecipeName) -> Target:
    """`ref`, or the newest release without one; and where an upgrade starts."""
    all_releases = checkout.releases()
    if ref is None:
        latest = checkout.latest()
        if latest is None:
            raise BadInput(f"recipe {recipe} has no release tags (x.y.z+upstream)")
        commit = checkout.resolve(Ref.parse(latest.tag))
        release: Release | None = latest
    else:
        commit = checkout.resolve(ref)
        release = checkout.release_at(commit)
    return Target(commit, release, previous(all_releases, release))


class AppUnderTest:
    """One app a job deploys and tests; see the module docstring."""

    def __init__(
        self,
        config: Config,
        recipe: RecipeName,
        domain: Domain,
        abra_dir: Path,
        folder: Path,
        client: docker.DockerClient | None = None,
    ):
        self.config = config
        self.recipe = recipe
        self.domain = domain
        self.stack_name = stack_name(domain)
        self.folder = folder
        self.abra_dir = abra_dir
        self.calls = proc.Calls(folder / "calls")
        self.abra = Abra.from_config(config, abra_dir, self.calls)
        self.client = client or engine.connect()
        self.stack = engine.Stack(self.client, self.stack_name)
        self.checkout: Checkout | None = None
        self.target: Target | None = None
        self.wait_seconds = 0.0  # waiting on the engine and the app (see `waiting`)
        self.sso: realms.RealmLease | None = None
        self._leases = ExitStack()

    def open_sso(self, run_id: str) -> None:
        """A realm on the warm Keycloak for a recipe that needs SSO; fails early if there is none."""
        if "keycloak" not in self.config.settings_for(self.recipe).needs:
            return
        settings = self.config.keycloak
        if settings is None:
            raise StageFailed(f"{self.recipe} needs keycloak, but the config has no keycloak section")
        server = realms.server_for(self.config)
        realms.preflight(settings, server=server)
        self.sso = self._leases.enter_context(realms.lease(settings, self.recipe, run_id, server=server))
        self.calls.secrets |= self.sso.secrets()
        log.info("sso: realm %s on the warm Keycloak", self.sso.realm.value)

    def close_sso(self) -> str:
        """Delete the run's realm; a note for the teardown record when that fails."""
        try:
            self._leases.close()
        except realms.RealmError as error:
            return f"realm not deleted (the reaper will): {error}"
        if self.sso is not None:
            log.info("sso: realm %s deleted", self.sso.realm.value)
        return ""

    def run_stage(self, result: RunResult, name: str, action: Callable[[], str]) -> StageResult:
        """Run one stage, time it, record it in `result`, and turn its failure into a reason.

        Any error fails the stage (an engine that went away mid-stage too), so
        the stage that was running is always in the result.
        """
        log.info("stage %s: started", name)
        began = time.monotonic()
        try:
            note = action()
            outcome = StageResult(name, Status.PASSED, time.monotonic() - began, tests=note)
        except Skip as skip:
            outcome = StageResult(name, Status.SKIPPED, time.monotonic() - began, str(skip))
        except Exception as error:
            known = (StageFailed, health.NotHealthy, engine.EngineError, proc.CommandError)
            reason = proc.describe(error) if isinstance(error, known) else f"{type(error).__name__}: {error}"
            outcome = StageResult(name, Status.FAILED, time.monotonic() - began, reason)
            result.reason = f"{name}: {reason}"
            self.keep_evidence()
        result.stages.append(outcome)
        log.info(
            "stage %s: %s in %.1fs%s", name, outcome.status.value, outcome.seconds,
            f" ({outcome.reason})" if outcome.reason else "",
        )
        return outcome

    # -- deploying -------------------------------------------------------------

    def ensure_app(self) -> None:
        """`app new` and its secrets, unless abra already knows the app."""
        if self.abra.env_file(self.domain).exists():
            return
        assert self.target is not None
        if self.target.release is not None:
            self.abra.app_new(self.recipe, self.domain, self.target.release.tag)
        else:
            self.checkout_target()
            self.abra.app_new(self.recipe, self.domain, None, chaos=True)
        self.abra.secret_generate(self.domain)

    def checkout_target(self) -> None:
        assert self.checkout is not None and self.target is not None
        self.checkout.checkout(self.target.commit)

    def deployed(self) -> bool:
        return bool(self.stack.services())

    def apply_env(self) -> None:
        """Before a deploy: the config's `env` for this recipe and, while a realm
        is open, its `sso_env` (the realm's values), into the app's env file."""
        settings = self.config.settings_for(self.recipe)
        values = dict(settings.env)
        if self.sso is not None and settings.sso_env:
            realm = self.sso.env()
            for name, key in settings.sso_env.items():
                try:
                    check_env_value(realm[key])
                except BadConfig:
                    raise StageFailed(f"the realm's {key} cannot go into the app's env as {name}") from None
                values[name] = realm[key]
        if values and self.abra.env_file(self.domain).exists():
            self.abra.set_env(self.domain, values)
            log.info("env: %s set in the app's env file", ", ".join(sorted(values)))

    def deploy_target(self, *, upgrade: bool) -> None:
        """Deploy (or upgrade to) the target, then wait until it is up."""
        assert self.target is not None
        self.apply_env()
        since = health.utc_stamp()
        if self.target.release is not None:
            if upgrade:
                self.abra.upgrade(self.domain, self.target.release.tag)
            else:
                self.abra.deploy(self.domain, self.target.release.tag)
        else:
            self.checkout_target()
            self.abra.deploy(self.domain, chaos=True, force=upgrade)
        self.wait_up(since)

    def deploy_release(self, version: str, *, force: bool = False) -> None:
        """Deploy a release by its tag, then wait until it is up."""
        self.apply_env()
        since = health.utc_stamp()
        self.abra.deploy(self.domain, version, force=force)
        self.wait_up(since)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Time spent waiting on the engine and the app counts as outside time."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.wait_seconds += time.monotonic() - began

    def wait_up(self, since: str) -> None:
        timeouts = self.config.timeouts
        # A recipe may declare how long it needs to converge (abra's timeout label).
        declared = [declared_timeout(s.attrs["Spec"].get("Labels") or {}, self.stack_name) or 0
                    for s in self.stack.services()]
        with self.waiting():
            health.wait_converged(self.stack, max([timeouts.converge, *declared]), started_iso=since)
            health.wait_http(self.endpoint(), timeouts.http)

    def wait_gone(self) -> bool:
        with self.waiting():
            return self.stack.wait_gone(self.config.timeouts.undeploy)

    def endpoint(self) -> health.Endpoint:
        return health.endpoint(self.stack, self.domain, self.config.ingress, self.config.ca_certificates)

    def ensure_target_up(self) -> None:
        self.ensure_app()
        if not self.deployed():
            self.deploy_target(upgrade=False)

    def undeploy_fresh(self) -> None:
        """Back to nothing deployed and no data: the upgrade starts from scratch."""
        if self.deployed():
            try:
                self.abra.undeploy(self.domain)
                complaint = None
            except proc.CommandError as error:
                complaint = error  # judged by what is left, below
            if not self.wait_gone():
                raise complaint or StageFailed(f"stack {self.stack_name} did not go away after undeploy")
            if complaint is not None:
                # Swarm sometimes refuses to drop a network a leaving task still
                # holds; abra then fails although the app is gone. It is gone.
                log.warning("abra undeploy complained (%s), but the stack is gone", complaint.last_lines(1))
        if self.stack.leftovers().get("volumes"):
            self.abra.volume_remove(self.domain)

    def undeploy_keep(self) -> None:
        """Undeploy and wait; volumes stay. If abra fails, the services are removed directly."""
        if self.deployed():
            try:
                self.abra.undeploy(self.domain)
            except Exception as error:  # abra failed: take the services down ourselves
                log.warning("abra undeploy failed (%s); removing the services directly", error)
                self.stack.remove_services()
        if not self.wait_gone():
            raise StageFailed(f"{self.stack_name} did not go away after undeploy")

    # -- data markers (backup, restore, upgrade) ---------------------------------

    def data_service(self) -> tuple[str, str]:
        """A directory backupbot copies verbatim, by the stack's backupbot labels, and its service."""
        services = []
        for service in self.stack.services():
            spec = service.attrs["Spec"]
            mounts = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Mounts") or []
            services.append(backupbot.Service(
                self.stack.short_name(service), spec.get("Labels") or {},
                {m["Source"].removeprefix(f"{self.stack_name}_"): m["Target"]
                 for m in mounts if m.get("Type") == "volume" and m.get("Source")},
            ))
        try:
            plan = backupbot.plan(services)
        except backupbot.BadLabels as error:
            raise StageFailed(f"backupbot labels of {self.recipe}: {error}") from None
        for place in plan.marker_candidates():
            # A listed path may be a file (a database dump): only a directory holds a marker.
            if place.whole or self.stack.exec(
                place.service, ["sh", "-c", 'test -d "$1" && echo dir || echo other', "sh", place.path]
            ).strip() == "dir":
                return place.service, place.path
        raise StageFailed(
            f"no directory of {self.recipe} is backed up: backupbot labels "
            f"({backupbot.ENABLED}=true, backupbot.backup.volumes.<volume>[.path], "
            f"{backupbot.LEGACY_PATH}) name {[p.path for p in plan.locations] or 'nothing'}"
        )

    def write_marker(self, value: str) -> None:
        service, path = self.data_service()
        self.stack.exec(service, ["sh", "-c", 'printf %s "$1" > "$2"', "sh", value, f"{path}/{MARKER}"])

    def read_marker(self) -> str:
        service, path = self.data_service()
        return self.stack.exec(service, ["cat", f"{path}/{MARKER}"])

    def require_backupbot(self) -> None:
        """abra backs up and restores through backupbot, a separate app on the server."""
        if not engine.backupbot_services(self.client):
            raise StageFailed(
                f"no backupbot on the server: no service is labelled {engine.BACKUPBOT_LABEL}=true, "
                "and abra app backup/restore need one (deploy the backup-bot-two recipe)"
            )

    # -- stages --------------------------------------------------------------------

    def suites(self, stage: str, recipe_tests: Path | None = None) -> str:
        assert self.target is not None
        endpoint = self.endpoint()
        env = {
            **endpoint.test_env(self.config.base_domain),
            "CCCI_DOMAIN": self.domain.value,
            "CCCI_STACK": self.stack_name,
            "CCCI_RECIPE": self.recipe.value,
            "CCCI_VERSION": self.target.version,
            "CCCI_STAGE": stage,
            "CCCI_ENV_FILE": str(self.abra.env_file(self.domain)),
            "CCCI_ARTIFACTS": str(self.folder / "tests" / f"{stage}-files"),
        }
        if self.sso is not None:
            env.update(self.sso.env())
        overlay = self.config.settings_for(self.recipe).overlay_tests
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
                raise StageFailed(self.calls.redact(
                    f"{outcome.summary()}: " + "; ".join(outcome.failures[:3])
                ))
        return "; ".join(notes)

    # -- evidence and teardown -------------------------------------------------------

    def keep_evidence(self) -> None:
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


class Skip(Exception):
    """A stage that does not apply to this recipe (e.g. only one release)."""
