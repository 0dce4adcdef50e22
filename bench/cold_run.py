"""Benchmark: per-stage wall time of cold runs, and ccci's own overhead.

    python3 bench/cold_run.py [RECIPE ...]     (default: fx-web fx-pair)

Needs the test bed (tests/bed/setup). For each recipe it runs one full cold
run in-process and prints each stage's seconds, then the overhead ratio:
total run time / time spent outside ccci's own Python (inside abra, git and
test processes, plus waiting on the engine and the app to converge, answer
and go away). 1.00 means ccci adds nothing; the aim is <= 1.05. The runs use
the bed's config with a private state folder (never promote, never touch the
bed's canonicals); each run tears its app down, and the folder with the runs'
artifacts is removed at the end, also on failure.
"""

from __future__ import annotations

import logging
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccci.entry.common import load_config  # noqa: E402
from ccci.pure import config as config_mod  # noqa: E402
from ccci.jobs.cold import ColdRequest, ColdRun  # noqa: E402
from ccci.pure.names import ALL_STAGES, RecipeName  # noqa: E402


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    bed = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
    data = json.loads(config_mod.dump(load_config(bed / "config.json")))
    work = Path(tempfile.mkdtemp(prefix="ccci-bench-cold-"))
    data["state_dir"] = str(work / "state")
    try:
        return measure(config_mod.parse(data), argv)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(config: config_mod.Config, argv: list[str]) -> int:
    recipes = argv or ["fx-web", "fx-pair"]
    stages = [s.value for s in ALL_STAGES]
    print(f"{'recipe':<9}" + "".join(f"{s:>9}" for s in stages) + f"{'teardown':>10}{'total':>8}"
          f"{'outside':>9}{'ratio':>7}")
    worst = 0.0
    for name in recipes:
        run = ColdRun(config, ColdRequest(RecipeName.parse(name), None, ALL_STAGES))
        result = run.execute()
        times = {s.name: s.seconds for s in result.stages}
        outside = result.call_seconds + result.wait_seconds
        ratio = result.seconds / outside if outside else float("inf")
        worst = max(worst, ratio)
        print(f"{name:<9}" + "".join(f"{times.get(s, 0):>9.1f}" for s in stages)
              + f"{result.teardown.seconds:>10.1f}{result.seconds:>8.1f}{outside:>9.1f}{ratio:>7.3f}"
              + ("" if result.status.value == "passed" else f"  RED: {result.reason}"))
    print(f"overhead ratio (total / outside), worst: {worst:.3f} (aim <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
