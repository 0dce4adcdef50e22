"""Running test suites against a deployed app: generic first, then overlays.

Three sources, always in this order within a stage:
  1. generic tests shipped with ccci (`ccci/generic/`), the same for every recipe;
  2. the operator's overlay for the recipe (config `recipes.<name>.overlay_tests`),
     files named `test_<stage>*.py`;
  3. in the custom stage only, the recipe's own tests, `tests/ccci/test_*.py` in
     the recipe's repository.
Each suite runs as a pytest subprocess (through `proc`) with the app's
coordinates in its environment (`health.Endpoint.test_env`: how to reach it,
the CA to verify it against), and writes its own JUnit file.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import attrs

from ccci.seams import proc

GENERIC = Path(__file__).parents[1] / "generic"
# Loaded into every suite: reach apps through a fixed proxy address as ccci does (a no-op otherwise).
CONNECT_PLUGIN = "ccci.generic.connect"

# Which generic test files belong to which stage.
GENERIC_FOR_STAGE = {
    "install": ["test_serving.py"],
    "upgrade": ["test_serving.py", "test_upgrade.py"],
    "custom": ["test_serving.py"],
}


@attrs.frozen
class SuiteResult:
    name: str
    passed: int
    failed: int
    skipped: int
    failures: tuple[str, ...]
    ran: bool

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        if not self.ran:
            return f"{self.name}: no tests"
        text = f"{self.name}: {self.passed} passed, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text


def _count(junit_file: Path) -> tuple[int, int, int, list[str]]:
    root = ET.parse(junit_file).getroot()
    passed = failed = skipped = 0
    failures: list[str] = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            failed += 1
            message = (problem.get("message") or "").splitlines()
            failures.append(f"{case.get('name')}: {message[0][:200] if message else 'failed'}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failures


def run_suite(
    name: str,
    files: list[Path],
    *,
    env: Mapping[str, str],
    out_dir: Path,
    timeout: float,
    calls: proc.Calls | None = None,
) -> SuiteResult:
    """Run pytest on `files`; a suite with no files 'ran' nothing and passes."""
    files = [f for f in files if f.is_file()]
    if not files:
        return SuiteResult(name, 0, 0, 0, (), ran=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"{name}.xml"
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", CONNECT_PLUGIN,
        "-c", "/dev/null", "--rootdir", str(files[0].parent),
        f"--junitxml={report}", *map(str, files),
    ]
    # No __pycache__ in the recipe checkout: abra counts untracked files as a
    # dirty tree and refuses the next non-chaos deploy.
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    done = proc.run(argv, env=env, timeout=timeout, check=False, calls=calls)
    if not report.is_file():
        return SuiteResult(name, 0, 1, 0, (f"pytest exited {done.exit_code}: {done.output[-300:]}",), ran=True)
    passed, failed, skipped, failures = _count(report)
    if done.exit_code not in (0, 1, 5) and failed == 0:
        failed, failures = 1, [f"pytest exited {done.exit_code}"]
    return SuiteResult(name, passed, failed, skipped, tuple(failures), ran=True)


def generic_files(stage: str) -> list[Path]:
    return [GENERIC / name for name in GENERIC_FOR_STAGE.get(stage, [])]


def overlay_files(overlay_dir: str | None, stage: str) -> list[Path]:
    if not overlay_dir:
        return []
    return sorted(Path(overlay_dir).glob(f"test_{stage}*.py"))


def recipe_files(tests_dir: Path) -> list[Path]:
    return sorted(tests_dir.glob("test_*.py")) if tests_dir.is_dir() else []
