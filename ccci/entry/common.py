"""What every console script shares: argv parsing that fails in one line,
logging to stderr, and the mapping of errors to exit codes.

Exit codes: 0 success; 1 a red run or an operational failure (engine
unreachable, app busy); 2 bad input (nothing was created); 128+N stopped by
signal N after cleaning up.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from ccci.seams import engine
from ccci.capabilities import locks
from ccci.capabilities.signals import Interrupted
from ccci.capabilities.capacity import LowDisk
from ccci.pure.names import BadInput


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        raise BadInput(message)


def setup_logging(debug: bool, tag: str = "ccci") -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format=f"{tag}: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def guarded(prog: str, argv: list[str] | None, body: Callable[[], int]) -> int:
    """Run `body`, turning ccci's errors into one line on stderr and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    setup_logging(debug)
    try:
        return body()
    except BadInput as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    except (engine.EngineError, locks.Busy, LowDisk) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        print(f"{prog}: {stop}; cleaned up", file=sys.stderr)
        return 128 + stop.signum
    except Exception as error:
        if debug:
            raise
        print(f"{prog}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
