"""Is the app up? Convergence by the Engine API, then a real HTTP request; the health gate.

Converged means, for every service of the stack: N/N replicas running on the
current spec, no update in progress or rolled back, and every running
container healthy where it has a healthcheck. A wait fails early when Docker
has already given its verdict (a task rejected, a container unhealthy, tasks
failing over and over) and otherwise gives up at its bound with a message that
says what it was waiting for.

The health gate (`HealthGate`, for infra reconciles) judges one deploy over a
window of at least the slowest service's start_period + interval x retries:
`samples` consecutive healthy polls (converged, HTTP probe answering) at its
end; Docker's own verdict ends it at once. HTTP goes through `ccci.seams.http`.
"""

from __future__ import annotations

import datetime
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from ccci.pure.config import HealthSettings, Ingress
from ccci.pure.names import Domain
from ccci.pure.plan import HealthRecord, HealthVerdict
from ccci.seams import engine, http
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


MAX_REDIRECTS = 10


def route(endpoint_url: str, host: str, public_url: str) -> tuple[str, dict[str, str]]:
    """Where a request for `public_url` goes, and the headers it adds.

    A URL on the app's own domain goes through the endpoint (the host's
    proxy, or the port a bed published), as the first request did: the
    domain itself need not resolve. Any other URL is requested as it is.
    """
    parts = urllib.parse.urlsplit(public_url)
    if (parts.hostname or "").lower() != host.lower():
        return public_url, {}
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return endpoint_url.rstrip("/") + path, {"Host": host}


@attrs.frozen
class Endpoint:
    """Where the app answers HTTP, and the Host header to send.

    connect_to: the address every connection goes to whatever `host`
    resolves to (a proxy on loopback), with `host` as SNI and Host. ca_file:
    the CAs TLS is verified against instead of the system's."""

    url: str
    host: str
    connect_to: str | None = None
    ca_file: str | None = None

    def get(self, path: str = "/", timeout: float = 10) -> tuple[int, str]:
        """The status and (the first MiB of) the body after redirects, which are
        followed as a browser would, through this endpoint while they stay on the
        app's domain (an app that redirects `/` to its own https URL, as Keycloak
        does); http.HttpError when nothing answers."""
        public = f"https://{self.host}{path}"
        for _ in range(MAX_REDIRECTS + 1):
            url, headers = route(self.url, self.host, public)
            reply = http.call("GET", url, headers=headers, timeout=timeout, limit=1 << 20,
                              connect_to=self.connect_to, ca_file=self.ca_file)
            if not (300 <= reply.status < 400 and reply.location):
                return reply.status, reply.body.decode(errors="replace")
            public = urllib.parse.urljoin(public, reply.location)
        raise http.HttpError(f"GET {http.shown_url(self.url + path)}: more than {MAX_REDIRECTS} redirects")

    def test_env(self, names: str) -> dict[str, str]:
        """How a test process reaches the app as ccci does: CCCI_URL; under a
        fixed proxy address, every name under the domains in `names` (space
        separated) connects there (the `ccci.generic.connect` plugin, and
        CCCI_RESOLVE in curl's --resolve form for other tools); with a CA
        file, the variables OpenSSL, requests and curl read it from."""
        env = {"CCCI_URL": self.url}
        if self.connect_to is not None:
            port = urllib.parse.urlsplit(self.url).port or 443
            env |= {"CCCI_CONNECT_TO": self.connect_to, "CCCI_CONNECT_NAMES": names,
                    "CCCI_RESOLVE": f"{self.host}:{port}:{self.connect_to}"}
        if self.ca_file is not None:
            env |= {"SSL_CERT_FILE": self.ca_file, "REQUESTS_CA_BUNDLE": self.ca_file,
                    "CURL_CA_BUNDLE": self.ca_file}
        return env


def endpoint(stack: Stack, domain: Domain, ingress: Ingress, ca_file: str | None = None) -> Endpoint:
    """Where a stack's app answers: through a proxy by its domain, or the port swarm published."""
    if ingress is Ingress.HOST_PORT:
        return Endpoint(f"http://127.0.0.1:{stack.published_port('app')}", domain.value)
    return Endpoint(f"https://{domain.value}", domain.value, ingress.proxy_address, ca_file)


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
        except http.HttpError as error:
            last = str(error.reason)
        if time.monotonic() >= deadline:
            raise NotHealthy(
                f"{endpoint.url}{path} (Host: {endpoint.host}) did not answer within "
                f"{timeout:.0f}s: {last}"
            )
        time.sleep(0.5)


# -- the health gate of an infra reconcile --------------------------------------------------

NANO = 1e9
# Docker's healthcheck defaults when a spec leaves a field at 0.
DEFAULT_INTERVAL, DEFAULT_RETRIES = 30.0, 3


def utc_stamp() -> str:
    """Now, to the microsecond: tasks of a deploy are those created after it."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def healthcheck_floor(specs: list[dict[str, Any]], image_healthchecks: dict[str, dict[str, Any]]) -> float:
    """The slowest service's start_period + interval x retries, in seconds."""
    floor = 0.0
    for spec in specs:
        container = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
        check = container.get("Healthcheck") or image_healthchecks.get(container.get("Image", "")) or {}
        test = check.get("Test") or []
        if not test or test[0] == "NONE":
            continue
        interval = (check.get("Interval") or 0) / NANO or DEFAULT_INTERVAL
        retries = check.get("Retries") or DEFAULT_RETRIES
        start = (check.get("StartPeriod") or 0) / NANO
        floor = max(floor, start + interval * retries)
    return floor


@attrs.frozen
class HealthGate:
    """Judges what a stack runs, by its settings: one `HealthRecord` per judgement."""

    stack: Stack
    settings: HealthSettings
    endpoint: Callable[[], Endpoint]  # asked anew for every probe: a redeploy moves the port

    def probe(self) -> str | None:
        """One HTTP sample: None when the app answers as configured, else why not."""
        settings = self.settings
        try:
            status, body = self.endpoint().get(settings.path, timeout=min(5.0, max(1.0, settings.poll * 3)))
        except http.HttpError as error:
            return f"GET {settings.path}: {error.reason}"
        except engine.EngineError as error:  # no port published (yet)
            return f"GET {settings.path}: {error}"
        if status not in settings.status:
            return f"GET {settings.path}: HTTP {status}"
        if settings.contains is not None and settings.contains not in body:
            return f"GET {settings.path}: the body lacks {settings.contains!r}"
        return None

    def window(self) -> float:
        """The health window: the configured one, raised to what the healthchecks need."""
        specs = [service.attrs["Spec"] for service in self.stack.services()]
        images: dict[str, dict[str, Any]] = {}
        for spec in specs:
            container = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
            image = container.get("Image", "")
            if image and not container.get("Healthcheck"):
                images[image] = engine.image_healthcheck(self.stack.client, image)
        return max(float(self.settings.window), healthcheck_floor(specs, images))

    def judge(self, version: str, since: str, *, observe: bool = True) -> HealthRecord:
        """The gate for what was deployed at `since` (or, observe=False, what runs now)."""
        settings = self.settings
        began = time.monotonic()
        window = self.window()
        record = HealthRecord(version, window, 0.0, HealthVerdict.HEALTHY, started_at=time.time())
        try:
            wait_converged(
                self.stack, window, started_iso=since, settle=settings.samples, poll=settings.poll,
                observe=window if observe else 0.0, probe=self.probe,
            )
        except DockerVerdict as verdict:
            record.verdict, record.reason = HealthVerdict.DOCKER, str(verdict)
        except NotHealthy as why:
            record.verdict, record.reason = HealthVerdict.WINDOW, str(why)
        except engine.EngineError as error:
            record.verdict, record.reason = HealthVerdict.WINDOW, str(error)
        record.seconds = round(time.monotonic() - began, 2)
        record.decided_at = time.time()
        return record
