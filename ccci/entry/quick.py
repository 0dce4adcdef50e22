"""ccci-quick: test a ref as an in-place upgrade of the recipe's warm canonical.

    ccci-quick RECIPE REF [--config FILE] [--debug]

Result JSON on stdout (its `mode` says what ran: quick, or cold when there
was no usable canonical). Exit 0 green, 1 red (the known-good is restored),
2 bad input, 128+N stopped by signal N (after restoring the known-good).
A second run on the same app waits for the first (up to timeouts.lock).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccci.pure import config as config_mod
from ccci.capabilities import capacity
from ccci.pure import results
from ccci.entry.common import Parser, guarded, setup_logging
from ccci.pure.names import BadInput, RecipeName, Ref
from ccci.jobs.quick import QuickRun


def parser() -> Parser:
    p = Parser(prog="ccci-quick", description="Quick-test a ref against the warm canonical.")
    p.add_argument("recipe")
    p.add_argument("ref", help="the PR head: tag, branch or commit")
    p.add_argument("--config", type=Path)
    p.add_argument("--debug", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded("ccci-quick", argv, lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    recipe, ref = RecipeName.parse(args.recipe), Ref.parse(args.ref)
    config = config_mod.load(args.config)
    run = QuickRun(config, recipe, ref)
    setup_logging(args.debug, f"ccci[{run.run_id}]")
    try:
        with capacity.admitted(config, f"quick run {run.run_id} of {recipe} at {ref}", run.run_id):
            result = run.execute()
    except BadInput:
        raise  # refused input: one line on stderr, nothing on stdout
    except BaseException:
        if run.result.stages:
            print(results.to_json(run.result))
        raise
    print(results.to_json(result))
    return 0 if result.status is results.Status.PASSED else 1


if __name__ == "__main__":
    sys.exit(main())
