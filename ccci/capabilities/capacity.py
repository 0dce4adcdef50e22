"""Admission: the global cap on concurrent runs and the free-disk floor.

Every run that deploys (cold, quick) is admitted first: it refuses to start
when the filesystem holding the state dir has less than `min_free_disk_mib`
free (with an alert), and it holds one of `max_concurrent_runs` slots for its
whole life. A slot is an flock on `<state>/locks/slot-<n>.lock`, released by
the kernel if the holder dies, which holds the holder's record
(ccci.capabilities.locks.Holder, JSON; with the run id of the run). With
every slot taken a run waits (saying so once) up to `timeouts.lock`, then
refuses. A promotion runs inside the cold run that earned it and uses that
run's slot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from ccci.capabilities.alerts import Alerts
from ccci.pure.config import Config
from ccci.capabilities.locks import Busy, Holder
from ccci.pure.names import RunId

log = logging.getLogger("ccci")


class LowDisk(Exception):
    """Less free disk than the configured floor: nothing was started."""


def free_mib(config: Config) -> int:
    path = config.state
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free // (1 << 20)


def check_disk(config: Config, what: str) -> None:
    free = free_mib(config)
    if free < config.min_free_disk_mib:
        message = (
            f"{what} refused: {free} MiB free under {config.state_dir}, "
            f"below min_free_disk_mib {config.min_free_disk_mib}"
        )
        Alerts(config.state, config.alerts).send(
            "ccci", "low-disk", "CI host low on disk", message,
            free_mib=free, min_free_disk_mib=config.min_free_disk_mib,
        )
        raise LowDisk(message)


def _slot_paths(config: Config) -> list[str]:
    folder = config.state / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return [str(folder / f"slot-{n}.lock") for n in range(config.max_concurrent_runs)]


@contextmanager
def slot(config: Config, what: str, run: RunId | None = None, poll: float = 1.0) -> Iterator[int]:
    """Hold one run slot for the block, as `run`; wait up to timeouts.lock for one."""
    paths = _slot_paths(config)
    deadline = time.monotonic() + config.timeouts.lock
    said = False
    while True:
        for number, path in enumerate(paths):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, (Holder.me(what, run).to_json() + "\n").encode())
                yield number
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise Busy(f"all {len(paths)} run slots stayed busy for {config.timeouts.lock}s; {what} not started")
        if not said:
            log.info("waiting for a run slot: all %d are busy", len(paths))
            said = True
        time.sleep(poll)


def holders(config: Config) -> list[Holder | None]:
    """The record of each slot held now (without taking one); None where it is not readable yet."""
    held: list[Holder | None] = []
    for path in _slot_paths(config):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            with open(path) as handle:
                held.append(Holder.from_json(handle.read()))
        finally:
            os.close(fd)
    return held


def runs_in_flight(config: Config) -> list[str]:
    """Who holds a slot now, as it says it: `<what> (pid <pid>)`."""
    return [f"{h.what} (pid {h.pid})" if h is not None else "a run" for h in holders(config)]


def live_run_ids(config: Config) -> set[str]:
    """Run ids of the runs holding a slot now, from their holder records."""
    return {h.run.value for h in holders(config) if h is not None and h.run is not None}


@contextmanager
def admitted(config: Config, what: str, run: RunId | None = None) -> Iterator[None]:
    """Disk floor checked, then a slot held (as `run`), for the block."""
    check_disk(config, what)
    with ExitStack() as stack:
        stack.enter_context(slot(config, what, run))
        yield
