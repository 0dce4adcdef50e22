"""The reaper: nothing of a dead run outlives the next sweep.

A run that could not tear down (SIGKILL, an engine that went away and did
not come back in time) leaves objects behind. The reaper removes every
object that names a cold run of this host's base domain — services,
containers, volumes, secrets, configs and networks whose stack is
`<recipe[:4]>-<run id>_<base>` (abra's secrets by that name prefix), the
run's ABRA_DIR `<state>/abra/<run id>`, and its Keycloak realm (through
`realms.reap`) — whose run is not live. A run is live while it holds a run
slot (`capacity.live_run_ids`), the same judgement the realm reaper makes;
liveness is asked again right before each run's objects are removed.

Never touched: canonicals (`warm-*`, under any base domain), infra apps,
stacks of another base domain, anything not named like a cold run.
`ccci-nightly` runs it, and every run runs it at its start (bounded).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable

import attrs
import docker
import docker.errors
import requests.exceptions

from ccci.capabilities import capacity, realms
from ccci.pure.config import Config
from ccci.pure.names import BadInput, Domain, RecipeName, RunId, cold_domain, stack_name
from ccci.seams import engine

log = logging.getLogger("ccci")

CANONICAL_PREFIX = "warm-"
AT_START_SECONDS = 60  # what reaping may cost a run at its start


@attrs.define
class Reaped:
    """What one sweep removed (by run: stacks, ABRA_DIRs, realms)."""

    stacks: list[str] = attrs.Factory(list)
    abra_dirs: list[str] = attrs.Factory(list)
    realms: list[str] = attrs.Factory(list)

    def names(self) -> list[str]:
        return [*self.stacks, *self.abra_dirs, *self.realms]


def run_stack(name: str, base: Domain, *, prefix: bool = False) -> tuple[str, str] | None:
    """(run id, stack) when `name` is a cold run's stack under `base` (with
    `prefix`: or a name that starts with it, like abra's secrets); else None."""
    label = name.split("_", 1)[0]
    if label.startswith(CANONICAL_PREFIX):
        return None
    head, _, run = label.rpartition("-")
    try:
        stack = stack_name(cold_domain(RecipeName.parse(head), RunId.parse(run), base))
    except BadInput:
        return None
    if name == stack or (prefix and name.startswith(f"{stack}_")):
        return run, stack
    return None


def _protected(config: Config) -> set[str]:
    """Stacks the reaper never touches, whatever their names look like."""
    stacks = set()
    for app in config.infra.values():
        try:
            stacks.add(stack_name(Domain.parse(app.domain)))
        except BadInput:
            continue
    return stacks


def run_stacks(config: Config, client: docker.DockerClient) -> dict[str, str]:
    """Every cold run's stack with anything left on the engine: stack → run id."""
    protected = _protected(config)
    found = {}
    hits = [run_stack(name, config.domain) for name in engine.namespaces(client)]
    hits += [run_stack(name, config.domain, prefix=True) for name in engine.secret_and_config_names(client)]
    for hit in hits:
        if hit is not None and hit[1] not in protected:
            found[hit[1]] = hit[0]
    return found


def run_abra_dirs(config: Config) -> dict[str, str]:
    """Every run's ABRA_DIR under `<state>/abra/`: path → run id."""
    folder = config.state / "abra"
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        try:
            found[str(path)] = RunId.parse(path.name).value
        except BadInput:
            continue
    return found


def reap(
    config: Config,
    client: docker.DockerClient,
    *,
    also_live: Iterable[str] = (),
    deadline: float | None = None,
    with_realms: bool = True,
) -> Reaped:
    """Remove what dead runs left (see the module docstring); what went.

    `also_live`: run ids to keep although they hold no slot (the caller's
    own run). `deadline` (monotonic): stop starting new removals after it.
    `with_realms`: also reap Keycloak realms (needs Keycloak up).
    """
    keep = set(also_live)
    reaped = Reaped()

    def dead(run: str) -> bool:
        return run not in keep and run not in capacity.live_run_ids(config)

    def time_left() -> bool:
        return deadline is None or time.monotonic() < deadline

    for stack, run in sorted(run_stacks(config, client).items()):
        if not time_left():
            log.info("reap: out of time; the rest waits for the next sweep")
            break
        if dead(run):
            log.info("reap: removing stack %s (run %s is not live)", stack, run)
            left = engine.Stack(client, stack).clear()
            reaped.stacks.append(stack)
            if left:
                log.warning("reap: %s still has %s; the next sweep tries again", stack, left)
    for path, run in sorted(run_abra_dirs(config).items()):
        if dead(run):
            log.info("reap: removing ABRA_DIR %s (run %s is not live)", path, run)
            shutil.rmtree(path, ignore_errors=True)
            reaped.abra_dirs.append(path)
    if with_realms and config.keycloak is not None and time_left():
        try:
            reaped.realms = realms.reap(config.keycloak, capacity.live_run_ids(config) | keep,
                                        server=realms.server_for(config))
        except realms.RealmError as error:  # housekeeping: the next sweep tries again
            log.warning("reap: could not reap realms: %s", error)
    return reaped


def reap_at_start(config: Config, client: docker.DockerClient, run_id: RunId, recipe: RecipeName) -> Reaped:
    """The sweep every run makes as it starts: bounded, logged, never fatal.

    Realms are reaped here only by runs whose recipe needs Keycloak (Keycloak
    is up for them anyway); the nightly reaps them for everyone.
    """
    began = time.monotonic()
    needs_keycloak = "keycloak" in config.settings_for(recipe).needs
    try:
        reaped = reap(config, client, also_live={run_id.value}, deadline=began + AT_START_SECONDS,
                      with_realms=needs_keycloak)
    except (engine.EngineError, docker.errors.DockerException, requests.exceptions.RequestException) as error:
        log.warning("reap: skipped at the start of this run: %s", error)
        return Reaped()
    if reaped.names():
        log.info("reap: removed what dead runs left in %.1fs: %s", time.monotonic() - began, ", ".join(reaped.names()))
    return reaped
