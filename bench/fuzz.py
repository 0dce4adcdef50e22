"""Fuzz budget: every parser of outside input on 10,000+ generated inputs, 0 crashes allowed.

    python3 bench/fuzz.py [EXAMPLES] [--only NAME ...]     (default: 10000 each)

Runs each target of tests/unit/fuzz_targets.py (config, trigger, webhook,
versions, lint table, HTTP against a real server on 127.0.0.1), plus the
targets of bench/fuzz_tar.py when that file exists (it exposes `TARGETS` of
the same `Target` shape: the tar scanner + restore). No Docker, no network
beyond loopback, nothing left behind (the HTTP target's state lives in a
temporary folder). The same targets run on a small budget in every test run
(tests/unit/test_fuzz.py).

Prints one line per target: inputs tried, crashes (an exception other than
the parser's own refusal, or a broken invariant), seconds; then the total.
Exit 0 when every target ran its budget with 0 crashes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.unit.fuzz_targets import TARGETS  # noqa: E402


def extra_targets() -> list:
    """The targets of bench/fuzz_tar.py (written separately), when it is there."""
    path = ROOT / "bench" / "fuzz_tar.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location("bench_fuzz_tar", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(getattr(module, "TARGETS", []))


def run_target(target, examples: int) -> dict[str, object]:
    tried = 0
    crashes: list[str] = []
    started = time.monotonic()
    with target.open() as check:
        # Hypothesis stops at the first failure; so the check counts and
        # records failures itself, and the budget always runs to its end.
        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(target.inputs)
        def run(value):
            nonlocal tried
            tried += 1
            try:
                check(value)
            except Exception as error:  # a crash or a broken invariant: keep going, count it
                if len(crashes) < 5:
                    crashes.append(f"{type(error).__name__}: {str(error)[:200]} <- {value!r:.200}")
                else:
                    crashes.append("")

        run()
    return {"target": target.name, "inputs": tried, "crashes": len(crashes),
            "seconds": round(time.monotonic() - started, 1), "first": [c for c in crashes if c][:5]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/fuzz.py", description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="?", type=int, default=10_000)
    parser.add_argument("--only", nargs="*", default=None, help="target names to run")
    args = parser.parse_args(argv)
    # Every refusal is a log line (the HTTP server's): thousands of them say nothing here.
    logging.getLogger("ccci").setLevel(logging.CRITICAL)
    targets = [t for t in [*TARGETS, *extra_targets()] if args.only is None or t.name in args.only]
    results = []
    for target in targets:
        result = run_target(target, args.examples)
        results.append(result)
        print(f"{result['target']:<12} {result['inputs']:>7} inputs  {result['crashes']:>3} crashes  "
              f"{result['seconds']:>7}s", flush=True)
        for line in result["first"]:
            print(f"    {line}", flush=True)
    short = [r["target"] for r in results if r["inputs"] < args.examples]
    total = sum(r["crashes"] for r in results)
    print(json.dumps({"examples": args.examples, "crashes": total, "short_of_budget": short,
                      "targets": {r["target"]: r["inputs"] for r in results}}))
    return 0 if total == 0 and not short else 1


if __name__ == "__main__":
    sys.exit(main())
