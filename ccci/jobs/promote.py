"""Promotion: only a green, cold, latest, enrolled run re-seeds the canonical.

Order, so a failure at any step leaves the previous known-good usable:
deploy latest at the warm domain (on the known-good data, or fresh), let it
converge, undeploy, snapshot (atomic swap), then update the record. On a
failure before the swap the volumes get the previous known-good back (or, if
there was none, the half-made canonical is removed entirely).
"""

from __future__ import annotations

import logging
import shutil

import attrs
import docker

from ccci.capabilities import locks
from ccci.capabilities.app import AppUnderTest, StageFailed, resolve_target
from ccci.capabilities.canonical import Canonical, Record, Use, Volumes
from ccci.pure.config import Config
from ccci.pure.names import ALL_STAGES, RecipeName, Stage
from ccci.pure.results import PROMOTION_FAILED, Mode, RunResult, Status
from ccci.capabilities.snapshot import NoSnapshot

log = logging.getLogger("ccci")


class PromotionFailed(Exception):
    """The canonical could not be re-seeded; the previous known-good stands."""


def should_promote(config: Config, result: RunResult, stages: tuple) -> tuple[bool, str]:
    """Pure: whether this run may re-seed its recipe's canonical, and why not."""
    recipe = RecipeName.parse(result.recipe)
    checks = [
        (result.mode is Mode.COLD, "not a cold run"),
        (result.requested_mode in (None, Mode.COLD), "a quick run that fell back to cold"),
        (result.ref is None, "a run at a ref, not at latest"),
        (result.status is Status.PASSED, "the run is red"),
        (tuple(stages) == ALL_STAGES, "not every stage ran"),
        (config.enrolled(recipe), "the recipe is not enrolled"),
        (config.settings_for(recipe).canonical, "the recipe keeps no canonical"),
    ]
    for ok, why in checks:
        if not ok:
            return False, why
    return True, ""


def promote_if_earned(
    config: Config, stages: tuple[Stage, ...], result: RunResult, client: docker.DockerClient, folder
) -> None:
    """Promote when the run earned it; `result.promotion` says what happened.

    A failed promotion makes the run's exit code 1 (`results.exit_code`);
    the previous known-good stands.
    """
    recipe = RecipeName.parse(result.recipe)
    eligible, why = should_promote(config, result, stages)
    if eligible:
        try:
            record = promote(config, recipe, client, folder)
            result.promotion = f"promoted {record.version}"
        except PromotionFailed as error:
            result.promotion = f"{PROMOTION_FAILED}{error}"
    elif config.enrolled(recipe) and config.settings_for(recipe).canonical:
        result.promotion = f"not promoted: {why}"


def promote(config: Config, recipe: RecipeName, client: docker.DockerClient, folder) -> Record:
    """Re-seed `recipe`'s canonical at its latest release; see the module docstring."""
    canonical = Canonical(config, recipe, client)
    what = f"promotion of {recipe}"
    with locks.hold(config.state, locks.app_lock_name(recipe.value), what, config.timeouts.lock):
        app = AppUnderTest(config, recipe, canonical.domain, canonical.abra_dir, folder, client)
        previous = canonical.record()
        had_snapshot = _has_snapshot(canonical)
        if previous is not None:
            canonical.mark(status=Use.SEEDING)
        try:
            app.checkout = canonical.checkout(app.calls)
            app.target = resolve_target(app.checkout, None, recipe)
            latest = app.target.release
            assert latest is not None
            if app.deployed():
                app.abra.undeploy(canonical.domain)
                app.wait_gone()
            if previous is not None and previous.volumes is Volumes.USED and had_snapshot:
                canonical.snapshots.restore(canonical.app_volumes())
            if not app.abra.env_file(canonical.domain).exists():
                app.abra.server_add_local()
                app.abra.app_new(recipe, canonical.domain, latest.tag)
                app.abra.secret_generate(canonical.domain)
            log.info("promotion: deploying %s at %s", latest.tag, canonical.domain)
            app.deploy_release(latest.tag)
            app.abra.undeploy(canonical.domain)
            if not app.wait_gone():
                raise PromotionFailed(f"{app.stack_name} did not go away after undeploy")
            canonical.snapshots.take(
                canonical.app_volumes(), recipe=recipe.value, version=latest.tag, commit=app.target.commit
            )
            record = Record(recipe.value, canonical.domain.value, latest.tag, app.target.commit)
            canonical.write(record)
            log.info("promotion: canonical %s is now %s", recipe, latest.tag)
            return record
        except BaseException as error:
            _undo(canonical, app, previous, had_snapshot)
            if isinstance(error, Exception):
                raise PromotionFailed(f"{type(error).__name__}: {error}") from error
            raise


def _has_snapshot(canonical: Canonical) -> bool:
    try:
        canonical.snapshots.meta()
        return True
    except NoSnapshot:
        return False


def _undo(canonical: Canonical, app: AppUnderTest, previous: Record | None, had_snapshot: bool) -> None:
    """Put the previous known-good back, or remove a canonical that never became one."""
    try:
        if app.deployed():
            try:
                app.undeploy_keep()
            except StageFailed as error:  # put the data back all the same, as before
                log.warning("promotion undo: %s", error)
        if previous is not None and had_snapshot:
            canonical.snapshots.restore(canonical.app_volumes())
            canonical.write(attrs.evolve(previous, status=Use.IDLE, volumes=Volumes.KNOWN_GOOD))
            log.info("promotion failed: the previous known-good (%s) is back", previous.version)
        else:
            app.stack.remove_leftovers()
            shutil.rmtree(canonical.dir, ignore_errors=True)
            log.info("promotion failed: no previous canonical; the half-made one is removed")
    except Exception as error:  # leave it for a human, loudly
        log.error("promotion failed and so did putting things back: %s", error)
