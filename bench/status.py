#!/usr/bin/env python3
"""Render a generated state directory of 1,000 runs over 50 recipes: under 2 s?

    PYTHONPATH=. python3 bench/status.py [--runs 1000] [--recipes 50]

Builds the state dir in a temporary folder (runs with calls/ and failure/,
canonicals with snapshots and verify records, an infra app's last outcome,
the bridge's pending builds, alerts, nightly summaries), then times
`ccci.capabilities.status_page.render` against a baseline measured in the
same run: only reading and parsing every JSON record the page reads.
Prints both and their ratio; exits 1 when the render takes 2 s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from ccci.capabilities import status_page
from ccci.pure import config as config_mod
from ccci.pure import results
from ccci.pure.results import Mode, RunResult, StageResult, Status, Teardown

LIMIT = 2.0
QUEUED = 10  # builds the bridge queued whose runs have not started: a page each


def generate(state: Path, runs: int, recipes: int) -> None:
    rng = random.Random(16)
    names = [f"recipe-{i:02d}" for i in range(recipes)]
    now = time.time()
    for i in range(runs):
        recipe = names[i % recipes]
        run_id = f"{i:06x}"
        red = rng.random() < 0.2
        quick = rng.random() < 0.3
        stages = [StageResult(s, Status.PASSED, rng.uniform(1, 40)) for s in ("install", "upgrade", "backup")]
        if red:
            stages.append(StageResult("restore", Status.FAILED, 3.0, "app: task failed: non-zero exit (1)"))
        result = RunResult(recipe=recipe, ref=None if rng.random() < 0.5 else "a" * 40,
                           mode=Mode.QUICK if quick else Mode.COLD, run_id=run_id, domain=f"{recipe}.test",
                           stack="s", status=Status.FAILED if red else Status.PASSED, stages=stages,
                           teardown=Teardown(Status.PASSED, 8.0), seconds=rng.uniform(20, 120),
                           requested_mode=Mode.QUICK if quick else None)
        folder = state / "runs" / f"{recipe}-{run_id}"
        (folder / "calls").mkdir(parents=True)
        (folder / "result.json").write_text(results.to_json(result))
        (folder / "junit.xml").write_text(results.junit(result))
        for n in range(20):
            (folder / "calls" / f"{n:03d}-abra-app-deploy.log").write_text("$ abra app deploy\n")
        if red:
            (folder / "failure").mkdir()
            (folder / "failure" / "app.log").write_text("log\n")
            (folder / "failure" / "tasks.json").write_text(json.dumps([{"service": "app", "state": "failed"}]))
        stamp = now - (runs - i) * 600
        os.utime(folder / "result.json", (stamp, stamp))
    for recipe in names[:10]:
        folder = state / "canonical" / recipe
        gen = folder / "snapshot" / "gen-1"
        gen.mkdir(parents=True)
        (gen / "meta.json").write_text(json.dumps({"recipe": recipe, "version": "1.0.0+1", "commit": "c" * 40,
                                                   "taken": "20270101T000000Z", "volumes": [
                                                       {"name": "v", "file": "v.tar", "size": 1 << 20,
                                                        "sha256": "0" * 64}]}))
        os.symlink("gen-1", folder / "snapshot" / "current")
        (folder / "canonical.json").write_text(json.dumps({"recipe": recipe, "domain": "w.test", "version": "1.0.0+1",
                                                           "commit": "c" * 40, "status": "idle",
                                                           "volumes": "known-good", "updated": ""}))
        (folder / "verified.json").write_text(json.dumps({"at": "2027-01-02T00:00:00Z", "ok": True,
                                                          "taken": "20270101T000000Z", "why": ""}))
    (state / "infra" / "proxy").mkdir(parents=True)
    (state / "infra" / "proxy" / "last-outcome").write_text(json.dumps({
        "outcome": "noop-healthy", "at": "2027-01-02T03:00:00.000000", "since": "2027-01-01T03:00:00.000000",
        "current": "1.0.0+v1", "latest": "1.0.0+v1", "attempted": None, "last_good": "1.0.0+v1", "reason": ""}))
    # The bridge waits on builds: half of them started (a run folder), half queued (a page of their own).
    pending = [{"build": n, "url": f"http://ci/{n}", "repo": "o/r", "pr": n, "sha": "a" * 40,
                "recipe": names[n % recipes], "mode": "cold", "comment_id": n,
                "run_id": f"{(n if n % 2 else runs + n):06x}"} for n in range(QUEUED * 2)]
    (state / "bridge").mkdir()
    (state / "bridge" / "bridge-state.json").write_text(json.dumps({"seen": [], "cursors": {}, "pending": pending}))
    (state / "alerts").mkdir()
    for n in range(200):
        (state / "alerts" / f"2027010{n % 9 + 1}T000000.{n:06d}Z-proxy-rolled-back.json").write_text(json.dumps(
            {"app": "proxy", "kind": "rolled-back", "title": "t", "message": "m", "at": "2027-01-01T00:00:00.0Z"}))
    for night in range(30):
        folder = state / "nightly" / f"202701{night + 1:02d}T030000Z"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"status": "passed", "recipes": [
            {"recipe": r, "status": "passed", "seconds": 60.0, "artifacts": ""} for r in names], "infra": []}))


def baseline(state: Path) -> float:
    """Only read and parse every JSON record the page reads."""
    began = time.perf_counter()
    for pattern in ("runs/*/result.json", "canonical/*/canonical.json", "canonical/*/snapshot/current/meta.json",
                    "canonical/*/verified.json", "infra/*/last-outcome", "bridge/bridge-state.json",
                    "alerts/*.json", "nightly/*/summary.json"):
        for path in state.glob(pattern):
            json.loads(path.read_text())
    return time.perf_counter() - began


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--runs", type=int, default=1000)
    args.add_argument("--recipes", type=int, default=50)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccci-bench-status-") as tmp:
        state = Path(tmp) / "state"
        generate(state, opts.runs, opts.recipes)
        config = config_mod.parse({"base_domain": "bench.test", "state_dir": str(state),
                                   "keep_runs": opts.runs, "infra": {"proxy": {"recipe": "fx-proxy",
                                                                               "domain": "proxy.bench.test"}},
                                   "status_page": {"dir": f"{tmp}/site", "runs_per_recipe": opts.runs}})
        base = baseline(state)
        began = time.perf_counter()
        site = status_page.render(config)
        took = time.perf_counter() - began
        pages = len(list((Path(tmp) / "site" / "runs").glob("*.html"))) if site else 0
    print(f"status page: {opts.runs} runs, {opts.recipes} recipes, {pages} run pages: render {took:.3f}s; "
          f"baseline (read + parse the JSON records) {base:.3f}s; ratio {took / base:.1f}x; limit {LIMIT:.0f}s")
    return 0 if site is not None and pages == opts.runs + QUEUED and took < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
