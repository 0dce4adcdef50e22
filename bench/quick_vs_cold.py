"""Benchmark: a --quick run against the canonical vs a cold run, same recipe, same ref.

    python3 bench/quick_vs_cold.py [RECIPE] [REF]      (default: fx-web 1.1.0+1.35.0)

Needs the test bed (tests/bed/setup). Uses a private state dir and base domain
so the bed's own canonical is untouched. Seeds the canonical first with the
promotion job alone (`ccci.jobs.promote.promote` at the recipe's latest
release: deploy, wait healthy, undeploy, snapshot; not timed), then times, in
this order, one cold run at REF and one quick run at REF, and prints the
ratio quick / cold (aim <= 0.25) with each run's stage times. Leaves nothing
behind: the canonical's stack and volumes and the private state folder are
removed, also on failure.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccci.entry.common import load_config  # noqa: E402
from ccci.pure import config as config_mod  # noqa: E402
from ccci.seams import engine  # noqa: E402
from ccci.jobs.cold import ColdRequest, ColdRun  # noqa: E402
from ccci.pure.names import ALL_STAGES, RecipeName, Ref, stack_name, warm_domain  # noqa: E402
from ccci.jobs.promote import promote  # noqa: E402
from ccci.jobs.quick import QuickRun  # noqa: E402


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    recipe = RecipeName.parse(argv[0] if argv else "fx-web")
    ref = Ref.parse(argv[1] if len(argv) > 1 else "1.1.0+1.35.0")
    bed = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
    data = json.loads(config_mod.dump(load_config(bed / "config.json")))
    work = Path(tempfile.mkdtemp(prefix="ccci-bench-"))
    data.update(base_domain=f"b{secrets.token_hex(3)}.ccci.test", state_dir=str(work / "state"),
                recipes={recipe.value: {"canonical": True}})
    config = config_mod.parse(data)
    client = engine.connect()
    try:
        seeded = promote(config, recipe, client, work / "seed")
        print(f"canonical seeded at {seeded.version}", file=sys.stderr)
        cold = ColdRun(config, ColdRequest(recipe, ref, ALL_STAGES), client=client).execute()
        quick = QuickRun(config, recipe, ref, client=client).execute()
    finally:
        engine.Stack(client, stack_name(warm_domain(recipe, config.domain))).remove_leftovers()
        shutil.rmtree(work, ignore_errors=True)
    for result in (cold, quick):
        stages = ", ".join(f"{s.name} {s.seconds:.1f}s" for s in result.stages)
        print(f"{result.mode.value:>5} {result.status.value:>6} {result.seconds:6.1f}s  ({stages}; "
              f"teardown {result.teardown.seconds:.1f}s)")
    if cold.status.value != "passed" or quick.status.value != "passed" or quick.mode.value != "quick":
        print("a run was red or quick fell back: no ratio", file=sys.stderr)
        return 1
    print(f"quick / cold = {quick.seconds:.1f}s / {cold.seconds:.1f}s = {quick.seconds / cold.seconds:.3f} (aim <= 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
