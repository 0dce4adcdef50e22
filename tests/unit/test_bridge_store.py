"""The dedup store: a comment id is claimed once, ever, and survives restarts."""

import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.jobs.bridge.store import FILE, BadState, PendingBuild, Store
from ccci.pure.results import Mode


def test_a_claim_is_granted_once_and_survives_a_restart(tmp_path):
    store = Store(tmp_path)
    assert store.claim(42) is True
    assert store.claim(42) is False
    again = Store(tmp_path)  # a restarted bridge
    assert again.claim(42) is False
    assert again.claim(43) is True


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**12), max_size=20))
def test_claims_persist_exactly(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("store")
    store = Store(folder)
    granted = [i for i in ids if store.claim(i)]
    assert granted == list(dict.fromkeys(ids))
    if ids:
        assert json.loads((folder / FILE).read_text())["seen"] == sorted(set(ids))
    reloaded = Store(folder)
    assert all(reloaded.seen(i) for i in ids)


def test_concurrent_claims_of_one_id_grant_exactly_one(tmp_path):
    store = Store(tmp_path)
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait()
        results.append(store.claim(7))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 15 + [True]


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    store = Store(tmp_path)
    for i in range(1, 30):
        store.claim(i)
    assert sorted(os.listdir(tmp_path)) == [FILE]


def test_a_failed_write_does_not_claim(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ccci.jobs.bridge.store.write_atomic", full_disk)
    with pytest.raises(OSError):
        store.claim(9)
    monkeypatch.undo()
    assert store.claim(9) is True  # nothing was half-claimed


@pytest.mark.parametrize("content", ["{", "[]", '{"seen": [1], "surprise": 2}', '{"seen": ["x"]}'])
def test_a_damaged_state_file_stops_the_bridge_instead_of_resetting(tmp_path, content):
    (tmp_path / FILE).write_text(content)
    with pytest.raises(BadState, match="not a bridge state file"):
        Store(tmp_path)
    assert (tmp_path / FILE).read_text() == content


def test_pending_builds_and_cursors_survive_a_restart(tmp_path):
    store = Store(tmp_path)
    build = PendingBuild(build=3, url="http://ci/3", repo="o/r", pr=5, sha="a" * 40, recipe="r",
                         mode=Mode.QUICK, comment_id=11)
    store.add_pending(build)
    assert not store.primed("o/r")
    store.set_cursors("o/r", {5: 10})
    store.advance("o/r", 5, 12)
    store.advance("o/r", 5, 4)  # never moves back
    again = Store(tmp_path)
    assert again.pending() == [build]
    assert again.primed("o/r") and again.cursor("o/r", 5) == 12 and again.cursor("o/r", 6) == 0
    again.finish(build)
    assert Store(tmp_path).pending() == []
