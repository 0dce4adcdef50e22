"""Drone's build API: one repository whose pipeline runs ccci.

`POST /api/repos/{owner}/{name}/builds?branch=B&RECIPE=..&REF=..&MODE=..`
starts a build of that repository's branch; Drone passes extra query
parameters to the pipeline as environment variables. `GET
/api/repos/{owner}/{name}/builds/{number}` tells its status. The token goes in
the Authorization header only.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable

from ccci.seams import http
from ccci.pure.builds import Build, BuildRequest, BuildState, CIError
from ccci.pure.bridge_config import DroneSettings, Secret

_STATES = {
    "pending": BuildState.RUNNING,
    "running": BuildState.RUNNING,
    "blocked": BuildState.RUNNING,
    "waiting_on_dependencies": BuildState.RUNNING,
    "success": BuildState.PASSED,
    "failure": BuildState.FAILED,
    "error": BuildState.ERRORED,
    "killed": BuildState.ERRORED,
    "declined": BuildState.ERRORED,
    "skipped": BuildState.ERRORED,
}


class Drone:
    def __init__(self, settings: DroneSettings, token: Secret, timeout: float,
                 call: Callable[..., http.Reply] | None = None):
        self.base = settings.url.rstrip("/")
        owner, name = settings.repo.split("/", 1)
        self._repo = f"{urllib.parse.quote(owner, safe='')}/{urllib.parse.quote(name, safe='')}"
        self._branch = settings.branch
        self._token = token
        self._timeout = timeout
        self._call = call or http.call

    def _request(self, method: str, path: str) -> dict:
        headers = {"Authorization": f"Bearer {self._token.value}", "Accept": "application/json"}
        try:
            reply = self._call(method, self.base + path, headers=headers, body=None, timeout=self._timeout)
        except http.HttpError as error:
            raise CIError(str(error)) from None
        if reply.status not in (200, 201):
            raise CIError(f"{method} {path.split('?')[0]}: HTTP {reply.status}")
        try:
            data = json.loads(reply.body)
        except ValueError:
            raise CIError(f"{method} {path.split('?')[0]}: the reply is not JSON") from None
        if not isinstance(data, dict):
            raise CIError(f"{method} {path.split('?')[0]}: the reply is not a build")
        return data

    def start(self, request: BuildRequest) -> Build:
        query = urllib.parse.urlencode({"branch": self._branch, **request.parameters()})
        data = self._request("POST", f"/api/repos/{self._repo}/builds?{query}")
        number = data.get("number")
        if type(number) is not int or number <= 0:
            raise CIError("Drone accepted the build but gave no build number")
        return Build(number, f"{self.base}/{self._repo}/{number}")

    def state(self, build: int) -> BuildState:
        data = self._request("GET", f"/api/repos/{self._repo}/builds/{build}")
        status = data.get("status")
        if not isinstance(status, str) or status not in _STATES:
            raise CIError(f"build {build}: unknown status {str(status)[:40]!r}")
        return _STATES[status]
