"""Progress lines on stderr, held back until a run's input holds up.

A run prints what it does as it goes, but refused input (an unknown recipe,
a ref that names nothing) must print only the refusal: no run id, no clone
line, no teardown line. So the lines logged while the input is still being
checked are held, and shown only once it held up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ccci.pure.names import BadInput


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def held_until_accepted() -> Iterator[None]:
    """Hold every log line of the block; show them after it, drop them on `BadInput`."""
    root = logging.getLogger()
    shown = root.handlers[:]
    held = _Held()
    root.handlers = [held]
    refused = False
    try:
        yield
    except BadInput:
        refused = True
        raise
    finally:
        root.handlers = shown
        if not refused:
            for record in held.records:
                for handler in shown:
                    if record.levelno >= handler.level:
                        handler.handle(record)
