"""Signals during a run: SIGINT and SIGTERM become `Interrupted`, so the
run's cleanup (teardown, rollback, realm deletion) runs as for any error;
and the cleanup itself runs with both signals held, so it is not cut short.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


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
