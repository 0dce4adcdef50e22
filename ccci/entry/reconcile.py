"""ccci-reconcile: keep one warm infrastructure app on its latest release, safely.

    ccci-reconcile APP [--plan] [--config FILE] [--debug]
    ccci-reconcile APP --clear-rejected | --clear-failed

APP is a key of the config's `infra`. One JSON result on stdout (`outcome`:
noop-healthy, installed, upgraded, held-major, held-manual-migration,
held-unparseable, rolled-back, rollback-failed, unhealthy, install-failed).
Exit codes (ccci.pure.plan.ExitCode): 0 noop-healthy, installed, upgraded
(and every --plan and --clear-*); 3 held (an operator decides; also a recipe
with no release tag); 4 rolled back (healthy on the prior release); 5 rollback
failed (a human is needed now); 6 unhealthy or install failed; 1 ccci's own
error (engine unreachable, lock busy, every release rejected); 2 bad input;
128+N stopped by signal N after rolling back.
--plan prints what would happen and changes nothing (no lock, no alert).
--clear-rejected forgets the releases rolled back before, so the latest is
tried again; --clear-failed removes the rollback-failed marker once a human
has fixed the app.
"""

from __future__ import annotations

import json
import sys

from ccci.entry.common import DEBUG, Arg, Command, OneOf, config_arg, load_config

COMMAND = Command(
    "ccci-reconcile", "Reconcile a warm infrastructure app to its latest release.",
    Arg("app", help="a key of the config's `infra`"),
    OneOf(
        Arg("--plan", action="store_true", help="print what would happen; change nothing"),
        Arg("--clear-rejected", action="store_true", help="forget the releases rolled back before"),
        Arg("--clear-failed", action="store_true", help="remove the rollback-failed marker"),
    ),
    config_arg(), DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.jobs.reconcile import Reconciler
    from ccci.pure.plan import ExitCode, ReconcileError

    config = load_config(args.config)
    reconciler = Reconciler(config, args.app)
    if args.clear_rejected:
        print(json.dumps({"app": args.app, "cleared": "rejected", "versions": reconciler.clear_rejected()}))
        return ExitCode.OK
    if args.clear_failed:
        print(json.dumps({"app": args.app, "cleared": "rollback-failed", "marker": reconciler.clear_failed()}))
        return ExitCode.OK
    try:
        result = reconciler.execute(dry_run=args.plan)
    except ReconcileError as error:
        print(f"ccci-reconcile: {args.app}: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except BaseException:
        if reconciler.result.outcome is not None:  # e.g. rolled back after SIGTERM
            print(reconciler.result.to_json())
        raise
    print(result.to_json())
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
