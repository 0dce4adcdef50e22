"""The CI system seam: start a build with parameters, ask how it ended.

Small on purpose: Drone is the first implementation (`ccci.seams.drone`);
another CI (Woodpecker) needs only these two calls.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from ccci.pure.names import RecipeName, RunId
from ccci.pure.results import Mode


class CIError(Exception):
    """The CI system did not accept the request or did not answer."""


@attrs.frozen
class BuildRequest:
    """What the CI step receives as RECIPE, REF, MODE and RUN_ID."""

    recipe: RecipeName
    ref: str  # the PR head commit at comment time
    mode: Mode
    # The run id the bridge chose, so it can link the PR to the run's page
    # before the run exists; the CI step passes it on as `--run-id`.
    run_id: RunId | None = None

    def parameters(self) -> dict[str, str]:
        parameters = {"RECIPE": self.recipe.value, "REF": self.ref, "MODE": self.mode.value}
        return parameters | ({"RUN_ID": self.run_id.value} if self.run_id is not None else {})


@attrs.frozen
class Build:
    number: int
    url: str


class BuildState(enum.Enum):
    RUNNING = "running"  # queued or running: ask again later
    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"  # killed, declined, errored: no verdict on the recipe


class CI(Protocol):
    def start(self, request: BuildRequest) -> Build: ...

    def state(self, build: int) -> BuildState: ...
