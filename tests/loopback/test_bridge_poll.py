"""Polling mode over real HTTP: first start marks old comments read, then the same rules."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccci.jobs.bridge.poller import Poller
from tests.fixtures.bridge import RECIPE, run_ids_apart, sha_for

ROOT = Path(__file__).resolve().parents[2]
HEAD = sha_for(0xABC)


@pytest.fixture
def poller(bridge_world, caplog):
    caplog.set_level(logging.INFO, logger="ccci")
    _, service = bridge_world.start()
    return bridge_world, Poller(service), service


def test_first_start_marks_existing_comments_read(poller, caplog):
    world, poll, _ = poller
    world.forge.add_comment(3, "!testme", "alice")  # written before the bridge existed
    assert poll.cycle() == []
    assert world.drone.builds == [] and "first cycle" in caplog.text
    assert poll.cycle() == []  # and they stay read
    assert world.drone.builds == []


def test_new_comments_trigger_under_the_same_rules(poller, caplog):
    world, poll, _ = poller
    world.forge.add_comment(3, "old", "alice")
    poll.cycle()
    world.forge.add_pull(4, sha_for(4))  # a PR opened after the first start
    world.forge.add_comment(3, "!testme --quick", "alice")
    world.forge.add_comment(3, "!testme", "mallory")  # not a collaborator
    world.forge.add_comment(3, "!testme", "alice", edited=True)  # edited since it was written
    world.forge.add_comment(3, "!testme  --quick", "alice")  # not exact
    world.forge.add_comment(4, "!testme", "alice")
    outcomes = poll.cycle()
    assert [o.disposition.value for o in outcomes] == ["triggered", "refused", "ignored", "ignored", "triggered"]
    assert run_ids_apart(world.drone.builds) == [
        {"branch": "main", "RECIPE": RECIPE, "REF": HEAD, "MODE": "quick"},
        {"branch": "main", "RECIPE": RECIPE, "REF": sha_for(4), "MODE": "cold"},
    ]
    assert "mallory is not a collaborator" in caplog.text and "comment 'edited'" in caplog.text
    assert poll.cycle() == [] and len(world.drone.builds) == 2  # nothing read twice


def test_a_forge_outage_skips_the_cycle_and_starts_nothing(poller, caplog):
    world, poll, _ = poller
    poll.cycle()
    world.forge.add_comment(3, "!testme", "alice")
    world.forge.auth_status = 500
    [outcome] = poll.cycle()
    assert outcome.disposition.value == "refused" and "failing closed" in outcome.reason
    assert world.drone.builds == []


def test_poll_once_as_a_process_survives_restarts(bridge_world):
    config = bridge_world.config_path()
    bridge_world.forge.add_comment(3, "!testme", "alice")

    def poll_once() -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "ccci.entry.bridge", "poll", "--once", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert poll_once() == {"outcomes": [], "reported": []}  # primes: the old comment is read
    bridge_world.forge.add_comment(3, "!testme --quick", "alice")
    [outcome] = poll_once()["outcomes"]
    assert (outcome["outcome"], outcome["mode"], outcome["build"]) == ("triggered", "quick", 1)
    bridge_world.drone.finish(1, "failure")
    assert poll_once() == {"outcomes": [], "reported": [1]}
    assert bridge_world.forge.statuses[-1][2]["state"] == "failure"
    assert len(bridge_world.drone.builds) == 1
