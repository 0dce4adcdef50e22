"""ccci-nightly: the nightly sweep (docs/nightly.md).

    ccci-nightly [--config FILE] [--debug]

One JSON summary on stdout. Exit 0 when every recipe was green and no infra
app rolled back or failed (a held upgrade is not a failure: it alerted);
1 when anything was red (an alert is raised), or when another sweep or a run
is in flight (nothing is done); 2 bad input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ccci.pure import config as config_mod
from ccci.seams import engine
from ccci.pure.config import DEFAULT_PATH
from ccci.entry.common import Parser, guarded
from ccci.jobs.nightly import Nightly, SweepStatus


def parser() -> Parser:
    p = Parser(prog="ccci-nightly", description="Reconcile warm infra, then cold-run every enrolled recipe.")
    p.add_argument("--config", type=Path)
    p.add_argument("--debug", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded("ccci-nightly", argv, lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    path = args.config or Path(os.environ.get("CCCI_CONFIG") or DEFAULT_PATH)
    config = config_mod.load(path)
    result = Nightly(config, path.resolve(), engine.connect()).run()
    print(result.to_json())
    return 0 if result.status is SweepStatus.PASSED else 1


if __name__ == "__main__":
    sys.exit(main())
