"""ccci-bridge as the operator runs it: a real process, restarted, stopped by signal."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.bridge import SECRETS, issue_comment_payload, send_webhook

ROOT = Path(__file__).resolve().parents[2]


def _start(config: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ccci.entry.bridge", "serve", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"ccci-bridge did not start: {process.stderr.read()}")
    started = json.loads(line)
    assert started["hook"].startswith("http://127.0.0.1:")
    return process, started["hook"]


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return code, process.stderr.read()


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_serve_triggers_reports_and_does_not_retrigger_after_a_restart(bridge_world):
    """Stand-in forge: replays one delivery after a restart, which Gitea only does by hand."""
    config = bridge_world.config_path()
    payload = issue_comment_payload(201, "!testme --quick", "alice")

    process, hook = _start(config)
    try:
        status, reply = send_webhook(hook, payload)
        assert (status, reply["mode"]) == (202, "quick")
        assert [b["MODE"] for b in bridge_world.drone.builds] == ["quick"]
        # the reporter loop (poll_interval 0.2s) posts the result once Drone has one
        bridge_world.drone.finish(1, "success")
        assert _wait_for(lambda: any(s[2]["state"] == "success" for s in bridge_world.forge.statuses))
        final = [s[2] for s in bridge_world.forge.statuses if s[2]["state"] == "success"][0]
        assert final["context"] == "ccci/quick" and final["description"] == "quick run passed (build #1)"
    finally:
        code, stderr = _stop(process)
    assert code == 0, stderr
    assert "by alice: triggered: quick run of custom-html" in stderr

    process, hook = _start(config)  # restarted on the same state dir
    try:
        status, reply = send_webhook(hook, payload)
        assert (status, reply["outcome"]) == (200, "refused")
    finally:
        code, stderr2 = _stop(process)
    assert code == 0
    assert "comment 201 on coop-cloud/custom-html#3 by alice: refused: comment id already seen" in stderr2
    assert len(bridge_world.drone.builds) == 1
    assert not any(secret in stderr + stderr2 for secret in SECRETS)


def test_a_bad_config_or_secret_file_is_one_line_and_exit_2(bridge_world, tmp_path):
    """No forge is reached: the bridge refuses to start."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**bridge_world.data, "listen_address": "0.0.0.0.0"}))
    missing_secret = tmp_path / "missing.json"
    missing_secret.write_text(json.dumps({
        **bridge_world.data, "forge": {**bridge_world.data["forge"], "token_file": str(tmp_path / "nope")},
    }))
    for config, says in ((bad, "listen_address"), (missing_secret, "forge.token_file")):
        done = subprocess.run(
            [sys.executable, "-m", "ccci.entry.bridge", "serve", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 2 and done.stdout == ""
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_check_says_which_mode_a_comment_asks_for():
    for text, mode in (("!testme", "cold"), ("!testme --quick", "quick"), ("!testme  --quick", None)):
        done = subprocess.run([sys.executable, "-m", "ccci.entry.bridge", "check", text],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and json.loads(done.stdout) == {"mode": mode}
