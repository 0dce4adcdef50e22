"""Warm canonicals on the real swarm: --quick, promotion, the known-good.

Proven the way the seed's adversary did: break a PR on purpose under --quick
and show the known-good is back byte for byte; show a passing --quick moves
nothing; show only a green cold run on latest advances the canonical.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccci.seams import engine, proc
from ccci.seams.abra import Abra
from ccci.capabilities.health import Endpoint, wait_converged, wait_http
from ccci.pure.names import Domain, warm_domain, RecipeName
from ccci.capabilities.health import utc_stamp
from tests.fixtures.volumes import tree

pytestmark = pytest.mark.integration

OLD, NEW = "1.0.0+1.35.0", "1.1.0+1.35.0"


def promote_at_old(warm) -> None:
    """A canonical at the older release: the repo's newest release is OLD for a moment."""
    new_commit = warm.git("rev-list", "-n1", NEW)
    warm.git("tag", "-d", NEW)
    code, result, err = warm.run("run", "fx-web")
    assert code == 0 and result["promotion"] == f"promoted {OLD}", err[-2000:]
    warm.git("tag", "-a", NEW, new_commit, "-m", NEW)  # upstream releases NEW


def canonical_volume(warm, client) -> str:
    stack = engine.Stack(client, warm.warm_stack())
    names = stack.leftovers().get("volumes", [])
    assert len(names) == 1, names
    return names[0]


def test_no_canonical_falls_back_to_a_green_cold_run(warm, docker_client):
    code, result, err = warm.run("quick", "fx-web", NEW)
    assert code == 0, err[-2000:]
    assert result["mode"] == "cold" and result["requested_mode"] == "quick"
    assert "no canonical record" in result["note"] and "falling back to a cold run" in err
    assert result["domain"].startswith("fx-w-") and result["domain"] != f"warm-fx-web.{warm.base}"
    assert engine.Stack(docker_client, result["stack"]).leftovers() == {}
    assert not warm.canonical_dir.exists(), "a fallback run at a ref must not promote"


def test_only_a_green_cold_run_on_latest_advances_the_canonical(warm):
    promote_at_old(warm)
    assert warm.record()["version"] == OLD
    before = warm.snapshot_bytes()
    # A run at a ref never promotes, even when green.
    code, result, err = warm.run("run", "fx-web", "--ref", NEW)
    assert code == 0 and result["promotion"] == "not promoted: a run at a ref, not at latest", err[-1500:]
    assert warm.record()["version"] == OLD and warm.snapshot_bytes() == before
    # A red run on latest leaves the canonical as it was.
    broken = warm.git("rev-parse", "refs/heads/broken/missing-image")
    warm.git("tag", "-a", "1.2.0+1.35.0", broken, "-m", "broken release")
    code, result, err = warm.run("run", "fx-web")
    assert code == 1 and result["status"] == "failed"
    assert result["promotion"] == "not promoted: the run is red"
    assert warm.record()["version"] == OLD and warm.snapshot_bytes() == before
    warm.git("tag", "-d", "1.2.0+1.35.0")
    # A green cold run on latest advances it.
    code, result, err = warm.run("run", "fx-web")
    assert code == 0 and result["promotion"] == f"promoted {NEW}", err[-1500:]
    record = warm.record()
    assert record["version"] == NEW and record["status"] == "idle" and record["volumes"] == "known-good"
    assert record["commit"] == warm.git("rev-list", "-n1", NEW)
    assert warm.snapshot_bytes() != before


def seed_marker(warm, client, marker: str) -> None:
    """Write a marker into the canonical's data and make that the known-good."""
    config = warm.config
    domain = warm_domain(RecipeName("fx-web"), Domain(warm.base))
    abra = Abra.from_config(config, warm.canonical_dir / "abra", proc.Calls())
    stack = engine.Stack(client, warm.warm_stack())
    since = utc_stamp()
    abra.deploy(domain, warm.record()["version"])
    wait_converged(stack, 120, started_iso=since)
    stack.exec("app", ["sh", "-c", f"printf {marker} > /data/known-good-marker"])
    abra.undeploy(domain)
    assert stack.wait_gone(90)
    code, result, err = warm.run("snapshot", "take", "fx-web")
    assert code == 0, err


def serve_canonical(warm, client) -> str:
    """Deploy the canonical at its recorded version, GET /, undeploy; return the page."""
    config = warm.config
    domain = warm_domain(RecipeName("fx-web"), Domain(warm.base))
    abra = Abra.from_config(config, warm.canonical_dir / "abra", proc.Calls())
    stack = engine.Stack(client, warm.warm_stack())
    since = utc_stamp()
    abra.deploy(domain, warm.record()["version"], force=True)
    try:
        wait_converged(stack, 120, started_iso=since)
        endpoint = Endpoint(f"http://127.0.0.1:{stack.published_port()}", domain.value)
        wait_http(endpoint, 30)
        return endpoint.get("/")[1] + endpoint.get("/known-good-marker")[1]
    finally:
        abra.undeploy(domain)
        stack.wait_gone(90)


def test_quick_pass_moves_nothing_of_the_known_good(warm, docker_client):
    promote_at_old(warm)
    before = warm.snapshot_bytes()
    code, result, err = warm.run("quick", "fx-web", NEW)
    assert code == 0, err[-2000:]
    assert result["mode"] == "quick" and result["status"] == "passed"
    assert [s["name"] for s in result["stages"]] == ["reattach", "upgrade", "custom"]
    assert result["from_version"] == OLD and result["to_version"] == NEW
    assert "upgrade-generic: 3 passed" in result["stages"][1]["tests"]
    assert warm.snapshot_bytes() == before  # byte-identical
    record = warm.record()
    assert record["version"] == OLD and record["status"] == "idle"
    assert result["promotion"] == "" and result["abra"]["kind"] in ("stand-in", "real")
    line = err.strip().splitlines()[-1]
    assert "GREEN quick run of fx-web in " in line and "known-good unchanged" in line, line
    assert line.endswith(f"artifacts: {result['artifacts']}") and "never" not in line
    assert engine.Stack(docker_client, warm.warm_stack()).leftovers().get("services") is None


@pytest.mark.parametrize(("ref", "cause"), [("broken/missing-image", "No such image"), ("broken/unhealthy", "unhealthy")])
def test_quick_fail_brings_the_known_good_back_exactly(warm, docker_client, ref, cause):
    promote_at_old(warm)
    seed_marker(warm, docker_client, "KNOWN-GOOD-7f3a9c")
    before_bytes = warm.snapshot_bytes()
    volume = canonical_volume(warm, docker_client)
    mountpoint = docker_client.api.inspect_volume(volume)["Mountpoint"]
    known_good_tree = tree(Path(mountpoint))
    code, result, err = warm.run("quick", "fx-web", ref)
    assert code == 1 and result["status"] == "failed" and result["mode"] == "quick"
    assert cause in result["reason"] and result["note"] == "known-good restored and verified"
    assert result["promotion"] == ""  # a quick run does not promote; its note says what was kept
    line = err.strip().splitlines()[-1]
    assert "RED quick run of fx-web in " in line and "known-good restored and verified" in line, line
    assert line.endswith(f"artifacts: {result['artifacts']}")
    mountpoint = docker_client.api.inspect_volume(volume)["Mountpoint"]
    assert tree(Path(mountpoint)) == known_good_tree  # the data is back exactly
    assert warm.snapshot_bytes() == before_bytes and warm.record()["version"] == OLD
    assert warm.record()["volumes"] == "known-good"
    page = serve_canonical(warm, docker_client)
    assert f"fx-web {OLD}" in page and "KNOWN-GOOD-7f3a9c" in page


def wait_for_file(path: Path, holding: str, timeout: float = 120) -> None:
    """Until `path` exists and holds `holding` (the app lock's holder record)."""
    deadline = time.monotonic() + timeout
    while not (path.is_file() and holding in path.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{path} never named {holding!r}"
        time.sleep(0.05)


def test_a_second_run_on_the_same_canonical_waits_for_the_first(warm):
    promote_at_old(warm)
    argv = [sys.executable, "-m", "ccci.entry.quick", "--config", str(warm.path), "fx-web", NEW]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first holds the app's lock: its holder record names it.
    wait_for_file(warm.state / "locks" / "app-fx-web.holder", "quick run")
    second = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1[-1500:], err2[-1500:])
    assert "waiting for app-fx-web: held by quick run" in err2
    # The second reattached only after the first had put the canonical down:
    # the first wrote its result (after putting the canonical back, still under
    # the lock) before the second made its first call (its checkout, under the lock).
    first_result, second_result = json.loads(out1), json.loads(out2)
    first_written = (Path(first_result["artifacts"]) / "result.json").stat().st_mtime_ns
    second_calls = [p.stat().st_mtime_ns for p in (Path(second_result["artifacts"]) / "calls").iterdir()]
    assert second_calls and min(second_calls) > first_written
    assert err2.index("waiting for app-fx-web") < err2.index("stage reattach: started")


def test_a_quick_run_at_an_unknown_ref_changes_nothing(warm):
    promote_at_old(warm)
    record_bytes = (warm.canonical_dir / "canonical.json").read_bytes()
    runs_before = sorted(p.name for p in (warm.state / "runs").iterdir())
    code, result, err = warm.run("quick", "fx-web", "no-such-branch")
    assert code == 2 and result == {} and "not in the recipe's repository" in err
    lines = err.strip().splitlines()  # only the refusal: no run id, no progress
    assert len(lines) == 1 and lines[0].startswith("ccci-quick: "), err
    assert (warm.canonical_dir / "canonical.json").read_bytes() == record_bytes
    assert sorted(p.name for p in (warm.state / "runs").iterdir()) == runs_before
