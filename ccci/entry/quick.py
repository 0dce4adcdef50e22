"""ccci-quick: test a ref as an in-place upgrade of the recipe's warm canonical.

    ccci-quick RECIPE REF [--config FILE] [--run-id HEX6] [--debug]

Result JSON on stdout (its `mode` says what ran: quick, or cold when there
was no usable canonical). Exit 0 green, 1 red (the known-good is restored),
2 bad input, 128+N stopped by signal N (after restoring the known-good).
A second run on the same app waits for the first (up to timeouts.lock).
"""

from __future__ import annotations

import sys

from ccci.entry.common import (
    DEBUG, RUN_ID, Arg, Command, chosen_run_id, config_arg, load_config, report_run, setup_logging,
)
from ccci.pure.names import RecipeName, RunId, Ref


COMMAND = Command(
    "ccci-quick", "Quick-test a ref against the warm canonical.",
    Arg("recipe"), Arg("ref", help="the PR head: tag, branch or commit"), config_arg(), RUN_ID, DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.jobs.quick import QuickRun, run_quick
    from ccci.pure import results

    recipe, ref = RecipeName.parse(args.recipe), Ref.parse(args.ref)
    if args.run_id is not None:
        RunId.parse(args.run_id)  # bad input before the config is read
    config = load_config(args.config)
    run = QuickRun(config, recipe, ref, run_id=chosen_run_id(args.run_id, config, recipe.value))
    setup_logging(args.debug, f"ccci[{run.run_id}]")
    result = report_run(run.result, lambda: run_quick(config, run))
    return results.exit_code(result)

if __name__ == "__main__":
    sys.exit(main())
