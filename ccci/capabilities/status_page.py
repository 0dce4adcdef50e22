"""The operator's status page: read the state directory, render a static site, swap it in.

`render(config)` reads what ccci keeps under `state_dir` (runs, canonicals,
infra state, alerts, nightly summaries, the bridge's pending builds) into
`ccci.pure.status_facts.Facts`, builds the page with `ccci.pure.status.page`, and
writes `index.html`, `runs/<run>.html` and `status.json` (the same data) into
a fresh generation folder beside the configured `status_page.dir`; then
`dir`, a symlink, is swapped onto it with rename(2). A reader (or nginx) sees
the old site or the new one, never half of one.

Invariants:
- Reads only; writes nothing under `state_dir` except the one-line marker
  `status-page.failed` that keeps a failing render from alerting every job.
- Never raises: a failure is logged and `None` returned; a job that ends
  with `refresh(config)` never fails because of its page.
- An unreadable record becomes an "unreadable: <why>" entry; the rest renders.
- No env file, token or secret is rendered: the page holds whitelisted fields
  only, and every string is blanked of the secret values read from the
  config's secret files and the secret-looking keys of every abra env file
  under the state directory. Run artifacts are linked, never inlined, through
  one symlink `artifacts -> <state_dir>/runs` (ccci redacts its transcripts).
- The site is derived data: files are not fsynced one by one (a crash right
  after a swap is mended by the next render); generations other than the
  current and the one before it are removed.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import logging
import os
import secrets as random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import jinja2

from ccci.capabilities.alerts import Alerts
from ccci.capabilities.canonical import Verified
from ccci.capabilities.infra_state import InfraState
from ccci.pure import results, status, status_facts
from ccci.pure.config import Config
from ccci.pure.names import BadInput
from ccci.seams.files import write_atomic

log = logging.getLogger("ccci")

FAILED_MARKER = "status-page.failed"
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("ccci", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg", "xml"), default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class NotConfigured(Exception):
    """No `status_page` in the config and no folder given."""


# -- reading the state directory --------------------------------------------------------------


def _json(path: Path) -> Any:
    """A JSON record, `Unreadable` when it cannot be used, None when it does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return status_facts.Unreadable(status_facts.unreadable_why(error))


def _mapping(path: Path) -> Any:
    data = _json(path)
    if data is None or isinstance(data, (dict, status_facts.Unreadable)):
        return data
    return status_facts.Unreadable(f"not a JSON object ({type(data).__name__})")


def _names(folder: Path) -> tuple[str, ...]:
    try:
        return tuple(sorted(e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)))
    except OSError:
        return ()


def _run(folder: Path) -> status_facts.RunFacts:
    result_path = folder / "result.json"
    finished: float | None = None
    result: results.RunResult | status_facts.Unreadable | None
    try:
        text = result_path.read_text()
        finished = result_path.stat().st_mtime
        result = results.from_json(text)
    except FileNotFoundError:
        result = None
    except Exception as error:  # cattrs raises a zoo; each is one unreadable record
        result = status_facts.Unreadable(status_facts.unreadable_why(error))
    failure = _names(folder / "failure")
    failing: tuple[str, ...] = ()
    if "tasks.json" in failure:
        try:
            failing = status_facts.failing_services((folder / "failure" / "tasks.json").read_text())
        except (OSError, UnicodeDecodeError):
            failing = ()
    return status_facts.RunFacts(
        folder=folder.name, finished=finished, result=result, junit=(folder / "junit.xml").is_file(),
        calls=_names(folder / "calls"), tests=_names(folder / "tests"), failure=failure,
        failing_services=failing,
    )


def _held(lock: Path) -> bool:
    """Whether someone holds the flock on `lock` now; never creates it, never waits."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError as error:
        return error.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)


def _first_line(path: Path) -> str:
    try:
        return next(iter(path.read_text().strip().splitlines()), "")
    except (OSError, UnicodeDecodeError):
        return ""


def _in_flight(state: Path) -> tuple[str, ...]:
    """The holders of the run slots (`locks/slot-<n>.lock` names its holder inside)."""
    locks = state / "locks"
    return tuple((_first_line(path) or "a run") for path in sorted(locks.glob("slot-*.lock")) if _held(path))


def _lock_holder(state: Path, name: str) -> str | None:
    if not _held(state / "locks" / f"{name}.lock"):
        return None
    info = _mapping(state / "locks" / f"{name}.holder")
    if isinstance(info, dict):
        return f"{info.get('what', 'another run')} (pid {info.get('pid')}, since {info.get('since')})"
    return "another run"


def _canonical(state: Path, folder: Path) -> status_facts.CanonicalFacts:
    current = folder / "snapshot" / "current"
    snapshot = _mapping(current / "meta.json") if current.is_symlink() else None
    if snapshot is None and current.is_symlink():
        snapshot = status_facts.Unreadable("`current` points at a generation without meta.json")
    try:
        verified: Any = Verified.read(folder)
        verified = attrs.asdict(verified) if verified is not None else None
    except OSError as error:
        verified = status_facts.Unreadable(status_facts.unreadable_why(error))
    except ValueError:  # its message may quote the file: not shown
        verified = status_facts.Unreadable("not a verify record this ccci reads")
    return status_facts.CanonicalFacts(
        recipe=folder.name, record=_mapping(folder / "canonical.json"), snapshot=snapshot,
        lock_holder=_lock_holder(state, f"app-{folder.name}"), verified=verified,
    )


def _text_or(path: Path) -> str | status_facts.Unreadable | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        return status_facts.Unreadable(status_facts.unreadable_why(error))


def _env_files(state: Path) -> list[Path]:
    """Every abra env file ccci keeps: per run, per canonical, per infra app."""
    patterns = ("abra/*/servers/*/*.env", "canonical/*/abra/servers/*/*.env", "infra/*/abra/servers/*/*.env")
    return [path for pattern in patterns for path in state.glob(pattern)]


def _infra(config: Config, name: str) -> status_facts.InfraFacts:
    spec = config.infra[name]
    folder = config.state / "infra" / name
    env = folder / "abra" / "servers" / config.server / f"{spec.domain}.env"
    recorded = _text_or(env)
    if isinstance(recorded, str):
        recorded = status_facts.recorded_version(recorded, spec.recipe)
    return status_facts.InfraFacts(
        app=name, recipe=spec.recipe, domain=spec.domain, stateful=spec.stateful, recorded=recorded,
        last_good=_text_or(folder / "last_good"), rejected=_mapping(folder / "rejected"),
        rollback_failed=_mapping(folder / "rollback-failed"), last_outcome=_last_outcome(folder),
    )


def _last_outcome(folder: Path) -> dict[str, Any] | status_facts.Unreadable | None:
    """The latest reconcile's outcome, read by the module that writes it."""
    try:
        record = InfraState(folder).last_outcome()
    except OSError as error:
        return status_facts.Unreadable(status_facts.unreadable_why(error))
    except ValueError:  # its message may quote the file: not shown
        return status_facts.Unreadable("not a reconcile outcome this ccci reads")
    return attrs.asdict(record) if record is not None else None


def _secrets(config: Config) -> set[str]:
    """Values never to render: the config's secret files and env files' secret-looking values."""
    found: set[str] = set()
    files = [config.keycloak.admin_password_file if config.keycloak else None,
             config.alerts.token_file if config.alerts else None]
    for name in files:
        if name:
            try:
                found.add(Path(name).read_text().strip())
            except (OSError, UnicodeDecodeError):
                pass  # a file ccci cannot read cannot leak through it either
    for env in _env_files(config.state):
        try:
            found |= status_facts.secret_values(env.read_text())
        except (OSError, UnicodeDecodeError):
            pass
    return found


# Where the bridge keeps its state: its own `state_dir`, by default (and on
# NixOS) `<state_dir>/bridge`, or the state directory itself.
BRIDGE_STATES = ("bridge/bridge-state.json", "bridge-state.json")


def _pending_builds(state: Path) -> Any:
    found: list[dict[str, Any]] = []
    for name in BRIDGE_STATES:
        data = _mapping(state / name)
        if isinstance(data, status_facts.Unreadable):
            return status_facts.Unreadable(f"{name}: {data.why}")
        pending = data.get("pending", []) if data is not None else []
        found += [b for b in pending if isinstance(b, dict)] if isinstance(pending, list) else []
    return tuple(found)


def _free_mib(state: Path) -> int | status_facts.Unreadable:
    path = state
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free // (1 << 20)
    except OSError as error:
        return status_facts.Unreadable(status_facts.unreadable_why(error))


def _dirs(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)
                      and not e.name.startswith("."))
    except OSError:
        return []


def facts(config: Config) -> status_facts.Facts:
    """Everything the page shows, read from the state directory (reads only)."""
    state = config.state
    settings = config.status_page
    alerts = tuple(status_facts.AlertFacts(path.name, _mapping(path) or status_facts.Unreadable("empty"))
                   for path in sorted((state / "alerts").glob("*.json")))
    nightlies = tuple(status_facts.NightlyFacts(folder.name, _mapping(folder / "summary.json"))
                      for folder in _dirs(state / "nightly") if status_facts.NIGHTLY_STAMP.fullmatch(folder.name))
    return status_facts.Facts(
        now=time.time(),
        state_dir=str(state),
        runs_per_recipe=settings.runs_per_recipe if settings else 10,
        max_concurrent_runs=config.max_concurrent_runs,
        min_free_disk_mib=config.min_free_disk_mib,
        free_disk_mib=_free_mib(state),
        enrolled=tuple(sorted(config.recipes)),
        in_flight=_in_flight(state),
        runs=tuple(_run(folder) for folder in _dirs(state / "runs")),
        canonicals=tuple(_canonical(state, folder) for folder in _dirs(state / "canonical")),
        infra=tuple(_infra(config, name) for name in sorted(config.infra)),
        alerts=alerts,
        nightlies=nightlies,
        pending_builds=_pending_builds(state),
        base_url=settings.base_url if settings else None,
    )


# -- writing the site ---------------------------------------------------------------------------


def site(data: dict[str, Any], into: Path, runs_dir: Path) -> None:
    """Write the site for `data` into the empty folder `into`."""
    (into / "runs").mkdir(parents=True)
    os.symlink(runs_dir, into / "artifacts")
    (into / "status.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    (into / "index.html").write_text(TEMPLATES.get_template("index.html").render(page=data, root=""))
    run_page = TEMPLATES.get_template("run.html")
    for entries in data["runs"].values():
        for run in entries:
            (into / run["page"]).write_text(run_page.render(run=run, page=data, root="../"))


def _swap(target: Path, generation: Path) -> None:
    """Point the symlink `target` at `generation` with one rename(2)."""
    if target.exists() and not target.is_symlink():
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # an empty folder made for us (e.g. by tmpfiles): ours to replace
        else:
            raise FileExistsError(f"{target} is a folder ccci-status did not make; move it aside")
    link = target.parent / f".{target.name}.link-{random.token_hex(4)}"
    os.symlink(generation.name, link)
    os.replace(link, target)


def _remove_old(target: Path, keep: set[str]) -> None:
    for path in target.parent.glob(f".{target.name}.gen-*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in target.parent.glob(f".{target.name}.link-*"):
        path.unlink(missing_ok=True)


@contextmanager
def _one_writer(target: Path) -> Iterator[None]:
    """One render at a time per site: jobs, the timer and the bridge render into the
    same folder, and a render removes the generations it does not keep."""
    fd = os.open(target.parent / f".{target.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(config: Config, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _one_writer(target):
        return _write_locked(config, target)


def _write_locked(config: Config, target: Path) -> Path:
    previous = os.readlink(target) if target.is_symlink() else None
    data = status.page(facts(config), _secrets(config))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    generation = target.parent / f".{target.name}.gen-{stamp}-{random.token_hex(3)}"
    try:
        site(data, generation, config.state / "runs")
        _swap(target, generation)
    except BaseException:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    # Keep the one before: a reader still on it finishes its page.
    _remove_old(target, {generation.name, *([previous] if previous else [])})
    return target


def render(config: Config, out: Path | None = None) -> Path | None:
    """Render the page into `out` (default `status_page.dir`); its path, or None if it failed."""
    settings = config.status_page
    target = out or (Path(settings.dir) if settings else None)
    if target is None:
        log.warning("status page: no status_page.dir configured; nothing rendered")
        return None
    began = time.monotonic()
    try:
        path = _write(config, target)
    except Exception as error:  # a failure to render never fails the caller
        log.warning("status page: not rendered into %s: %s: %s", target, type(error).__name__, error)
        return None
    log.info("status page: rendered into %s in %.2fs", path, time.monotonic() - began)
    return path


def refresh(config: Config) -> None:
    """The hook every job calls when it ends: render when configured; alert once when it fails.

    Never raises. A failed render leaves `<state_dir>/status-page.failed`; the
    alert goes out only when that marker was not there yet, and the next good
    render removes it.
    """
    if config.status_page is None:
        return
    try:
        marker = config.state / FAILED_MARKER
        if render(config) is not None:
            marker.unlink(missing_ok=True)
            return
        if marker.exists():
            return
        write_atomic(marker, f"{datetime.datetime.now(datetime.UTC).isoformat()}\n")
        Alerts(config.state, config.alerts).send(
            "ccci", "status-page-failed", "the status page is not being rendered",
            f"ccci could not render the status page into {config.status_page.dir}; see the journal "
            f"(\"status page: not rendered\"). Jobs go on. This alert is sent once until a render works.",
        )
    except Exception as error:
        log.warning("status page: refresh failed: %s: %s", type(error).__name__, error)


@contextmanager
def refreshed_after(config: Config) -> Iterator[None]:
    """A job's body, then `refresh(config)` however it ended (refused input
    excepted: it changed nothing, so the page has nothing new to show)."""
    try:
        yield
    except BadInput:
        raise
    except BaseException:
        refresh(config)
        raise
    refresh(config)
