"""ccci-run: one cold run of a recipe.

    ccci-run RECIPE [--ref REF] [--stages install,upgrade,backup,restore,custom]

Result JSON on stdout, progress on stderr. Exit 0 when every requested stage
passed and teardown left nothing; 1 when the run is red; 2 on bad input
(nothing is created); 128+N when stopped by signal N (after teardown).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ccci import config as config_mod
from ccci import engine, results
from ccci.cold import ColdRequest, ColdRun, Interrupted
from ccci.names import ALL_STAGES, BadInput, RecipeName, Ref, parse_stages

log = logging.getLogger("ccci")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        raise BadInput(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ccci-run", description="Cold-run a Co-op Cloud recipe on the local swarm.")
    p.add_argument("recipe", help="recipe name, e.g. custom-html")
    p.add_argument("--ref", help="tag, branch or commit to test (default: the latest release)")
    p.add_argument(
        "--stages",
        default=",".join(s.value for s in ALL_STAGES),
        help="comma-separated subset of %(default)s",
    )
    p.add_argument("--config", type=Path, help="config file (default: $CCCI_CONFIG or /etc/ccci/config.json)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and every call")
    return p


def setup_logging(debug: bool, run_tag: str = "ccci") -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format=f"{run_tag}: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    setup_logging(debug)
    try:
        args = parser().parse_args(argv)
        request = ColdRequest(
            recipe=RecipeName.parse(args.recipe),
            ref=Ref.parse(args.ref) if args.ref is not None else None,
            stages=parse_stages(args.stages),
        )
        config = config_mod.load(args.config)
        run = ColdRun(config, request)
    except BadInput as error:
        print(f"ccci-run: {error}", file=sys.stderr)
        return 2
    except engine.EngineError as error:
        print(f"ccci-run: {error}", file=sys.stderr)
        return 1
    setup_logging(debug, f"ccci[{run.run_id}]")
    try:
        result = run.execute()
    except BadInput as error:
        print(f"ccci-run: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(results.to_json(run.result))
        print(f"ccci-run: {stop}; torn down", file=sys.stderr)
        return 128 + stop.signum
    except Exception as error:
        if debug:
            raise
        print(f"ccci-run: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(results.to_json(result))
    if result.status is not results.Status.PASSED:
        log.info("RED: %s (artifacts: %s)", result.reason, result.artifacts)
        return 1
    log.info("GREEN in %.1fs (artifacts: %s)", result.seconds, result.artifacts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
