"""Locks: one run per app at a time.

An app's lock is an flock(2) on `<state>/locks/<name>.lock`; the kernel
drops it when its holder dies, so a crashed run never wedges the app. The
holder writes who it is beside the lock, so a waiter can say what it waits
for. A second run on the same app WAITS, saying so once, until the holder
finishes or `timeouts.lock` passes; then it refuses with `Busy`. Two holders
never interleave.

Who holds a lock (or a run slot, ccci.capabilities.capacity) is one record,
`Holder`, written by `Holder.to_json` and read by `Holder.from_json`: JSON
`{what, pid, since}` plus `run` (the run id) when a run holds it. Nothing
parses the free text of `what`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from ccci.pure.names import RunId

log = logging.getLogger("ccci")


class Busy(Exception):
    """The lock stayed taken for the whole wait."""


@attrs.frozen
class Holder:
    """Who holds a lock or a slot: what it is doing, its pid, since when, and its run id if a run."""

    what: str
    pid: int
    since: str
    run: RunId | None = None

    @classmethod
    def me(cls, what: str, run: RunId | None = None) -> Holder:
        return cls(what, os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), run)

    def to_json(self) -> str:
        data: dict[str, object] = {"what": self.what, "pid": self.pid, "since": self.since}
        if self.run is not None:
            data["run"] = self.run.value
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """The record `to_json` wrote; None for anything else (empty: a holder still writing it)."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("what"), str) \
                    or type(data.get("pid")) is not int or not isinstance(data.get("since"), str):
                return None
            run = data.get("run")
            return cls(data["what"], data["pid"], data["since"], None if run is None else RunId.parse(run))
        except (ValueError, TypeError):  # BadInput (a bad run id) is a ValueError
            return None

    def __str__(self) -> str:
        return f"{self.what} (pid {self.pid}, since {self.since})"


def _holder(path: Path) -> str:
    try:
        found = Holder.from_json(path.read_text())
    except OSError:
        found = None
    return str(found) if found is not None else "another run"


@contextmanager
def hold(state: Path, name: str, what: str, timeout: float, poll: float = 1.0) -> Iterator[None]:
    """Hold the lock `name` for the block; wait up to `timeout` seconds for it."""
    folder = state / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / f"{name}.lock"
    holder_path = folder / f"{name}.holder"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(
                        f"{name} is busy: held by {_holder(holder_path)}; gave up after {timeout:.0f}s"
                    ) from None
                if not said:
                    log.info("waiting for %s: held by %s", name, _holder(holder_path))
                    said = True
                time.sleep(poll)
        holder_path.write_text(Holder.me(what).to_json())
        try:
            yield
        finally:
            holder_path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def app_lock_name(recipe: str) -> str:
    return f"app-{recipe}"
