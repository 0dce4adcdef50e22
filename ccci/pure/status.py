"""The operator's status page as data: facts in (`ccci.pure.status_facts`), page out. No I/O.

`ccci.capabilities.status_page` reads the state directory into `Facts` (each
record either parsed or `Unreadable`), `page(facts)` turns them into one
JSON-shaped dict, and the same dict is written as `status.json` and rendered
into the HTML. Invariants:

- Whitelist: only fields named here reach the page. A record's other fields
  (and any field a later ccci adds) are never shown; env files are never
  part of the facts at all (only the secret values they hold, to blank them).
- Redaction: every string of the page goes through `redact` with the
  secrets the capability harvested (config secret files, secret-looking
  values of abra env files), after the page is built, so no path around it.
- An unreadable record is one entry that says `unreadable: <why>`; it never
  stops the rest of the page.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any


from ccci.pure.results import Mode, RunResult, Status
from ccci.pure.status_facts import (
    RUN_FOLDER, AlertFacts, CanonicalFacts, Facts, InfraFacts, NightlyFacts, RunFacts, Unreadable,
    redact,
)

# Healthy outcomes close the alerts of an infra app that came before them.
HEALTHY = {"noop-healthy", "installed", "upgraded"}
INFO_KINDS = {"upgraded", "installed"}
SVG_W, SVG_H, SVG_PAD = 320, 120, 24


# -- small formatters ------------------------------------------------------------------


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _epoch(stamp: object) -> float | None:
    """Seconds since the epoch of the stamps ccci writes (several shapes), or None."""
    if not isinstance(stamp, str):
        return None
    for shape in ("%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S.%f",
                  "%Y%m%dT%H%M%S.%fZ"):
        try:
            when = datetime.datetime.strptime(stamp, shape)
        except ValueError:
            continue
        return when.replace(tzinfo=datetime.UTC).timestamp()
    return None


def age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}" if seconds < 10 * size else f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def size(count: int | None) -> str:
    if count is None:
        return ""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"
    return f"{seconds:.1f}s"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else "" if value is None else str(value)


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# -- runs --------------------------------------------------------------------------------


def mode_label(result: RunResult) -> str:
    if result.requested_mode is Mode.QUICK and result.mode is Mode.COLD:
        return "quick fell back to cold"
    return result.mode.value


def _from_pr(build: Mapping[str, Any]) -> dict[str, Any]:
    return {"repo": _text(build, "repo"), "pr": _text(build, "pr"), "build": _text(build, "build"),
            "url": _text(build, "url")}


def _pr_of(result: RunResult, builds: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The bridge build (PR) this run came from: the run id the bridge gave it, or
    (a build from before run ids) the same recipe, mode and commit."""
    for build in builds:
        if _text(build, "run_id") == result.run_id and _text(build, "recipe") == result.recipe:
            return _from_pr(build)
    mode = (result.requested_mode or result.mode).value
    for build in builds:
        if _text(build, "run_id"):
            continue
        sha = _text(build, "sha")
        if _text(build, "recipe") != result.recipe or _text(build, "mode") != mode or not sha:
            continue
        if sha in {result.ref, result.commit} or (result.ref and len(result.ref) >= 7 and sha.startswith(result.ref)):
            return _from_pr(build)
    return None


def _queued(builds: Iterable[Mapping[str, Any]], folders: set[str]) -> list[dict[str, Any]]:
    """A page for each run the bridge asked CI for that has not started yet (no run
    folder): the PR comment links it before the run exists. Only names of the
    run folders' shape become a page."""
    entries = []
    for build in builds:
        recipe, run_id = _text(build, "recipe"), _text(build, "run_id")
        folder = f"{recipe}-{run_id}"
        if not run_id or folder in folders or not RUN_FOLDER.fullmatch(folder) or len(run_id) != 6:
            continue
        entries.append({
            "folder": folder, "recipe": recipe, "run_id": run_id, "page": f"runs/{folder}.html", "finished": "",
            "status": "queued", "unreadable": "", "mode": _text(build, "mode"), "ref": _text(build, "sha"),
            "pr": _from_pr(build), "links": {"result": "", "junit": "", "calls": [], "tests": [], "failure": []},
        })
        folders.add(folder)
    return entries


def _run(facts: RunFacts, live: set[str], builds: tuple[Mapping[str, Any], ...]) -> dict[str, Any]:
    recipe, _, run_id = facts.folder.rpartition("-")
    base = f"artifacts/{facts.folder}"
    entry: dict[str, Any] = {
        "folder": facts.folder, "recipe": recipe, "run_id": run_id, "page": f"runs/{facts.folder}.html",
        "finished": _iso(facts.finished),
        "links": {
            "result": f"{base}/result.json" if isinstance(facts.result, RunResult) else "",
            "junit": f"{base}/junit.xml" if facts.junit else "",
            "calls": [{"name": name, "href": f"{base}/calls/{name}"} for name in facts.calls],
            "tests": [{"name": name, "href": f"{base}/tests/{name}"} for name in facts.tests],
            "failure": [{"name": name, "href": f"{base}/failure/{name}",
                         "failing": name.removesuffix(".log") in facts.failing_services}
                        for name in facts.failure],
        },
    }
    result = facts.result
    if result is None:
        entry["pr"] = next((_from_pr(b) for b in builds if _text(b, "run_id") == run_id
                            and _text(b, "recipe") == recipe), None)
        entry["status"] = "running" if run_id in live else "unreadable"
        entry["unreadable"] = "" if run_id in live else "no result.json (the run ended before writing it)"
        return entry
    if isinstance(result, Unreadable):
        entry |= {"status": "unreadable", "unreadable": result.why}
        return entry
    failed = result.stage_failed()
    entry |= {
        "status": result.status.value,
        "recipe": result.recipe,
        "ref": result.ref or "latest",
        "mode": mode_label(result),
        "seconds": round(result.seconds, 1),
        "duration": duration(result.seconds),
        "failed_stage": failed.name if failed else ("teardown" if result.teardown.status is Status.FAILED else ""),
        "reason": result.reason or (failed.reason if failed else ""),
        "failed_reason": failed.reason if failed else result.reason,
        "from_version": result.from_version or "",
        "to_version": result.to_version or "",
        "commit": result.commit or "",
        "note": result.note,
        "promotion": result.promotion,
        "stages": [{"name": s.name, "status": s.status.value, "seconds": round(s.seconds, 1),
                    "duration": duration(s.seconds), "reason": s.reason, "tests": s.tests}
                   for s in result.stages]
        + [{"name": "teardown", "status": result.teardown.status.value,
            "seconds": round(result.teardown.seconds, 1), "duration": duration(result.teardown.seconds),
            "reason": result.teardown.reason, "tests": ""}],
        "pr": _pr_of(result, builds),
    }
    return entry


def _sorted_runs(runs: Iterable[RunFacts]) -> list[RunFacts]:
    # Newest first; a run without a result (in flight, or died) sorts first.
    return sorted(runs, key=lambda r: (r.finished is not None, -(r.finished or 0.0), r.folder))


# -- canonicals ------------------------------------------------------------------------------


def _canonical(facts: CanonicalFacts, now: float, runs: list[RunFacts]) -> dict[str, Any]:
    entry: dict[str, Any] = {"recipe": facts.recipe, "version": "", "commit": "", "state": "", "why": "",
                             "updated": "", "snapshot_age": "", "snapshot_size": "", "snapshot_version": "",
                             "last_verify": "", "verified_at": "", "last_verify_unreadable": ""}
    problems = []
    record = facts.record
    if isinstance(record, Unreadable):
        problems.append(f"record unreadable: {record.why}")
    elif record is None:
        problems.append("no record")
    else:
        entry |= {"version": _text(record, "version"), "commit": _text(record, "commit")[:12],
                  "updated": _text(record, "updated"), "volumes": _text(record, "volumes")}
    snapshot = facts.snapshot
    taken: float | None = None
    if isinstance(snapshot, Unreadable):
        problems.append(f"snapshot unreadable: {snapshot.why}")
    elif snapshot is None:
        problems.append("no known-good snapshot")
    else:
        taken = _epoch(snapshot.get("taken"))
        volumes = snapshot.get("volumes")
        total = sum(int(v.get("size", 0)) for v in volumes if isinstance(v, dict)
                    and isinstance(v.get("size", 0), int)) if isinstance(volumes, list) else None
        entry |= {"snapshot_age": age(now - taken) if taken else "", "snapshot_size": size(total),
                  "snapshot_version": _text(snapshot, "version"), "snapshot_taken": _iso(taken)}
    # The last verify: the one recorded (quick's check before it reattaches,
    # its verify after a restore, `ccci-snapshot verify`), or the snapshot's
    # take (a take reads its snapshot back) when that came later.
    verify, verify_ok, verify_why = taken, True, ""
    verified = facts.verified
    if isinstance(verified, Unreadable):  # the snapshot itself may be fine: not "broken"
        entry["last_verify_unreadable"] = f"verify record unreadable: {verified.why}"
    elif verified is not None:
        at = _epoch(verified.get("at"))
        about_current = _text(verified, "taken") in ("", _text(snapshot, "taken")) if isinstance(snapshot, Mapping) \
            else True
        if at is not None and about_current and (verify is None or at >= verify):
            verify, verify_ok, verify_why = at, verified.get("ok") is True, _text(verified, "why")
    if verify is not None:
        entry["last_verify"] = f"{'ok' if verify_ok else 'FAILED'}, {age(now - verify)} ago"
        entry["verified_at"] = _iso(verify)
    quick = [r for r in runs if isinstance(r.result, RunResult) and r.result.recipe == facts.recipe
             and r.result.requested_mode is Mode.QUICK and r.finished is not None]
    human = next((r for r in quick if isinstance(r.result, RunResult)
                  and r.result.note.startswith("CANONICAL NEEDS A HUMAN")), None)
    newest_quick = quick[0] if quick else None
    status = "" if isinstance(record, Unreadable) or record is None else _text(record, "status")
    if problems:
        entry |= {"state": "broken", "why": "; ".join(problems)}
    elif human is not None and human is newest_quick:
        assert isinstance(human.result, RunResult)
        entry |= {"state": "broken", "why": human.result.note}
    elif not verify_ok:
        entry |= {"state": "broken", "why": f"the snapshot did not verify ({_iso(verify)}): {verify_why}"}
    elif status == "quick":
        if facts.lock_holder:
            entry |= {"state": "in use", "why": f"by {facts.lock_holder}"}
        else:
            entry |= {"state": "interrupted",
                      "why": "marked in use by a quick run that is gone; the next user restores the known-good"}
    elif status == "seeding":
        entry |= {"state": "seeding" if facts.lock_holder else "interrupted",
                  "why": f"by {facts.lock_holder}" if facts.lock_holder else "a promotion stopped half-way"}
    else:
        entry["state"] = "idle"
    return entry


# -- warm infra --------------------------------------------------------------------------------


def _alert(facts: AlertFacts) -> dict[str, Any]:
    alert = facts.alert
    if isinstance(alert, Unreadable):
        return {"file": facts.file, "unreadable": alert.why, "app": "", "kind": "", "at": "", "title": "",
                "epoch": None}
    at = _text(alert, "at")
    return {"file": facts.file, "unreadable": "", "app": _text(alert, "app"), "kind": _text(alert, "kind"),
            "at": at, "epoch": _epoch(at), "title": _text(alert, "title"), "message": _text(alert, "message")}


def _infra(facts: InfraFacts, alerts: list[dict[str, Any]], nightly: list[tuple[float, Mapping[str, Any]]]
           ) -> dict[str, Any]:
    def shown(value: str | Unreadable | None) -> str:
        return f"unreadable: {value.why}" if isinstance(value, Unreadable) else value or ""

    entry: dict[str, Any] = {"app": facts.app, "recipe": facts.recipe, "domain": facts.domain,
                             "stateful": facts.stateful, "running": shown(facts.recorded),
                             "last_good": shown(facts.last_good), "rejected": [], "outcome": "", "since": "",
                             "why": "", "open_alerts": [], "last_reconcile": "", "versions": "", "unreadable": ""}
    if isinstance(facts.rejected, Unreadable):
        entry["rejected"] = [{"version": "", "at": "", "reason": f"unreadable: {facts.rejected.why}"}]
    elif facts.rejected:
        entry["rejected"] = [{"version": version, "at": _text(info, "at") if isinstance(info, dict) else "",
                              "reason": _text(info, "reason") if isinstance(info, dict) else ""}
                             for version, info in sorted(facts.rejected.items())]
    # Outcomes, newest last: each alert of this app names one, a nightly sweep
    # names the reconciles it ran (also noop-healthy, which raises no alert).
    events: list[tuple[float, str, str]] = [
        (a["epoch"], a["kind"], a["title"]) for a in alerts if a["app"] == facts.app and a["epoch"] is not None]
    for when, summary in nightly:
        for item in summary.get("infra", []) if isinstance(summary.get("infra"), list) else []:
            if isinstance(item, dict) and item.get("app") == facts.app:
                events.append((when, _text(item, "outcome"), _text(item, "detail")))
    events.sort(key=lambda e: e[0])
    recorded = facts.last_outcome
    if isinstance(recorded, Mapping):
        # Every reconcile records how it ended (timer, nightly, by hand):
        # the truth, newer than any alert or sweep it raised.
        ended = _epoch(recorded.get("at"))
        began = _epoch(recorded.get("since"))
        # A later reconcile that found the same outcome is shown even when it
        # fell in the same second as the first (the page shows whole seconds).
        again = ended is not None and began is not None and ended > began
        entry |= {"outcome": _text(recorded, "outcome"), "since": _iso(began),
                  "last_reconcile": _iso(ended) if again else "", "why": _text(recorded, "reason"),
                  "versions": _versions(recorded)}
        if ended is not None:
            events.append((ended, _text(recorded, "outcome"), _text(recorded, "reason")))
    elif events:  # a state directory from before outcomes were recorded
        when, outcome, why = events[-1]
        entry |= {"outcome": outcome, "since": _iso(when), "why": why}
    if isinstance(recorded, Unreadable):
        entry["unreadable"] = f"last-outcome unreadable: {recorded.why}"
    marker = facts.rollback_failed
    if isinstance(marker, Unreadable):
        entry |= {"outcome": "rollback-failed", "why": f"marker unreadable: {marker.why}"}
    elif marker is not None:
        entry |= {"outcome": "rollback-failed", "since": _text(marker, "at"), "why": _text(marker, "reason")}
    healthy = max((e[0] for e in events if e[1] in HEALTHY), default=None)
    entry["open_alerts"] = [
        {"kind": a["kind"], "at": a["at"], "title": a["title"], "file": a["file"]}
        for a in alerts if a["app"] == facts.app and a["kind"] not in INFO_KINDS
        and (healthy is None or (a["epoch"] or 0) > healthy)]
    return entry


def _versions(recorded: Mapping[str, Any]) -> str:
    """The versions a reconcile saw, in words: `3.1.0 -> 3.2.0 (latest 3.2.0)`."""
    current, attempted, latest = (_text(recorded, k) for k in ("current", "attempted", "latest"))
    words = current or "nothing installed"
    if attempted and attempted != current:
        words += f" -> {attempted}"
    if latest and latest not in (current, attempted):
        words += f" (latest {latest})"
    return words


# -- nightly ---------------------------------------------------------------------------------


def _nightly(nightlies: tuple[NightlyFacts, ...], folders: set[str]) -> dict[str, Any]:
    done = sorted((n for n in nightlies if n.summary is not None), key=lambda n: n.stamp)
    running = [n.stamp for n in nightlies if n.summary is None]
    entry: dict[str, Any] = {"stamp": "", "at": "", "status": "running" if running else "never", "running": running,
                             "reason": "", "recipes": [], "infra": [], "unreadable": ""}
    if not done:
        return entry
    last = done[-1]
    entry |= {"stamp": last.stamp, "at": _iso(_epoch(last.stamp))}
    summary = last.summary
    if isinstance(summary, Unreadable):
        return entry | {"status": "unreadable", "unreadable": summary.why}
    assert summary is not None
    for item in summary.get("recipes", []) if isinstance(summary.get("recipes"), list) else []:
        if not isinstance(item, dict):
            continue
        folder = _text(item, "artifacts").rstrip("/").rpartition("/")[2]
        entry["recipes"].append({
            "recipe": _text(item, "recipe"), "status": _text(item, "status"),
            "duration": duration(_number(item, "seconds") or 0.0), "reason": _text(item, "reason"),
            "promotion": _text(item, "promotion"), "page": f"runs/{folder}.html" if folder in folders else ""})
    entry["infra"] = [{"app": _text(i, "app"), "outcome": _text(i, "outcome"), "detail": _text(i, "detail")}
                      for i in (summary.get("infra") if isinstance(summary.get("infra"), list) else [])
                      if isinstance(i, dict)]
    return entry | {"status": _text(summary, "status"), "reason": _text(summary, "reason")}


# -- trends ----------------------------------------------------------------------------------


def trend(recipe: str, points: list[tuple[float, str, float]]) -> dict[str, Any]:
    """One recipe's durations over time as SVG geometry: (when, mode, seconds) in."""
    points = sorted(points)
    out: dict[str, Any] = {"recipe": recipe, "width": SVG_W, "height": SVG_H, "pad": SVG_PAD, "series": [],
                           "count": len(points)}
    if not points:
        return out
    t0, t1 = points[0][0], points[-1][0]
    top = max(p[2] for p in points) or 1.0
    span = (t1 - t0) or 1.0
    inner_w, inner_h = SVG_W - 2 * SVG_PAD, SVG_H - 2 * SVG_PAD

    def xy(when: float, seconds: float) -> tuple[float, float]:
        x = SVG_PAD + (inner_w * (when - t0) / span if t1 > t0 else inner_w / 2)
        return round(x, 1), round(SVG_PAD + inner_h * (1 - seconds / top), 1)

    for mode in ("cold", "quick"):
        mine = [xy(when, seconds) for when, kind, seconds in points if kind == mode]
        if mine:
            out["series"].append({"mode": mode, "points": " ".join(f"{x},{y}" for x, y in mine),
                                  "dots": [{"x": x, "y": y} for x, y in mine]})
    out |= {"max": duration(top), "from": _iso(t0)[:10], "to": _iso(t1)[:10]}
    return out


def _trend_points(runs: list[RunFacts], nightlies: tuple[NightlyFacts, ...]) -> dict[str, list]:
    points: dict[str, list[tuple[float, str, float]]] = {}
    seen = set()
    for run in runs:
        if isinstance(run.result, RunResult) and run.finished is not None:
            points.setdefault(run.result.recipe, []).append((run.finished, run.result.mode.value, run.result.seconds))
            seen.add(run.folder)
    # Nightly summaries outlive pruned run folders: their cold durations extend the line.
    for night in nightlies:
        when = _epoch(night.stamp)
        if when is None or not isinstance(night.summary, Mapping):
            continue
        for item in night.summary.get("recipes", []) if isinstance(night.summary.get("recipes"), list) else []:
            if not isinstance(item, dict):
                continue
            folder = _text(item, "artifacts").rstrip("/").rpartition("/")[2]
            seconds = _number(item, "seconds")
            if folder not in seen and seconds is not None and _text(item, "recipe"):
                points.setdefault(_text(item, "recipe"), []).append((when, "cold", seconds))
    return points


# -- the page ----------------------------------------------------------------------------------


def page(facts: Facts, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The whole page as JSON-shaped data, secrets blanked."""
    live = {m.group(1) for holder in facts.in_flight for m in [re.search(r"\brun ([0-9a-f]{6}) of ", holder)] if m}
    builds: tuple[Mapping[str, Any], ...] = () if isinstance(facts.pending_builds, Unreadable) \
        else facts.pending_builds
    runs = _sorted_runs(r for r in facts.runs if RUN_FOLDER.fullmatch(r.folder))
    odd = sorted(r.folder for r in facts.runs if not RUN_FOLDER.fullmatch(r.folder))
    per_recipe: dict[str, list[dict[str, Any]]] = {}
    shown_runs = []
    for entry in _queued(builds, {r.folder for r in facts.runs}):
        per_recipe.setdefault(entry["recipe"], []).append(entry)
        shown_runs.append(entry)
    for run in runs:
        entry = _run(run, live, builds)
        mine = per_recipe.setdefault(entry["recipe"], [])
        if len(mine) < facts.runs_per_recipe:
            mine.append(entry)
            shown_runs.append(entry)
    alerts = sorted((_alert(a) for a in facts.alerts), key=lambda a: a["file"])
    nightly_summaries = [(when, n.summary) for n in facts.nightlies
                         if isinstance(n.summary, Mapping) and (when := _epoch(n.stamp)) is not None]
    folders = {r["folder"] for r in shown_runs}
    free = facts.free_disk_mib
    data: dict[str, Any] = {
        "generated": _iso(facts.now),
        "state_dir": facts.state_dir,
        "base_url": facts.base_url or "",
        "canonicals": [_canonical(c, facts.now, runs) for c in sorted(facts.canonicals, key=lambda c: c.recipe)],
        "infra": [_infra(i, alerts, nightly_summaries) for i in sorted(facts.infra, key=lambda i: i.app)],
        "runs": {recipe: entries for recipe, entries in sorted(per_recipe.items())},
        "in_flight": list(facts.in_flight),
        "nightly": _nightly(facts.nightlies, folders) | {
            "max_concurrent_runs": facts.max_concurrent_runs,
            "slots_in_use": len(facts.in_flight),
            "min_free_disk_mib": facts.min_free_disk_mib,
            "free_disk_mib": free if isinstance(free, int) else None,
            "disk": (f"unreadable: {free.why}" if isinstance(free, Unreadable)
                     else f"{free} MiB free, floor {facts.min_free_disk_mib} MiB"
                     + (" (BELOW THE FLOOR: runs refuse to start)" if free < facts.min_free_disk_mib else "")),
            "disk_low": isinstance(free, int) and free < facts.min_free_disk_mib,
        },
        "trends": [trend(recipe, pts) for recipe, pts in sorted(_trend_points(runs, facts.nightlies).items())],
        "alerts": [{k: a[k] for k in ("file", "app", "kind", "at", "title", "unreadable")} for a in alerts[-20:]],
        "unreadable": [f"{name}: unexpected run folder name" for name in odd]
        + ([facts.pending_builds.why] if isinstance(facts.pending_builds, Unreadable) else []),
    }
    return redact(data, secrets)
