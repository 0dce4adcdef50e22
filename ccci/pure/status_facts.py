"""The facts the status page is built from, and the text parsing that makes them. No I/O.

`ccci.capabilities.status_page` reads the state directory and turns each
record into one of these values (or `Unreadable`, with why); `redact` blanks
the harvested secrets out of anything built from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ccci.pure.results import RunResult

# The folder names ccci makes: `<recipe>-<6 hex>` for runs; a page file is
# only made for a name of this shape (nothing else can reach a path or URL).
RUN_FOLDER = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?-[0-9a-f]{6}")
NIGHTLY_STAMP = re.compile(r"\d{8}T\d{6}Z")
REDACTED = "<redacted>"
# Shorter values are not treated as secrets: blanking every "1" or "yes"
# on the page would hide everything and protect nothing.
MIN_SECRET = 4
_SECRET_KEY = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)

@attrs.frozen
class Unreadable:
    """A record that exists but cannot be used; `why` is shown, never its content."""

    why: str


@attrs.frozen
class RunFacts:
    folder: str
    finished: float | None  # result.json's mtime (runs record no clock time)
    result: RunResult | Unreadable | None  # None: no result.json (yet)
    junit: bool = False
    calls: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    failure: tuple[str, ...] = ()
    failing_services: tuple[str, ...] = ()


@attrs.frozen
class CanonicalFacts:
    recipe: str
    record: Mapping[str, Any] | Unreadable | None
    snapshot: Mapping[str, Any] | Unreadable | None  # the current generation's meta.json
    lock_holder: str | None = None  # who holds app-<recipe>.lock now
    verified: Mapping[str, Any] | Unreadable | None = None  # canonical's `verified.json`: the last verify


@attrs.frozen
class InfraFacts:
    app: str
    recipe: str
    domain: str
    stateful: bool
    recorded: str | Unreadable | None  # abra's TYPE=<recipe>:<version>
    last_good: str | Unreadable | None
    rejected: Mapping[str, Any] | Unreadable | None
    rollback_failed: Mapping[str, Any] | Unreadable | None
    # infra_state's `last-outcome` (a LastOutcome as a dict): the latest reconcile
    last_outcome: Mapping[str, Any] | Unreadable | None = None


@attrs.frozen
class AlertFacts:
    file: str
    alert: Mapping[str, Any] | Unreadable


@attrs.frozen
class NightlyFacts:
    stamp: str
    summary: Mapping[str, Any] | Unreadable | None  # None: the sweep is still going


@attrs.frozen
class Facts:
    now: float
    state_dir: str
    runs_per_recipe: int
    max_concurrent_runs: int
    min_free_disk_mib: int
    free_disk_mib: int | Unreadable
    enrolled: tuple[str, ...] = ()
    in_flight: tuple[str, ...] = ()
    runs: tuple[RunFacts, ...] = ()
    canonicals: tuple[CanonicalFacts, ...] = ()
    infra: tuple[InfraFacts, ...] = ()
    alerts: tuple[AlertFacts, ...] = ()
    nightlies: tuple[NightlyFacts, ...] = ()
    pending_builds: tuple[Mapping[str, Any], ...] | Unreadable = ()
    base_url: str | None = None


# -- parsing helpers for the capability (text in, values out) -----------------------


def secret_values(env_text: str) -> set[str]:
    """The values of secret-looking keys in an env file (`KEY=value` lines)."""
    found = set()
    for line in env_text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        value = value.split(" #", 1)[0].strip().strip("'\"")
        if sep and _SECRET_KEY.search(key) and not key.upper().endswith("_VERSION"):
            found.add(value)
    return found


def recorded_version(env_text: str, recipe: str) -> str | None:
    """abra's record of what an app runs: `TYPE=<recipe>:<version>`; only that line is read."""
    for line in env_text.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "TYPE":
            name, _, version = value.strip().strip("'\"").partition(":")
            return version if name == recipe and version else None
    return None


def failing_services(tasks_text: str) -> tuple[str, ...]:
    """Services of `failure/tasks.json` with a task that failed, was rejected or errored."""
    try:
        tasks = json.loads(tasks_text)
    except ValueError:
        return ()
    bad = []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict) or not isinstance(task.get("service"), str):
            continue
        if task.get("state") in {"failed", "rejected", "orphaned"} or task.get("error"):
            if task["service"] not in bad:
                bad.append(task["service"])
    return tuple(bad)


def unreadable_why(error: BaseException) -> str:
    """Why a record could not be used, without quoting its content."""
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON (line {error.lineno}, column {error.colno})"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    try:
        import cattrs

        if isinstance(error, cattrs.BaseValidationError):
            notes = cattrs.transform_error(error)
            return "does not fit: " + "; ".join(notes[:3]) if notes else "does not fit the model"
    except ImportError:  # pragma: no cover - cattrs is a dependency
        pass
    return f"does not fit the model ({type(error).__name__})"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Every string inside `value` with each secret (of MIN_SECRET+ chars) blanked."""
    blanks = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
    if not blanks:
        return value
    pattern = re.compile("|".join(re.escape(s) for s in blanks))

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(REDACTED, item)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        return item

    return walk(value)
