"""Benchmark: a --quick run against the canonical vs a cold run, same recipe, same ref.

    python3 bench/quick_vs_cold.py                     (fx-web 1.1.0+1.35.0, then keycloak 10.6.0+26.7.3)
    python3 bench/quick_vs_cold.py RECIPE [REF]        (REF: the default above for these two)

Needs the test bed (tests/bed/setup). Uses a private state dir (and for fx-web
a private base domain) so the bed's own canonical is untouched. keycloak, like
a real recipe, publishes no port: it is reached through the bed's front door
(tests/bed/front-door up; taken down again at the end when it was not up
before), by its domain over verified TLS, as production reaches it. Builds the recipe's repository
from tests/bed/recipes/RECIPE into it (with the images its manifest names,
tests/bed/images/recipes: a no-op when built). Seeds the canonical first with
the promotion job alone (`ccci.jobs.promote.promote` at the recipe's latest
release: deploy, wait healthy, undeploy, snapshot; not timed), then times, in
this order, one cold run at REF and one quick run at REF, and prints for each
the full wall time and the time to verdict (when the PR's result is known:
the wall time less the housekeeping after the last stage, i.e. teardown, or
for --quick putting the canonical back), and the ratios quick / cold of both
(aim <= 0.25). Leaves nothing behind: the canonical's stack and volumes and
the private folder are removed, also on failure.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ccci.entry.common import load_config  # noqa: E402
from ccci.pure import config as config_mod  # noqa: E402
from ccci.pure.results import RunResult  # noqa: E402
from ccci.seams import engine  # noqa: E402
from ccci.jobs.cold import ColdRequest, ColdRun  # noqa: E402
from ccci.pure.names import ALL_STAGES, RecipeName, Ref, stack_name, warm_domain  # noqa: E402
from ccci.jobs.promote import promote  # noqa: E402
from ccci.jobs.quick import QuickRun  # noqa: E402
from tests.fixtures.production import FrontDoorNotUp, warm_front_door  # noqa: E402

DEFAULTS = (("fx-web", "1.1.0+1.35.0"), ("keycloak", "10.6.0+26.7.3"))
BED_SRC = ROOT / "tests" / "bed"
THROUGH_FRONT_DOOR = {"keycloak"}  # recipes that publish no port, as real ones


@contextmanager
def reach(recipe: RecipeName, bed: Path, client) -> Iterator[dict]:
    """The config to start from: the front door's (warm for the run) or the bed's."""
    if recipe.value not in THROUGH_FRONT_DOOR:
        yield json.loads(config_mod.dump(load_config(bed / "config.json")))
        return
    print(f"{recipe}: through the front door (tests/bed/front-door up)", file=sys.stderr)
    with warm_front_door(client) as door:
        yield {**door.data, "infra": {}}


def timed(run) -> tuple[RunResult, float, float]:
    """The result, its full wall time and its time to verdict."""
    began = time.monotonic()
    result = run.execute()
    wall = time.monotonic() - began
    return result, wall, wall - result.teardown.seconds


def measure(recipe: RecipeName, ref: Ref) -> int:
    bed = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
    client = engine.connect()
    with reach(recipe, bed, client) as data:
        return measure_from(recipe, ref, data, client)


def measure_from(recipe: RecipeName, ref: Ref, data: dict, client) -> int:
    work = Path(tempfile.mkdtemp(prefix="ccci-bench-"))
    subprocess.run([str(BED_SRC / "recipes" / "build"), str(work / "recipes"), recipe.value],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(BED_SRC / "images" / "recipes"), recipe.value], check=True)
    if recipe.value not in THROUGH_FRONT_DOOR:  # the front door's wildcard covers one level only
        data.update(base_domain=f"b{secrets.token_hex(3)}.ccci.test")
    data.update(state_dir=str(work / "state"),
                recipe_source=f"file://{work / 'recipes'}/{{recipe}}",
                recipes={recipe.value: {"canonical": True}})
    # Keycloak starts in one to two minutes on 2 cores: waits as generous as the recipe asks.
    data["timeouts"] = {**data.get("timeouts", {}), "converge": 600, "http": 120, "abra": 900, "tests": 600}
    config = config_mod.parse(data)
    try:
        seeded = promote(config, recipe, client, work / "seed")
        print(f"{recipe}: canonical seeded at {seeded.version}", file=sys.stderr)
        cold = timed(ColdRun(config, ColdRequest(recipe, ref, ALL_STAGES), client=client))
        quick = timed(QuickRun(config, recipe, ref, client=client))
    finally:
        engine.Stack(client, stack_name(warm_domain(recipe, config.domain))).remove_leftovers()
        shutil.rmtree(work, ignore_errors=True)
    for result, wall, verdict in (cold, quick):
        stages = ", ".join(f"{s.name} {s.seconds:.1f}s" for s in result.stages)
        print(f"{recipe} {result.mode.value:>5} {result.status.value:>6} wall {wall:6.1f}s verdict {verdict:6.1f}s"
              f"  ({stages}; teardown {result.teardown.seconds:.1f}s)")
    if cold[0].status.value != "passed" or quick[0].status.value != "passed" or quick[0].mode.value != "quick":
        print(f"{recipe}: a run was red or quick fell back: no ratio", file=sys.stderr)
        return 1
    for name, index in (("wall", 1), ("verdict", 2)):
        print(f"{recipe} quick / cold ({name}) = {quick[index]:.1f}s / {cold[index]:.1f}s"
              f" = {quick[index] / cold[index]:.3f} (aim <= 0.25)")
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    refs = dict(DEFAULTS)
    if len(argv) > 2 or (len(argv) == 1 and argv[0] not in refs):
        print("usage: bench/quick_vs_cold.py [RECIPE [REF]] (REF needed except for "
              f"{', '.join(refs)})", file=sys.stderr)
        return 2
    pairs = [(argv[0], argv[1] if len(argv) == 2 else refs[argv[0]])] if argv else DEFAULTS
    worst = 0
    for recipe, ref in pairs:
        try:
            worst = max(worst, measure(RecipeName.parse(recipe), Ref.parse(ref)))
        except FrontDoorNotUp as error:
            print(f"bench: {recipe}: {str(error).splitlines()[0]}", file=sys.stderr)
            worst = 1
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
