"""Locks: one run per app at a time.

An app's lock is an flock(2) on `<state>/locks/<name>.lock`; the kernel
drops it when its holder dies, so a crashed run never wedges the app. The
holder writes who it is beside the lock, so a waiter can say what it waits
for. A second run on the same app WAITS, saying so once, until the holder
finishes or `timeouts.lock` passes; then it refuses with `Busy`. Two holders
never interleave.
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

log = logging.getLogger("ccci")


class Busy(Exception):
    """The lock stayed taken for the whole wait."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"{info.get('what', '?')} (pid {info.get('pid')}, since {info.get('since')})"
    except (OSError, ValueError):
        return "another run"


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
        holder_path.write_text(json.dumps(
            {"what": what, "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        ))
        try:
            yield
        finally:
            holder_path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def app_lock_name(recipe: str) -> str:
    return f"app-{recipe}"
