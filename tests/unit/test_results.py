"""Results: JSON round trip, JUnit shape, retention."""

import os
import xml.etree.ElementTree as ET

from ccci.pure import results
from ccci.pure.results import Mode, RunResult, StageResult, Status
from ccci.seams.files import write_atomic
from ccci.capabilities.artifacts import prune_runs


def sample(status=Status.FAILED):
    r = RunResult(recipe="fx-web", ref="main", mode=Mode.COLD, run_id="abc123",
                  domain="fx-w-abc123.ccci.test", stack="fx-w-abc123_ccci_test", status=status)
    r.stages = [StageResult("install", Status.PASSED, 1.5), StageResult("upgrade", Status.FAILED, 2.0, "boom"),
                StageResult("custom", Status.SKIPPED, 0.0, "an earlier stage failed")]
    r.teardown.status = Status.PASSED
    return r


def test_json_round_trip():
    r = sample()
    assert results.from_json(results.to_json(r)) == r


def test_junit_counts_and_failure_message():
    root = ET.fromstring(results.junit(sample()))
    assert root.get("tests") == "4" and root.get("failures") == "1" and root.get("skipped") == "1"
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["upgrade"] and failed[0].find("failure").get("message") == "boom"


def test_write_atomic_replaces_whole(tmp_path):
    path = tmp_path / "a" / "result.json"
    write_atomic(path, "one")
    write_atomic(path, "two")
    assert path.read_text() == "two" and [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_prune_keeps_the_newest(tmp_path):
    for i in range(5):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        os.utime(folder, (1000 + i, 1000 + i))
    gone = prune_runs(tmp_path, 2)
    assert sorted(p.name for p in gone) == ["r0", "r1", "r2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r3", "r4"]


def test_prune_never_removes_the_running_folder(tmp_path):
    for i in range(4):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        os.utime(folder, (1000 + i, 1000 + i))
    running = tmp_path / "r0"  # the oldest by mtime, yet in use
    prune_runs(tmp_path, 2, keep=running)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r0", "r3"]
