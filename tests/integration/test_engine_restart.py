"""A run survives its Docker engine going away (issue 19, item 1).

dockerd is restarted by hand (no systemd on the bed) while `ccci-run fx-pair`
is in install, upgrade and custom. Each run must end on its own with a
truthful result: exit code and status agree, every stage that ran is in the
result (the interrupted one too), result.json and junit.xml are in the run
folder, and once the engine is back nothing of the run is left (its
teardown or the reaper removed it). The engine is running again at the end
of every test, pass or fail; the module holds the swarm lock throughout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ccci.capabilities import reaper
from ccci.entry.common import load_config
from ccci.seams import engine
from tests.integration.test_cold_run import assert_nothing_left

pytestmark = pytest.mark.integration

STAGES = ["install", "upgrade", "backup", "restore", "custom"]


class Run:
    """`ccci-run` as a process whose stderr is read line by line, so a test can act at a moment."""

    def __init__(self, config_path: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ccci.entry.run", "--config", str(config_path), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self.lines.append("<eof>")
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 600) -> None:
        """Block until a stderr line holds `text` (an event, not a sleep)."""
        with self._seen:
            found = self._seen.wait_for(
                lambda: any(text in line for line in self.lines) or "<eof>" in self.lines, timeout
            )
        assert found and any(text in line for line in self.lines), "".join(self.lines)[-3000:]

    def finish(self, timeout: float = 900) -> tuple[int, dict, str]:
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code, json.loads(out), "".join(line for line in self.lines if line != "<eof>")


def assert_truthful(result: dict, code: int, err: str, interrupted: str) -> None:
    """What a run says of itself agrees with itself and with its folder."""
    assert "ccci-run: " not in err.replace("ccci-run: interrupted", ""), err[-2000:]  # no escaped error
    assert (code == 0) == (result["status"] == "passed"), (code, result["status"])
    names = [s["name"] for s in result["stages"]]
    assert names == STAGES, names  # every requested stage is accounted for
    stages = {s["name"]: s for s in result["stages"]}
    assert stages[interrupted]["status"] in ("passed", "failed"), stages[interrupted]
    failed = [s for s in result["stages"] if s["status"] == "failed"]
    if failed:
        first = names.index(failed[0]["name"])
        assert all(s["status"] == "skipped" for s in result["stages"][first + 1:])
        assert result["status"] == "failed" and failed[0]["name"] in result["reason"]
    assert result["teardown"]["status"] in ("passed", "failed")
    assert result["teardown"]["labels"] == {engine.NAMESPACE: result["stack"]}
    folder = Path(result["artifacts"])
    assert json.loads((folder / "result.json").read_text()) == result
    suite = ET.fromstring((folder / "junit.xml").read_text())
    assert [c.get("name") for c in suite.iter("testcase")] == [*STAGES, "teardown"]
    assert err.rstrip().splitlines()[-1].split(": ", 1)[1].startswith(("GREEN", "RED"))


@pytest.mark.parametrize(
    ("moment", "stage"),
    [
        ("stage install: started", "install"),
        ("stage upgrade: started", "upgrade"),
        ("stage custom: started", "custom"),
    ],
)
def test_an_engine_restart_mid_run_ends_truthfully_and_leaves_nothing(
    bed_config, plain_config_path, docker_client, dockerd, moment, stage
):
    run = Run(plain_config_path, "fx-pair")
    run.wait_for(moment)
    if stage == "install":
        run.wait_for("app deploy")  # the stack is being created
    dockerd.restart(down=3)
    code, result, err = run.finish()
    assert_truthful(result, code, err, stage)
    teardown = result["teardown"]
    assert teardown["leftovers_known"] and teardown["leftovers"] == {}, teardown
    assert teardown["status"] == "passed", teardown
    assert_nothing_left(docker_client, bed_config, result)


def test_an_engine_that_stays_away_is_reported_and_the_reaper_cleans_up(
    bed_config, plain_config_path, docker_client, dockerd, tmp_path
):
    data = json.loads(plain_config_path.read_text())
    data["timeouts"]["engine_back"] = 5
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    run = Run(path, "fx-pair")
    run.wait_for("stage install: started")
    run.wait_for("app deploy")
    dockerd.stop()
    try:
        code, result, err = run.finish(timeout=300)  # the run ends while the engine is still away
    finally:
        dockerd.start()
    assert code == 1
    assert_truthful(result, code, err, "install")
    assert result["stages"][0]["status"] == "failed"
    teardown = result["teardown"]
    assert teardown["status"] == "failed" and teardown["leftovers_known"] is False, teardown
    assert "did not come back within 5s" in teardown["reason"]
    assert f"{engine.NAMESPACE}={result['stack']}" in teardown["reason"]
    # Once the engine is back, the next sweep removes what the run could not.
    config = load_config(path)
    reaped = reaper.reap(config, docker_client, with_realms=False)
    assert result["stack"] in reaped.stacks
    assert_nothing_left(docker_client, bed_config, result)
