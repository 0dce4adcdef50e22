"""ccci-run: one cold run of a recipe.

    ccci-run RECIPE [--ref REF] [--stages install,upgrade,backup,restore,custom] [--run-id HEX6]

Result JSON on stdout, progress on stderr. Exit 0 when every requested stage
passed and teardown left nothing (and, when the run promotes, the promotion
worked); 1 when the run is red; 2 on bad input (nothing is created); 128+N
when stopped by signal N (after teardown).

A green, cold, latest (no --ref), full run of an enrolled recipe that keeps a
canonical then re-seeds that canonical (see docs/warm.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ccci.entry.common import (
    DEBUG, RUN_ID, Arg, Command, chosen_run_id, config_arg, load_config, report_run, setup_logging,
)
from ccci.pure.names import ALL_STAGES, RecipeName, RunId, Ref, parse_stages


COMMAND = Command(
    "ccci-run", "Cold-run a Co-op Cloud recipe on the local swarm.",
    Arg("recipe", help="recipe name, e.g. custom-html"),
    Arg("--ref", help="tag, branch or commit to test (default: the latest release)"),
    Arg("--stages", default=",".join(s.value for s in ALL_STAGES), help="comma-separated subset of %(default)s"),
    config_arg(),
    Arg("--result-file", type=Path, help="also write the result JSON here (atomically)"),
    RUN_ID,
    DEBUG,
)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv, _main)


def _main(args) -> int:
    from ccci.jobs.cold import ColdRequest, ColdRun, run_cold
    from ccci.pure import results
    from ccci.seams.files import write_atomic

    request = ColdRequest(
        recipe=RecipeName.parse(args.recipe),
        ref=Ref.parse(args.ref) if args.ref is not None else None,
        stages=parse_stages(args.stages),
    )
    if args.run_id is not None:
        RunId.parse(args.run_id)  # bad input before the config is read
    config = load_config(args.config)
    run = ColdRun(config, request, run_id=chosen_run_id(args.run_id, config, request.recipe.value))
    setup_logging(args.debug, f"ccci[{run.run_id}]")
    result = report_run(run.result, lambda: run_cold(config, run))
    if args.result_file is not None:
        write_atomic(args.result_file, results.to_json(result))
    return results.exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
