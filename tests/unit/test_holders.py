"""Who holds a lock or a run slot: one record, written and read by one pair of functions.

The realm reaper keeps the realms of the run ids it reads back here, so a
run must be found by its record, never by the wording of its description.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.capabilities import capacity, locks
from ccci.capabilities.locks import Holder
from ccci.pure import config as config_mod
from ccci.pure.names import RunId

run_ids = st.builds(RunId, st.text("0123456789abcdef", min_size=6, max_size=6))
whats = st.text(max_size=60)  # any description, including ones that look like "run 3fa9c1 of x"


@given(whats, st.integers(1, 2**22), st.none() | run_ids)
def test_a_holder_reads_back_as_written(what, pid, run):
    holder = Holder(what, pid, "2025-01-01T03:00:00Z", run)
    assert Holder.from_json(holder.to_json()) == holder
    assert ("run" in json.loads(holder.to_json())) is (run is not None)  # lock holder files keep {what, pid, since}


@given(st.one_of(st.text(max_size=40), st.just(""), st.just("cold run 3fa9c1 of fx-web (pid 12)"),
                 st.just('{"what": "x", "pid": "12", "since": "s"}'), st.just('{"what": "x", "pid": 1}'),
                 st.just('{"what": "x", "pid": 1, "since": "s", "run": "../etc"}'), st.just("[]")))
def test_anything_else_is_no_holder(text):
    assert Holder.from_json(text) is None


def config_in(tmp_path, slots: int) -> config_mod.Config:
    return config_mod.parse({"base_domain": "ci.test", "state_dir": str(tmp_path / "state"),
                             "max_concurrent_runs": slots})


@settings(max_examples=20, deadline=None)
@given(what_run=whats, what_other=whats, run=run_ids)
def test_live_runs_are_the_slots_held_by_runs_whatever_they_say(tmp_path_factory, what_run, what_other, run):
    config = config_in(tmp_path_factory.mktemp("slots"), 2)
    with capacity.slot(config, what_run, run), capacity.slot(config, what_other):
        assert capacity.live_run_ids(config) == {run.value}
        assert sorted(capacity.runs_in_flight(config)) == sorted(
            [f"{what_run} (pid {os.getpid()})", f"{what_other} (pid {os.getpid()})"])
        assert {h.run for h in capacity.holders(config)} == {run, None}
    assert capacity.live_run_ids(config) == set() and capacity.runs_in_flight(config) == []


def test_a_busy_lock_names_its_holder_from_the_record(tmp_path):
    with locks.hold(tmp_path, "infra-proxy", "reconcile of proxy", 1):
        written = Holder.from_json((tmp_path / "locks" / "infra-proxy.holder").read_text())
        assert written is not None and written.what == "reconcile of proxy" and written.pid == os.getpid()
        with pytest.raises(locks.Busy) as busy, locks.hold(tmp_path, "infra-proxy", "second", 0):
            pass
        assert f"held by reconcile of proxy (pid {os.getpid()}, since {written.since})" in str(busy.value)
