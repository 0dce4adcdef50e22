"""ccci-run: one cold run of a recipe.

    ccci-run RECIPE [--ref REF] [--stages install,upgrade,backup,restore,custom]

Result JSON on stdout, progress on stderr. Exit 0 when every requested stage
passed and teardown left nothing (and, when the run promotes, the promotion
worked); 1 when the run is red; 2 on bad input (nothing is created); 128+N
when stopped by signal N (after teardown).

A green, cold, latest (no --ref), full run of an enrolled recipe that keeps a
canonical then re-seeds that canonical (see docs/warm.md).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ccci.pure import config as config_mod
from ccci.capabilities import capacity
from ccci.pure import results
from ccci.jobs.cold import ColdRequest, ColdRun
from ccci.entry.common import Parser, guarded, setup_logging
from ccci.pure.names import ALL_STAGES, BadInput, RecipeName, Ref, parse_stages
from ccci.jobs.promote import PromotionFailed, promote, should_promote
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")


def parser() -> Parser:
    p = Parser(prog="ccci-run", description="Cold-run a Co-op Cloud recipe on the local swarm.")
    p.add_argument("recipe", help="recipe name, e.g. custom-html")
    p.add_argument("--ref", help="tag, branch or commit to test (default: the latest release)")
    p.add_argument("--stages", default=",".join(s.value for s in ALL_STAGES),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--config", type=Path, help="config file (default: $CCCI_CONFIG or /etc/ccci/config.json)")
    p.add_argument("--result-file", type=Path, help="also write the result JSON here (atomically)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded("ccci-run", argv, lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    request = ColdRequest(
        recipe=RecipeName.parse(args.recipe),
        ref=Ref.parse(args.ref) if args.ref is not None else None,
        stages=parse_stages(args.stages),
    )
    config = config_mod.load(args.config)
    run = ColdRun(config, request)
    setup_logging(args.debug, f"ccci[{run.run_id}]")
    try:
        with capacity.admitted(config, f"cold run {run.run_id} of {request.recipe}", run.run_id):
            result = run.execute()
            code = 0 if result.status is results.Status.PASSED else 1
            code = _maybe_promote(config, request, run, result) or code
    except BadInput:
        raise  # refused input: one line on stderr, nothing on stdout
    except BaseException:
        if run.result.stages or run.result.teardown.status is not results.Status.SKIPPED:
            print(results.to_json(run.result))  # an interrupted run still reports
        raise
    write_atomic(run.folder / "result.json", results.to_json(result))
    if args.result_file is not None:
        write_atomic(args.result_file, results.to_json(result))
    print(results.to_json(result))
    if code:
        log.info("RED: %s (artifacts: %s)", result.reason or result.promotion, result.artifacts)
    else:
        log.info("GREEN in %.1fs%s (artifacts: %s)", result.seconds,
                 f", {result.promotion}" if result.promotion else "", result.artifacts)
    return code


def _maybe_promote(config, request: ColdRequest, run: ColdRun, result: results.RunResult) -> int:
    """Promote when the run earned it (inside the run's slot); 1 if that failed."""
    eligible, why = should_promote(config, result, request.stages)
    if eligible:
        try:
            record = promote(config, request.recipe, run.client, run.folder / "promotion")
            result.promotion = f"promoted {record.version}"
        except PromotionFailed as error:
            result.promotion = f"failed: {error}"
            return 1
    elif config.enrolled(request.recipe) and config.settings_for(request.recipe).canonical:
        result.promotion = f"not promoted: {why}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
