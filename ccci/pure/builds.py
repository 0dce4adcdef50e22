"""The CI system seam: start a build with parameters, ask how it ended.

Small on purpose: Drone is the first implementation (`ccci.seams.drone`);
another CI (Woodpecker) needs only these two calls.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from ccci.pure.names import RecipeName
from ccci.pure.results import Mode


class CIError(Exception):
    """The CI system did not accept the request or did not answer."""


@attrs.frozen
class BuildRequest:
    """What the CI step receives as RECIPE, REF and MODE."""

    recipe: RecipeName
    ref: str  # the PR head commit at comment time
    mode: Mode

    def parameters(self) -> dict[str, str]:
        return {"RECIPE": self.recipe.value, "REF": self.ref, "MODE": self.mode.value}


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
