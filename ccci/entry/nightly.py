"""ccci-nightly: the nightly sweep (docs/nightly.md).

    ccci-nightly [--config FILE] [--debug]

One JSON summary on stdout. Exit 0 when every recipe was green and no infra
app rolled back or failed (a held upgrade is not a failure: it alerted);
1 when anything was red (an alert is raised), or when another sweep or a run
is in flight (nothing is done); 2 bad input.
"""

from __future__ import annotations

import sys

from ccci.entry.common import DEBUG, Command, config_arg, config_path, load_config

COMMAND = Command(
    "ccci-nightly", "Reconcile warm infra, then cold-run every enrolled recipe.", config_arg(), DEBUG
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.jobs.nightly import Nightly, SweepStatus
    from ccci.seams import engine

    path = config_path(args.config)
    config = load_config(path)
    result = Nightly(config, path.resolve(), engine.connect()).run()
    print(result.to_json())
    return 0 if result.status is SweepStatus.PASSED else 1


if __name__ == "__main__":
    sys.exit(main())
