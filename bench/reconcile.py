"""Benchmark: how fast ccci-reconcile decides to roll back an unhealthy release.

    python3 bench/reconcile.py [SCENARIO ...]

Needs the test bed (tests/bed/setup). Each scenario installs a fixture app
healthy (on a private base domain and recipe copy, as the tests do), publishes
a broken release, runs ccci-reconcile, and measures two things:

  ratio  (rollback decision - deploy returned) / configured health window.
         Aim <= 1.1: a release is never watched much longer than its window.
  lag    rollback decision - Docker's own verdict (a task rejected or failed,
         a container reported unhealthy), taken from the engine while the
         reconcile runs: task status timestamps and `health_status` events.
         Aim <= 5 s: a release that dies at once is rolled back at once, not at
         the end of the window.

Scenarios: store-dies-late (fx-store broken/migrates-then-dies), proxy-dies-late
(fx-proxy broken/late-unhealthy), proxy-no-image and store-no-image (the task
is rejected at once), proxy-http (healthy to Docker, 404 to HTTP: no Docker
verdict; decided at the window's end, so only its ratio is shown).
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccci.entry.common import load_config  # noqa: E402
from ccci.seams import engine  # noqa: E402
from tests.fixtures.infra import Infra, PushReceiver  # noqa: E402

SCENARIOS = {
    "store-dies-late": ("store", "broken/migrates-then-dies"),
    "proxy-dies-late": ("proxy", "broken/late-unhealthy"),
    "proxy-no-image": ("proxy", "broken/missing-image"),
    "store-no-image": ("store", "broken/missing-image"),
    "proxy-http": ("proxy", "broken/http"),
}
GOOD = {"proxy": "1.1.0+v2.10.1", "store": "1.1.0+1.35.0"}
BROKEN = {"proxy": "1.2.0+v2.10.1", "store": "1.2.0+1.35.0"}


def _timestamp(text: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds, Z) as unix time."""
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC).timestamp()
    return stamp + float(f"0.{frac or '0'}")


class VerdictWatch:
    """Docker's own verdicts on a stack, as the engine reports them, from `since` on."""

    def __init__(self, client, stack: str, since: float):
        self.client, self.stack, self.since = client, stack, since
        self.verdicts: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._tasks, daemon=True),
                        threading.Thread(target=self._events, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _tasks(self) -> None:
        seen: set[str] = set()
        api = self.client.api
        while not self.stop.is_set():
            try:
                tasks = api.tasks(filters={"label": f"{engine.NAMESPACE}={self.stack}"})
            except Exception:  # the stack is being removed and recreated
                tasks = []
            for task in tasks:
                status = task.get("Status", {})
                if task["ID"] in seen or status.get("State") not in ("rejected", "failed"):
                    continue
                when = _timestamp(status["Timestamp"])
                if when >= self.since:
                    seen.add(task["ID"])
                    self.verdicts.append((when, f"task {status['State']}: {status.get('Err', '')}"))
            time.sleep(0.1)

    def _events(self) -> None:
        events = self.client.events(decode=True, since=int(self.since),
                                    filters={"type": "container", "event": "health_status",
                                             "label": f"{engine.NAMESPACE}={self.stack}"})
        for event in events:
            if self.stop.is_set():
                break
            if event.get("status", "").endswith("unhealthy"):
                when = event["timeNano"] / 1e9
                if when >= self.since:
                    self.verdicts.append((when, "container unhealthy"))

    def first(self) -> tuple[float, str] | None:
        return min(self.verdicts) if self.verdicts else None

    def close(self) -> None:
        self.stop.set()


def one(bed_config, client, scenario: str) -> dict:
    app, branch = SCENARIOS[scenario]
    receiver = PushReceiver()
    with tempfile.TemporaryDirectory(prefix="ccci-bench-reconcile-") as tmp:
        infra = Infra(bed_config, Path(tmp), receiver)
        try:
            infra.install_at(app, GOOD[app])
            infra.release(app, BROKEN[app], branch)
            watch = VerdictWatch(client, infra.stack(client, app).name, time.time())
            code, result, err = infra.run(app)
            time.sleep(0.5)
            watch.close()
            if code != 4 or result.get("outcome") != "rolled-back":
                raise SystemExit(f"{scenario}: expected rolled-back, got {code} {result.get('outcome')}: {err[-1500:]}")
            attempt = result["health"][0]
            window = infra.config.infra[app].health.window
            decision = attempt["decided_at"]
            docker_verdict = watch.first()
            return {
                "scenario": scenario,
                "window": window,
                "to_decision": decision - attempt["started_at"],
                "ratio": (decision - attempt["started_at"]) / window,
                "verdict": attempt["verdict"],
                "lag": None if docker_verdict is None or attempt["verdict"] != "docker" else decision - docker_verdict[0],
                "docker": docker_verdict[1][:60] if docker_verdict else "-",
            }
        finally:
            for name in ("proxy", "store"):
                infra.stack(client, name).remove_leftovers()
            receiver.stop()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    bed = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
    bed_config = load_config(bed / "config.json")
    client = engine.connect()
    names = argv or list(SCENARIOS)
    print(f"{'scenario':<17}{'window':>7}{'deploy->decision':>18}{'ratio':>7}{'lag':>7}  decided on / Docker said")
    rows = [one(bed_config, client, name) for name in names]
    for row in rows:
        lag = "-" if row["lag"] is None else f"{row['lag']:.2f}"
        print(f"{row['scenario']:<17}{row['window']:>7}{row['to_decision']:>18.2f}{row['ratio']:>7.2f}{lag:>7}"
              f"  {row['verdict']} / {row['docker']}")
    lags = [row["lag"] for row in rows if row["lag"] is not None]
    print(f"worst ratio (deploy -> rollback decision / health window): {max(r['ratio'] for r in rows):.2f} (aim <= 1.1)")
    if lags:
        print(f"worst lag behind Docker's own verdict: {max(lags):.2f} s (aim <= 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
