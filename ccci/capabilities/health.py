"""Is the app up? Convergence by the Engine API, then a real HTTP request.

Converged means, for every service of the stack: N/N replicas running on the
current spec, no update in progress or rolled back, and every running
container healthy where it has a healthcheck. A wait fails early when Docker
has already given its verdict (a task rejected, a container unhealthy, tasks
failing over and over) and otherwise gives up at its bound with a message that
says what it was waiting for.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import attrs

from ccci.seams.engine import Stack

log = logging.getLogger("ccci")

UPDATING = {"updating", "rollback_started", "rollback_paused", "paused"}
ROLLED_BACK = {"rollback_completed"}
FAILED_TASK = {"failed", "rejected"}


class NotHealthy(Exception):
    """The app did not converge or did not answer; the message says why."""


class DockerVerdict(NotHealthy):
    """Docker itself judged the deploy failed: a task rejected or failing, a container unhealthy."""


@attrs.frozen
class ServiceState:
    name: str
    desired: int
    running: int
    healthy: bool
    updating: str | None
    problem: str | None

    @property
    def ready(self) -> bool:
        return self.running == self.desired and self.healthy and self.updating is None

    def __str__(self) -> str:
        text = f"{self.name} {self.running}/{self.desired}"
        if self.updating:
            text += f" ({self.updating})"
        if not self.healthy:
            text += " (not healthy yet)"
        return text


def _since(task_created: str, started_iso: str) -> bool:
    return task_created >= started_iso


def inspect(stack: Stack, started_iso: str, max_failures: int) -> tuple[list[ServiceState], str | None]:
    """Each service's state, and Docker's verdict if it has already failed."""
    states: list[ServiceState] = []
    for service in stack.services():
        spec = service.attrs["Spec"]
        short = stack.short_name(service)
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
        desired = (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas", 1)
        update = (service.attrs.get("UpdateStatus") or {}).get("State")
        if update in ROLLED_BACK:
            message = (service.attrs.get("UpdateStatus") or {}).get("Message", "")
            return states, f"{short}: Docker rolled the update back ({message})"
        tasks = stack.tasks(service)
        fresh_failures = [t for t in tasks if t.state in FAILED_TASK and _since(t.created, started_iso)]
        for task in fresh_failures:
            # Docker's own final verdicts: no point in waiting for a retry.
            if task.state == "rejected" or "No such image" in task.error or "unhealthy" in task.error:
                return states, f"{short}: task {task.state}: {task.error or task.message}"
        if len(fresh_failures) >= max_failures:
            last = fresh_failures[0]
            return states, (
                f"{short}: {len(fresh_failures)} tasks failed, last: "
                f"{last.error or last.message}"
            )
        running = [t for t in tasks if t.state == "running" and t.desired == "running" and t.image == image]
        healthy = True
        for task in running:
            status = stack.health(task.container)
            # Only this deploy's containers: one left over from an earlier
            # release, about to be replaced, is merely not ready.
            if status == "unhealthy" and _since(task.created, started_iso):
                return states, (
                    f"{short}: container unhealthy: "
                    f"{stack.health_log(task.container)[:300] or 'healthcheck failed'}"
                )
            if status not in (None, "healthy"):
                healthy = False
        states.append(
            ServiceState(
                name=short,
                desired=desired,
                running=len(running),
                healthy=healthy,
                updating=update if update in UPDATING else None,
                problem=None,
            )
        )
    return states, None


def wait_converged(
    stack: Stack,
    timeout: float,
    *,
    started_iso: str,
    max_failures: int = 3,
    settle: int = 2,
    poll: float = 0.5,
    observe: float = 0.0,
    probe: Callable[[], str | None] | None = None,
) -> None:
    """Return when the stack has converged `settle` polls in a row; else NotHealthy.

    A health window: with `observe`, return no earlier than `observe` seconds
    after the start, so the last `settle` polls are the ones that count; with
    `probe` (None when the app answers, else why not), a poll counts only when
    the probe passes too. Docker's own verdict raises DockerVerdict at once.
    """
    began = time.monotonic()
    deadline = began + timeout
    streak = 0
    last = "no services yet"
    while True:
        states, verdict = inspect(stack, started_iso, max_failures)
        if verdict:
            raise DockerVerdict(f"stack {stack.name}: {verdict}")
        ready = bool(states) and all(state.ready for state in states)
        problem = probe() if ready and probe is not None else None
        if ready and problem is None:
            streak += 1
            if streak >= settle and time.monotonic() - began >= observe:
                log.info("converged: %s", ", ".join(map(str, states)))
                return
        elif problem is not None:
            streak = 0
            last = f"{', '.join(map(str, states))}; {problem}"
        else:
            streak = 0
            if states:
                last = ", ".join(map(str, states))
        if time.monotonic() >= deadline:
            raise NotHealthy(
                f"stack {stack.name}: gave up after {timeout:.0f}s waiting to converge: {last}"
            )
        time.sleep(poll)


@attrs.frozen
class Endpoint:
    """Where the app answers HTTP, and the Host header to send."""

    url: str
    host: str

    def get(self, path: str = "/", timeout: float = 10) -> tuple[int, str]:
        request = urllib.request.Request(self.url.rstrip("/") + path, headers={"Host": self.host})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(1 << 20).decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read(1 << 16).decode(errors="replace")


def wait_http(endpoint: Endpoint, timeout: float, path: str = "/") -> int:
    """Return the status once the app answers below 400; else NotHealthy."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            status, _ = endpoint.get(path, timeout=min(10.0, max(1.0, deadline - time.monotonic())))
            if status < 400:
                return status
            last = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as error:
            last = str(error)
        if time.monotonic() >= deadline:
            raise NotHealthy(
                f"{endpoint.url}{path} (Host: {endpoint.host}) did not answer within "
                f"{timeout:.0f}s: {last}"
            )
        time.sleep(0.5)
