"""Which leftovers of a take are removed (no engine: generations are folders)."""

from __future__ import annotations

import os

from ccci.capabilities.snapshot import Snapshots


def make(root, *names):
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).mkdir()
        (root / name / "meta.json").write_text("{}")


def test_everything_that_is_not_current_goes_and_nothing_that_is_not_ccci_s(tmp_path):
    snaps = Snapshots(tmp_path / "snap")
    make(snaps.root, "gen-1", "gen-2", "gen-3", ".tmp-gen-4")
    os.symlink("gen-2", snaps.root / "current")
    os.symlink("gen-3", snaps.root / ".current-abcd")
    (snaps.root / "notes.txt").write_text("an operator's")
    assert sorted(snaps.remove_unused()) == [".current-abcd", ".tmp-gen-4", "gen-1", "gen-3"]
    assert sorted(p.name for p in snaps.root.iterdir()) == ["current", "gen-2", "notes.txt"]
    assert snaps.current() == snaps.root / "gen-2"


def test_without_current_a_generation_stays_unless_the_failing_take_wrote_it(tmp_path):
    snaps = Snapshots(tmp_path / "snap")
    make(snaps.root, "gen-old", "gen-mine", ".tmp-gen-x")
    assert snaps.remove_unused() == [".tmp-gen-x"]
    assert snaps.remove_unused(written=snaps.root / "gen-mine") == ["gen-mine"]
    assert sorted(p.name for p in snaps.root.iterdir()) == ["gen-old"]


def test_a_missing_folder_is_nothing_to_remove(tmp_path):
    assert Snapshots(tmp_path / "none").remove_unused() == []
