"""The records the status page shows instead of deriving: a reconcile's last outcome
(infra_state `last-outcome`) and a canonical's last verify (`verified.json`) —
written by the module that reads them, shown by the page, never its downfall."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ccci.capabilities import status_page
from ccci.capabilities.canonical import Canonical, Verified
from ccci.capabilities.infra_state import STOPPED, InfraState, LastOutcome
from ccci.capabilities.snapshot import Corrupt, NoSnapshot
from ccci.entry.common import load_config
from ccci.jobs.reconcile import Reconciler
from ccci.pure import status
from ccci.pure.names import RecipeName
from ccci.pure.plan import Outcome, ReconcileResult
from ccci.seams import proc

FIXED = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
versions = st.one_of(st.none(), st.from_regex(r"[0-9]\.[0-9]\.[0-9]\+v[0-9]\.[0-9]", fullmatch=True))
outcomes = st.builds(
    LastOutcome, outcome=st.sampled_from([o.value for o in Outcome] + [STOPPED]),
    at=st.just("2027-01-15T08:00:00.000000"), since=st.just("2027-01-15T08:00:00.000000"),
    current=versions, latest=versions, attempted=versions, last_good=versions, reason=st.text(max_size=40))


def config(tmp_path: Path):
    state = tmp_path / "state"
    data = {"base_domain": "ccci.test", "state_dir": str(state),
            "infra": {"proxy": {"recipe": "fx-proxy", "domain": "proxy.ccci.test"}},
            "status_page": {"dir": str(tmp_path / "site")}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return load_config(path)


# -- the reconcile's outcome ----------------------------------------------------------------


@given(first=outcomes, second=outcomes)
@settings(**FIXED)
def test_since_is_kept_while_the_situation_stays_and_restarts_when_it_changes(tmp_path_factory, first, second):
    state = InfraState(tmp_path_factory.mktemp("infra"))
    assert state.last_outcome() is None
    state.record_outcome(first)
    assert state.last_outcome() == first
    later = attrs.evolve(second, at="2027-01-16T08:00:00.000000", since="2027-01-16T08:00:00.000000")
    written = state.record_outcome(later)
    assert state.last_outcome() == written and written.at == later.at
    assert written.since == (first.since if first.same_situation(later) else later.since)


@given(garbage=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode),
                         st.dictionaries(st.text(max_size=8), st.integers(), max_size=3).map(
                             lambda d: json.dumps(d).encode())))
@settings(**FIXED)
def test_an_unreadable_outcome_is_a_value_error_and_the_next_reconcile_replaces_it(tmp_path_factory, garbage):
    state = InfraState(tmp_path_factory.mktemp("infra"))
    state.outcome_path.parent.mkdir(parents=True, exist_ok=True)
    state.outcome_path.write_bytes(garbage)
    try:
        assert isinstance(state.last_outcome(), LastOutcome)
    except ValueError:
        pass
    fresh = LastOutcome("noop-healthy", "2027-01-15T08:00:00.0", "2027-01-15T08:00:00.0", current="1.0.0")
    state.record_outcome(fresh)
    assert state.last_outcome() == fresh


def reconciler(folder: Path, outcome: Outcome | None = None) -> Reconciler:
    """Only what `_record` reads: the app's name, its state and the result so far."""
    job = Reconciler.__new__(Reconciler)
    job.name, job.state, job._left_alone = "proxy", InfraState(folder), False
    job.result = ReconcileResult("proxy", "fx-proxy", "proxy.test", outcome=outcome, current="1.0.0+v1.0",
                                 latest="2.0.0+v2.0", attempted="2.0.0+v2.0", reason="major bump")
    return job


def test_a_reconcile_records_its_outcome_and_a_stopped_one_says_why(tmp_path):
    job = reconciler(tmp_path / "proxy", Outcome.HELD_MAJOR)
    job.state.set_last_good("1.0.0+v1.0")
    job._record(None)
    record = job.state.last_outcome()
    assert record is not None and (record.outcome, record.reason) == ("held-major", "major bump")
    assert (record.current, record.attempted, record.last_good) == ("1.0.0+v1.0", "2.0.0+v2.0", "1.0.0+v1.0")
    stopped = reconciler(tmp_path / "proxy")
    stopped._record(proc.CommandError(["abra", "app", "deploy"], 1, "no such network"))
    record = stopped.state.last_outcome()
    assert record is not None and record.outcome == STOPPED and "no such network" in record.reason


def test_a_reconcile_that_a_rollback_failed_marker_stops_writes_nothing(tmp_path):
    job = reconciler(tmp_path / "proxy", Outcome.ROLLBACK_FAILED)
    job._left_alone = True  # what `_run` sets when it finds the marker
    job._record(None)
    assert not (tmp_path / "proxy").exists()


def test_a_record_that_cannot_be_written_never_masks_the_reconcile(tmp_path, caplog):
    job = reconciler(tmp_path / "proxy", Outcome.NOOP_HEALTHY)
    job.state.outcome_path.mkdir(parents=True)  # a folder where the file goes: the write fails
    job._record(None)
    assert "could not record the reconcile's outcome" in caplog.text


def test_the_page_shows_the_recorded_outcome_since_when_even_without_a_sweep(tmp_path):
    cfg = config(tmp_path)
    folder = cfg.state / "infra" / "proxy"
    alerts = cfg.state / "alerts"
    alerts.mkdir(parents=True)
    (alerts / "a.json").write_text(json.dumps({"app": "proxy", "kind": "held-major", "at": "2027-01-14T03:00:00Z",
                                               "title": "proxy: held"}))
    state = InfraState(folder)
    for at in ("2027-01-15T08:00:00.000000", "2027-01-15T09:00:00.000000"):  # two timer noops in a row
        state.record_outcome(LastOutcome("noop-healthy", at, at, current="1.0.0+v1.0", latest="1.0.0+v1.0"))
    entry = status_page.facts(cfg)
    page = status.page(entry)["infra"][0]
    assert (page["outcome"], page["since"], page["last_reconcile"]) == \
        ("noop-healthy", "2027-01-15 08:00:00Z", "2027-01-15 09:00:00Z")
    assert page["versions"] == "1.0.0+v1.0" and page["open_alerts"] == []  # healthy closes the hold's alert
    # A new situation: its first reconcile shows no "last reconcile"; the next
    # one, in the same whole second, is still a later check and shown as one.
    state.record_outcome(LastOutcome("held-major", "2027-01-15T10:00:00.100000", "2027-01-15T10:00:00.100000",
                                     current="1.0.0+v1.0", latest="2.0.0+v1.0"))
    page = status.page(status_page.facts(cfg))["infra"][0]
    assert (page["since"], page["last_reconcile"]) == ("2027-01-15 10:00:00Z", "")
    state.record_outcome(LastOutcome("held-major", "2027-01-15T10:00:00.700000", "2027-01-15T10:00:00.700000",
                                     current="1.0.0+v1.0", latest="2.0.0+v1.0"))
    page = status.page(status_page.facts(cfg))["infra"][0]
    assert (page["since"], page["last_reconcile"]) == ("2027-01-15 10:00:00Z", "2027-01-15 10:00:00Z")
    state.outcome_path.write_text("{not json")
    page = status.page(status_page.facts(cfg))["infra"][0]
    assert page["unreadable"].startswith("last-outcome unreadable") and page["outcome"] == "held-major"


@given(record=outcomes)
@settings(**FIXED)
def test_every_recorded_outcome_renders_with_its_outcome_and_versions(tmp_path_factory, record):
    cfg = config(tmp_path_factory.mktemp("cfg"))
    InfraState(cfg.state / "infra" / "proxy").record_outcome(record)
    site = status_page.render(cfg)
    assert site is not None
    data = json.loads((site / "status.json").read_text())["infra"][0]
    assert data["outcome"] == record.outcome and data["since"] == "2027-01-15 08:00:00Z"
    for version in (record.current, record.attempted):
        assert version is None or version in data["versions"]


# -- the canonical's last verify ------------------------------------------------------------


def tar_of(content: bytes) -> bytes:
    """A real tar stream with one member (the verify checks the stream too)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("data.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def snapshot(root: Path, payload: bytes, taken="20260110T080000Z") -> Path:
    gen = root / "gen-1"
    gen.mkdir(parents=True)
    (gen / "v.tar").write_bytes(payload)
    meta = {"recipe": "fx-web", "version": "1.0.0", "commit": "c" * 40, "taken": taken,
            "volumes": [{"name": "v", "file": "v.tar", "size": len(payload),
                         "sha256": hashlib.sha256(payload).hexdigest()}]}
    (gen / "meta.json").write_text(json.dumps(meta))
    os.symlink("gen-1", root / "current")
    return gen


def test_every_verify_of_a_canonical_is_recorded_ok_or_failed(tmp_path):
    cfg = config(tmp_path)
    canonical = Canonical(cfg, RecipeName.parse("fx-web"), None)  # type: ignore[arg-type]  # no engine call
    with pytest.raises(NoSnapshot):
        canonical.verify_snapshot()
    assert Verified.read(canonical.dir) is None  # nothing verified, nothing recorded
    good_tar = tar_of(b"data" * 100)
    gen = snapshot(canonical.dir / "snapshot", good_tar)
    canonical.verify_snapshot()
    good = Verified.read(canonical.dir)
    assert good is not None and good.ok and good.taken == "20260110T080000Z"
    (gen / "v.tar").write_bytes(good_tar.replace(b"data", b"DATA"))  # a valid tar, other bytes
    with pytest.raises(Corrupt):
        canonical.verify_snapshot()
    bad = Verified.read(canonical.dir)
    assert bad is not None and not bad.ok and "checksum" in bad.why
    (canonical.dir / "canonical.json").write_text(json.dumps(
        {"recipe": "fx-web", "domain": "warm-fx-web.ccci.test", "version": "1.0.0", "commit": "c" * 40}))
    page = status.page(status_page.facts(cfg))["canonicals"][0]
    assert page["last_verify"].startswith("FAILED") and page["state"] == "broken" and "checksum" in page["why"]


def test_a_verify_of_an_older_snapshot_does_not_speak_for_the_current_one(tmp_path):
    cfg = config(tmp_path)
    folder = cfg.state / "canonical" / "fx-web"
    snapshot(folder / "snapshot", tar_of(b"x"), taken="20270114T080000Z")
    Verified("2027-01-13T08:00:00Z", False, "20270101T000000Z", "old one was corrupt").write(folder)
    page = status.page(status_page.facts(cfg))["canonicals"][0]
    assert page["last_verify"].startswith("ok") and page["verified_at"] == "2027-01-14 08:00:00Z"


@given(garbage=st.binary(max_size=60))
@settings(**FIXED)
def test_an_unreadable_verify_record_is_named_and_the_page_still_renders(tmp_path_factory, garbage):
    cfg = config(tmp_path_factory.mktemp("cfg"))
    folder = cfg.state / "canonical" / "fx-web"
    folder.mkdir(parents=True)
    (folder / "verified.json").write_bytes(garbage)
    try:
        readable = Verified.read(folder) is not None
    except ValueError:
        readable = False
    site = status_page.render(cfg)
    assert site is not None
    entry = json.loads((site / "status.json").read_text())["canonicals"][0]
    assert readable or entry["last_verify_unreadable"].startswith("verify record unreadable")
