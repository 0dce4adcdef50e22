"""Resource safety: the global cap on runs, the free-disk floor, the stale-state pruner."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ccci.capabilities import capacity
from ccci.seams import engine
from ccci.entry.common import load_config
from ccci.pure import config as config_mod
from ccci.capabilities.locks import Busy
from ccci.pure.names import Domain, RecipeName, RunId, stack_name, warm_domain
from ccci.capabilities.prune import prune

pytestmark = pytest.mark.integration


def config_with(bed_config, tmp_path: Path, **changes) -> tuple[config_mod.Config, Path]:
    data = json.loads(config_mod.dump(bed_config))
    data.update(state_dir=str(tmp_path / "state"), **changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return load_config(path), path


class _Said(logging.Handler):
    """Sets an event when the log says `text`."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_the_global_cap_makes_a_run_wait_for_a_slot(bed_config, tmp_path):
    config, _ = config_with(bed_config, tmp_path, max_concurrent_runs=1)
    events: list[str] = []
    waiting = _Said("waiting for a run slot")
    logger = logging.getLogger("ccci")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(waiting)
    try:
        with capacity.slot(config, "first run"):
            assert capacity.runs_in_flight(config) == [f"first run (pid {os.getpid()})"]

            def second() -> None:
                with capacity.slot(config, "second run", poll=0.05):
                    events.append("second in")

            thread = threading.Thread(target=second)
            thread.start()
            # The second has tried, found every slot busy, and said it waits.
            assert waiting.event.wait(10), "the second run never waited for a slot"
            assert events == []  # still waiting: the only slot is held
            events.append("first out")
        thread.join(10)
    finally:
        logger.removeHandler(waiting)
        logger.setLevel(level)
    assert events == ["first out", "second in"]  # the second got in only after the first left
    assert capacity.runs_in_flight(config) == []


def test_a_run_refuses_when_every_slot_stays_busy(bed_config, tmp_path):
    data = json.loads(config_mod.dump(bed_config))
    config, _ = config_with(bed_config, tmp_path, max_concurrent_runs=1,
                            timeouts={**data["timeouts"], "lock": 1})
    with capacity.slot(config, "holder"):
        with pytest.raises(Busy, match="run slots stayed busy"):
            with capacity.slot(config, "late"):
                pass


def test_a_run_refuses_below_the_disk_floor_with_an_alert_and_creates_nothing(bed_config, tmp_path, docker_client):
    config, path = config_with(bed_config, tmp_path, min_free_disk_mib=10**9)
    services = {s.name for s in docker_client.services.list()}
    done = subprocess.run([sys.executable, "-m", "ccci.entry.run", "--config", str(path), "fx-web"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "below min_free_disk_mib" in done.stderr and done.stdout == ""
    alerts = list((config.state / "alerts").glob("*-ccci-low-disk.json"))
    assert len(alerts) == 1 and "below min_free_disk_mib" in json.loads(alerts[0].read_text())["message"]
    assert not (config.state / "runs").exists() and not (config.state / "abra").exists()
    assert {s.name for s in docker_client.services.list()} == services


def test_the_pruner_removes_only_unenrolled_canonicals(bed_config, tmp_path, docker_client):
    config, _ = config_with(bed_config, tmp_path, base_domain="p1.ccci.test",
                            recipes={"fx-web": {"canonical": True}, "fx-pair": {}})
    state = config.state
    record = {"recipe": "", "domain": "", "version": "1.0.0+x", "commit": "c", "status": "idle",
              "volumes": "known-good", "updated": ""}
    for recipe in ("fx-web", "fx-pair", "fx-gone"):  # enrolled canonical; enrolled, no canonical; unenrolled
        folder = state / "canonical" / recipe
        (folder / "snapshot").mkdir(parents=True)
        (folder / "canonical.json").write_text(json.dumps(record | {"recipe": recipe}))
    (state / "canonical" / "hand-made").mkdir()  # no record: not ccci's
    (state / "infra" / "proxy").mkdir(parents=True)
    (state / "infra" / "proxy" / "last_good").write_text("1.0.0+x\n")
    (state / "alerts").mkdir()
    (state / "alerts" / "a.json").write_text("{}")
    stacks = {r: stack_name(warm_domain(RecipeName(r), Domain(config.base_domain))) for r in ("fx-web", "fx-gone")}
    for recipe, stack in stacks.items():
        docker_client.volumes.create(f"{stack}_data", labels={engine.NAMESPACE: stack})
    try:
        assert prune(config, docker_client, dry_run=True) == ["fx-gone", "fx-pair"]
        assert prune(config, docker_client) == ["fx-gone", "fx-pair"]
        left = sorted(p.name for p in (state / "canonical").iterdir())
        assert left == ["fx-web", "hand-made"]
        assert (state / "infra" / "proxy" / "last_good").is_file() and (state / "alerts" / "a.json").is_file()
        assert engine.Stack(docker_client, stacks["fx-web"]).leftovers().get("volumes") == [f"{stacks['fx-web']}_data"]
        assert engine.Stack(docker_client, stacks["fx-gone"]).leftovers() == {}
    finally:
        for stack in stacks.values():
            engine.Stack(docker_client, stack).remove_leftovers()


def test_live_run_ids_come_from_the_slots_runs_hold(bed_config, tmp_path):
    # The realm reaper (nightly) keeps the realms of these runs.
    config, _ = config_with(bed_config, tmp_path, max_concurrent_runs=3)
    with capacity.slot(config, "cold run 3fa9c1 of fx-sso", RunId("3fa9c1")), \
            capacity.slot(config, "quick run 0b1c2d of fx-web at main", RunId("0b1c2d")):
        assert capacity.live_run_ids(config) == {"3fa9c1", "0b1c2d"}
    assert capacity.live_run_ids(config) == set()
