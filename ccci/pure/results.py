"""What a run reports, as values: the result, its JSON, its JUnit text and
its one-line summary. Where they are written: `ccci.capabilities.artifacts`.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from pathlib import PurePath

import attrs
import cattrs


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Mode(enum.Enum):
    COLD = "cold"
    QUICK = "quick"


class AbraKind(enum.Enum):
    REAL = "real"
    STAND_IN = "stand-in"
    UNKNOWN = "unknown"  # `--version` said nothing ccci recognises


STAND_IN_NAME = "abra-standin"
_VERSION = re.compile(r"\babra version (\S+)")


@attrs.frozen
class AbraIdentity:
    """Which abra a run drove: its path, what `abra --version` said, real or stand-in."""

    path: str
    version: str
    kind: AbraKind

    @classmethod
    def judge(cls, path: str, version_output: str) -> AbraIdentity:
        """From evidence only: the stand-in says so in its version and its file name.

        A binary that prints `abra version X` without being the stand-in is
        taken as real; anything else is `unknown` (never guessed).
        """
        found = _VERSION.search(version_output)
        version = found.group(1) if found else ""
        if PurePath(path).name == STAND_IN_NAME or "standin" in version:
            kind = AbraKind.STAND_IN
        elif found:
            kind = AbraKind.REAL
        else:
            kind = AbraKind.UNKNOWN
        return cls(path, version or "unknown", kind)

    def __str__(self) -> str:
        return f"abra {self.version} ({self.kind.value}, {self.path})"


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
    # False when the engine was away and could not be asked: `leftovers` is
    # then not the truth, and `labels` says how to find what the run made.
    leftovers_known: bool = True
    labels: dict[str, str] = attrs.Factory(dict)


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
    promotion: str = ""  # "", "promoted <version>", "not promoted: <why>", PROMOTION_FAILED + "<why>"
    abra: AbraIdentity | None = None  # which abra ran

    def stage_failed(self) -> StageResult | None:
        return next((s for s in self.stages if s.status is Status.FAILED), None)


PROMOTION_FAILED = "failed: "


def exit_code(result: RunResult) -> int:
    """0 for a green run (whose promotion, if it promoted, worked); 1 otherwise."""
    green = result.status is Status.PASSED and not result.promotion.startswith(PROMOTION_FAILED)
    return 0 if green else 1


def summary_line(result: RunResult) -> str:
    """The one line a run ends with: verdict, duration, what was promoted or kept, where."""
    verdict = "GREEN" if exit_code(result) == 0 else "RED"
    parts = [f"{verdict} {result.mode.value} run of {result.recipe} in {result.seconds:.1f}s"]
    if verdict == "RED":
        parts.append(_one_line(result.reason) or _one_line(result.promotion) or "teardown failed")
    if result.mode is Mode.COLD:
        kept = _one_line(result.promotion) or _one_line(result.note)
        parts.append(kept or "nothing promoted (the recipe keeps no canonical)")
    else:
        parts.append(_one_line(result.note) or "canonical left as it was")
    parts.append(f"artifacts: {result.artifacts}")
    return "; ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


CONVERTER = cattrs.Converter()


def to_json(result: RunResult) -> str:
    return json.dumps(CONVERTER.unstructure(result), indent=2, sort_keys=True)


def from_json(text: str) -> RunResult:
    return CONVERTER.structure(json.loads(text), RunResult)


def junit(result: RunResult) -> str:
    """One testsuite per run, one testcase per stage (and one for teardown)."""
    abra = f" ({result.abra})" if result.abra is not None else ""
    suite = ET.Element(
        "testsuite",
        name=f"ccci.{result.mode.value}.{result.recipe}{abra}",
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
