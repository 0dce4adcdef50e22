"""Results: JSON round trip, JUnit shape, retention."""

import json
import os
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

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


# -- which abra ran -------------------------------------------------------------

STAND_IN = "/work/x/tests/bed/abra-standin"


def test_the_stand_in_is_known_by_its_version_or_its_name():
    said = results.AbraIdentity.judge(STAND_IN, "abra version 0.0.0-standin\n")
    assert said == results.AbraIdentity(STAND_IN, "0.0.0-standin", results.AbraKind.STAND_IN)
    # renamed, it still says so in its version; named so, it is one whatever it prints
    assert results.AbraIdentity.judge("/usr/bin/abra", "abra version 0.0.0-standin").kind is results.AbraKind.STAND_IN
    assert results.AbraIdentity.judge(STAND_IN, "FATA boom").kind is results.AbraKind.STAND_IN


@given(version=st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-beta(-[0-9a-f]{7})?)?", fullmatch=True),
       noise=st.sampled_from(["", "\n", "INFO x\n"]))
def test_a_binary_that_prints_an_abra_version_is_real(version, noise):
    said = results.AbraIdentity.judge("/nix/store/abc-abra-0.11/bin/abra", f"{noise}abra version {version}\n")
    assert said.kind is results.AbraKind.REAL and said.version == version


@given(output=st.text(max_size=80).filter(lambda t: "abra version" not in t))
def test_no_evidence_is_unknown_never_a_guess(output):
    said = results.AbraIdentity.judge("/usr/local/bin/abra", output)
    assert said.kind is results.AbraKind.UNKNOWN and said.version == "unknown"


def test_result_json_and_junit_name_say_which_abra_ran():
    r = sample()
    r.abra = results.AbraIdentity(STAND_IN, "0.0.0-standin", results.AbraKind.STAND_IN)
    data = json.loads(results.to_json(r))
    assert data["abra"] == {"path": STAND_IN, "version": "0.0.0-standin", "kind": "stand-in"}
    assert results.from_json(results.to_json(r)) == r
    name = ET.fromstring(results.junit(r)).get("name")
    assert name == f"ccci.cold.fx-web (abra 0.0.0-standin (stand-in, {STAND_IN}))"


# -- the line a run ends with ------------------------------------------------------

def test_a_green_cold_run_ends_with_what_it_promoted_and_where():
    r = sample(Status.PASSED)
    r.stages = [StageResult("install", Status.PASSED, 1.0)]
    r.seconds, r.promotion, r.artifacts = 61.25, "promoted 1.1.0+1.35.0", "/s/runs/fx-web-abc123"
    assert results.summary_line(r) == (
        "GREEN cold run of fx-web in 61.2s; promoted 1.1.0+1.35.0; artifacts: /s/runs/fx-web-abc123"
    )
    assert results.exit_code(r) == 0


def test_a_failed_promotion_makes_a_green_run_exit_red():
    r = sample(Status.PASSED)
    r.promotion = results.PROMOTION_FAILED + "SnapshotError: disk full"
    assert results.exit_code(r) == 1
    assert results.summary_line(r).startswith("RED cold run of fx-web")


def test_a_quick_run_ends_with_what_it_kept_and_never_says_never():
    r = sample()
    r.mode, r.reason, r.note, r.artifacts = Mode.QUICK, "upgrade: unhealthy", "known-good restored and verified", "/a"
    line = results.summary_line(r)
    assert line.startswith("RED quick run of fx-web in ")
    assert "upgrade: unhealthy; known-good restored and verified; artifacts: /a" in line
    assert "never" not in line


@given(reason=st.text(max_size=200), note=st.text(max_size=100), promotion=st.text(max_size=100),
       status=st.sampled_from(list(Status)), mode=st.sampled_from(list(Mode)))
def test_the_summary_is_always_one_line_naming_verdict_and_artifacts(reason, note, promotion, status, mode):
    r = sample(status)
    r.mode, r.reason, r.note, r.promotion, r.artifacts = mode, reason, note, promotion, "/s/runs/x"
    line = results.summary_line(r)
    assert len(line.splitlines()) == 1
    assert line.split(" ")[0] == ("GREEN" if results.exit_code(r) == 0 else "RED")
    assert line.endswith("artifacts: /s/runs/x")


def test_write_atomic_leaves_a_file_others_may_read(tmp_path):
    path = tmp_path / "result.json"
    write_atomic(path, "{}")
    assert path.stat().st_mode & 0o777 == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
