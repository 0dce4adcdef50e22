"""What a run reports, as values: the result, its JSON and its JUnit text.

A run's folder is `<state>/runs/<recipe>-<run id>/`: `result.json`,
`junit.xml`, `calls/` (the transcript of every abra and git call), `tests/`
(each suite's JUnit) and, when a stage failed, `failure/` (every service's
logs and the stack's task states, taken before teardown). The newest
`keep_runs` folders are kept; older ones are pruned when a run starts.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET

import attrs
import cattrs


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Mode(enum.Enum):
    COLD = "cold"
    QUICK = "quick"


@attrs.define
class StageResult:
    name: str
    status: Status
    seconds: float
    reason: str = ""
    tests: str = ""


@attrs.define
class Teardown:
    status: Status = Status.SKIPPED
    seconds: float = 0.0
    leftovers: dict[str, list[str]] = attrs.Factory(dict)
    reason: str = ""


@attrs.define
class RunResult:
    recipe: str
    ref: str | None
    mode: Mode
    run_id: str
    domain: str
    stack: str
    status: Status = Status.FAILED
    from_version: str | None = None
    to_version: str | None = None
    commit: str | None = None
    stages: list[StageResult] = attrs.Factory(list)
    teardown: Teardown = attrs.Factory(Teardown)
    reason: str = ""
    seconds: float = 0.0
    call_seconds: float = 0.0  # inside abra, git and test processes
    wait_seconds: float = 0.0  # waiting on the engine and the app (convergence, HTTP, removal)
    artifacts: str = ""
    requested_mode: Mode | None = None  # quick asked for, cold ran: the fallback
    note: str = ""  # why a quick run fell back, what happened to the known-good
    promotion: str = ""  # "", "promoted <version>", "not promoted: <why>", "failed: <why>"

    def stage_failed(self) -> StageResult | None:
        return next((s for s in self.stages if s.status is Status.FAILED), None)


CONVERTER = cattrs.Converter()


def to_json(result: RunResult) -> str:
    return json.dumps(CONVERTER.unstructure(result), indent=2, sort_keys=True)


def from_json(text: str) -> RunResult:
    return CONVERTER.structure(json.loads(text), RunResult)


def junit(result: RunResult) -> str:
    """One testsuite per run, one testcase per stage (and one for teardown)."""
    suite = ET.Element(
        "testsuite",
        name=f"ccci.{result.mode.value}.{result.recipe}",
        tests=str(len(result.stages) + 1),
        failures=str(sum(s.status is Status.FAILED for s in result.stages)
                     + (result.teardown.status is Status.FAILED)),
        skipped=str(sum(s.status is Status.SKIPPED for s in result.stages)),
        time=f"{result.seconds:.2f}",
    )
    cases = [(s.name, s.status, s.seconds, s.reason) for s in result.stages]
    cases.append(("teardown", result.teardown.status, result.teardown.seconds, result.teardown.reason))
    for name, status, seconds, reason in cases:
        case = ET.SubElement(
            suite, "testcase", classname=f"{result.recipe}.{result.run_id}", name=name,
            time=f"{seconds:.2f}",
        )
        if status is Status.FAILED:
            ET.SubElement(case, "failure", message=reason[:500]).text = reason
        elif status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=reason[:500])
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
