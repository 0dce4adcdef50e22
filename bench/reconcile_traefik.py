"""Benchmark: the reconciler's window on the bed's front door (traefik), and what a client sees meanwhile.

    flock /tmp/ccci-swarm.lock python3 bench/reconcile_traefik.py

Needs the test bed (tests/bed/setup) and the swarm lock. Runs on a private
config and private copies of the front door's recipes, exactly as
tests/integration/test_production_web.py does (`Reconciles`, `Traffic` in
tests/fixtures/production.py): the front door makes way (one traefik owns
80/443), traefik 5.0.0+v3.6.12 and a custom-html app behind it are
installed (not timed), then, while a client GETs the app through the front
door every 100 ms:

  plain     baseline, what an operator does by hand: `docker service update
            --image` of the same traefik service v3.6.12 -> v3.6.15 and
            back (both swaps measured; their mean is the baseline);
  upgrade   ccci-reconcile traefik 5.0.0+v3.6.12 -> 5.1.0+v3.6.15 (commits);
  rollback  ccci-reconcile onto broken/static-config tagged 5.2.0+v3.6.15
            (traefik refuses its config; rolled back to 5.1.0).

For each it prints the wall time, failed requests and the longest outage a
client saw; for the reconciles also (decision - deploy returned) / the
configured health window (the upgrade waits the whole window by design:
aim <= 1.1; a release that dies at once should be rolled back at once)
and, for the rollback, the lag behind Docker's own verdict (aim <= 5 s);
then the outage and failed-request ratios reconcile / plain. Host-mode
ports force stop-first, so every swap is an outage. The front door is left
as it was found (the `front_door` fixture's up/down), also on failure.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ccci.pure.names import Domain, stack_name  # noqa: E402
from ccci.seams import engine  # noqa: E402
from reconcile import VerdictWatch  # noqa: E402 (bench/reconcile.py)
from tests.fixtures.production import (  # noqa: E402
    TRAEFIK_BROKEN, TRAEFIK_NEW, TRAEFIK_OLD, FrontDoorNotUp, Reconciles, Traffic, build_traefik_image,
    front_door_script, warm_front_door,
)

BED = Path(os.environ.get("CCCI_TESTBED", "/var/lib/ccci-testbed"))
IMAGE = "ccci-bed/traefik:{}"


def say(message: str) -> None:
    print(f"reconcile-traefik: {message}", file=sys.stderr, flush=True)


class BenchFailed(Exception):
    """A phase did not end as it must (the numbers would mean nothing)."""


def expect(code: int, result: dict, err: str, outcome: str, what: str) -> None:
    if result.get("outcome") != outcome:
        raise BenchFailed(f"{what}: expected {outcome}, got exit {code} {result.get('outcome')}: {err.strip()[-1500:]}")


def serving(world: Reconciles, upstream: str, what: str) -> None:
    try:
        running = world.traefik_version()
    except AssertionError as error:  # its API did not answer 200
        raise BenchFailed(f"{what}: the front door's /api/version: {error}") from None
    if running != upstream:
        raise BenchFailed(f"{what}: the front door serves traefik {running}, not {upstream}")


def served_after(world: Reconciles, traffic: Traffic, what: str) -> None:
    """The app answers through the front door again at the end (as the test asserts): else the numbers are void."""
    if traffic.ok and all(traffic.last[-5:]):
        return
    site = engine.Stack(engine.connect(), stack_name(Domain.parse(world.site)))
    gone = "" if site.services() else f"; its stack {site.name} is gone: something else removed it"
    raise BenchFailed(f"{what}: the app does not answer through the front door at the end{gone}; "
                      f"failed requests: {traffic.summary()['failures']}")


def plain_swap(world: Reconciles, service: str, upstream: str) -> dict:
    """`docker service update --image` (waits until swarm has converged), timed and watched."""
    say(f"plain: docker service update --image {IMAGE.format(upstream)} {service}")
    began = time.monotonic()
    with Traffic(world.door, world.site) as traffic:
        done = subprocess.run(["docker", "service", "update", "--quiet", "--image", IMAGE.format(upstream), service],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
        wall = time.monotonic() - began
    if done.returncode != 0:
        raise BenchFailed(f"docker service update failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    serving(world, upstream, "plain update")
    served_after(world, traffic, f"plain ->{upstream}")
    say(f"plain ->{upstream}: failed requests: {traffic.summary()['failures'] or 'none'}")
    return {"phase": f"plain ->{upstream}", "wall": wall, **traffic.summary()}


def timeline(phase: str, zero: float, health: list[dict], verdict, traffic: Traffic) -> None:
    """When things happened, in seconds after the (first) deploy returned: where the outage sits."""
    marks = [(h["started_at"], f"gate {h['version']} {h['verdict']} {h['started_at'] - zero:+.1f}"
              f"..{h['decided_at'] - zero:+.1f}") for h in health]
    marks += [(start, f"outage {start - zero:+.1f}..{end - zero:+.1f}") for start, end in traffic.outages]
    if verdict is not None:
        marks.append((verdict[0], f"Docker's verdict {verdict[0] - zero:+.1f}"))
    say(f"{phase}: s after deploy: {', '.join(text for _, text in sorted(marks))}")
    say(f"{phase}: failed requests: {traffic.summary()['failures'] or 'none'}")


def reconcile(world: Reconciles, client, outcome: str, phase: str) -> dict:
    """ccci-reconcile traefik, timed and watched; its health window against the configured one."""
    say(f"{phase}: ccci-reconcile traefik")
    watch = VerdictWatch(client, world.door.stack(client).name, time.time())
    began = time.monotonic()
    try:
        with Traffic(world.door, world.site) as traffic:
            code, result, err = world.run("traefik")
            wall = time.monotonic() - began
    finally:
        watch.close()
    expect(code, result, err, outcome, phase)
    attempt = result["health"][0]
    window = world.door.data["infra"]["traefik"]["health"]["window"]
    to_decision = attempt["decided_at"] - attempt["started_at"]
    verdict = watch.first()
    lag = attempt["decided_at"] - verdict[0] if verdict is not None and attempt["verdict"] == "docker" else None
    say(f"{phase}: {result['outcome']} at {result['last_good']}; health "
        + "; ".join(f"{h['version']} {h['verdict']} window {h['window']:.0f}s in {h['seconds']:.1f}s"
                    for h in result["health"]))
    timeline(phase, attempt["started_at"], result["health"], verdict, traffic)
    served_after(world, traffic, phase)
    return {"phase": phase, "wall": wall, **traffic.summary(), "window": window, "effective": attempt["window"],
            "to_decision": to_decision, "ratio": to_decision / window, "lag": lag,
            "docker": verdict[1][:50] if verdict else "-", "verdict": attempt["verdict"]}


def measure(client, tmp: Path) -> list[dict]:
    with warm_front_door(client) as door:
        world = Reconciles(door, tmp)
        stacks = [door.stack(client), engine.Stack(client, stack_name(Domain.parse(world.site)))]
        try:
            say("the front door makes way; installing traefik "
                f"{TRAEFIK_OLD} and a custom-html app at {world.site} behind it")
            if front_door_script("down").returncode != 0:
                raise BenchFailed("tests/bed/front-door down failed")
            expect(*world.install_before("traefik", "traefik", TRAEFIK_NEW), "installed", "install traefik")
            expect(*world.run("site"), "installed", "install site")
            service = f"{door.stack(client).name}_app"
            old, new = (version.partition("+")[2] for version in (TRAEFIK_OLD, TRAEFIK_NEW))
            serving(world, old, "install")
            rows = [plain_swap(world, service, new), plain_swap(world, service, old)]
            rows.append(reconcile(world, client, "upgraded", "upgrade"))
            serving(world, new, "upgrade")
            world.tag("traefik", TRAEFIK_BROKEN, "refs/heads/broken/static-config")
            rows.append(reconcile(world, client, "rolled-back", "rollback"))
            serving(world, new, "rollback")
            return rows
        finally:
            for stack in stacks:
                stack.remove_leftovers()
            say("the front door as it was")
            back = front_door_script("up")
            if back.returncode != 0:
                say(f"tests/bed/front-door up failed: {back.stderr.strip()[-800:]}")


def ratio(top: float, bottom: float) -> str:
    return f"{top / bottom:.1f}" if bottom > 0 else "-"


def report(rows: list[dict]) -> None:
    print(f"{'phase':<15}{'wall s':>8}{'failed':>11}{'outage s':>10}{'window':>8}{'->decision':>12}"
          f"{'ratio':>7}{'lag':>7}  decided on / Docker said")
    for row in rows:
        failed = f"{row['failed']}/{row['requests']}"
        line = f"{row['phase']:<15}{row['wall']:>8.1f}{failed:>11}{row['longest_outage_s']:>10.1f}"
        if "ratio" in row:
            lag = "-" if row["lag"] is None else f"{row['lag']:.1f}"
            line += (f"{row['window']:>8}{row['to_decision']:>12.1f}{row['ratio']:>7.2f}{lag:>7}"
                     f"  {row['verdict']} / {row['docker']}")
        print(line)
    plain = [row for row in rows if "ratio" not in row]
    outage = sum(row["longest_outage_s"] for row in plain) / len(plain)
    failed = sum(row["failed"] for row in plain) / len(plain)
    for row in rows:
        if "ratio" in row:
            print(f"{row['phase']}: outage reconcile/plain {ratio(row['longest_outage_s'], outage)} "
                  f"({row['longest_outage_s']:.1f} s vs {outage:.1f} s), failed requests reconcile/plain "
                  f"{ratio(row['failed'], failed)} ({row['failed']} vs {failed:.1f}); "
                  f"deploy -> decision / window {row['ratio']:.2f} (aim <= 1.1)"
                  + (f", lag behind Docker {row['lag']:.1f} s (aim <= 5 s)" if row["lag"] is not None else ""))


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if argv:
        print("usage: bench/reconcile_traefik.py (no arguments)", file=sys.stderr)
        return 2
    if not (BED / "config.json").is_file():
        print(f"reconcile-traefik: no test bed at {BED} (no config.json): run tests/bed/setup first", file=sys.stderr)
        return 2
    try:
        client = engine.connect()
    except engine.EngineError as error:
        print(f"reconcile-traefik: {error}", file=sys.stderr)
        return 2
    try:
        say("traefik images (cached)")
        for version in (TRAEFIK_OLD, TRAEFIK_NEW):
            build_traefik_image(version.partition("+")[2])  # asserts its script's success
        with tempfile.TemporaryDirectory(prefix="ccci-bench-traefik-") as tmp:
            rows = measure(client, Path(tmp))
    except (FrontDoorNotUp, AssertionError) as error:  # the bed's own scripts failed
        lines = [line for line in str(error).splitlines() if line.strip()] or ["?"]
        print(f"reconcile-traefik: the bed is not ready: {' ... '.join(dict.fromkeys([lines[0], lines[-1]]))}",
              file=sys.stderr)
        return 2
    except BenchFailed as error:
        print(f"reconcile-traefik: {error}", file=sys.stderr)
        return 1
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
