"""The safety gate: what it holds, what it lets through, and where it reads release notes.

The decision is tested with notes handed in directly; the git lookup is
tested at the one process seam (proc.run), asserting the exact argv.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccci.capabilities import gate as gate_mod
from ccci.seams import proc
from ccci.capabilities.gate import MARKERS, Note, RepoNotes, SafetyGate, Verdict, between
from ccci.pure.versions import releases


def notes_from(table: dict[str, str]):
    return lambda version: [Note(version, f"releaseNotes/{version}.md", table[version])] if version in table else []


ALL = releases(["1.0.0+2.0.0", "1.1.0+2.0.0", "1.2.0+2.0.1", "1.3.0+2.1.0", "2.0.0+2.1.0"])


def test_a_patch_or_minor_with_plain_notes_proceeds():
    gate = SafetyGate(notes_from({"1.1.0+2.0.0": "Bug fixes. Faster start."}))
    decision = gate.check("1.0.0+2.0.0", "1.1.0+2.0.0", ALL)
    assert decision.verdict is Verdict.PROCEED and not decision.verdict.held
    assert [n.text for n in decision.notes] == ["Bug fixes. Faster start."]


@pytest.mark.parametrize(("current", "latest"), [
    ("1.3.0+2.1.0", "2.0.0+2.1.0"),  # recipe side
    ("1.0.0+2.0.0", "1.1.0+3.0.0"),  # upstream side, under a recipe minor
    ("0.4.1+1.0.0", "0.5.0+1.0.0"),  # 0.x: the minor is breaking
])
def test_a_major_bump_on_either_side_is_held_and_carries_the_notes(current, latest):
    gate = SafetyGate(notes_from({latest: "New major: read the upgrade guide."}))
    decision = gate.check(current, latest, releases([current, latest]))
    assert decision.verdict is Verdict.HELD_MAJOR
    assert "read the upgrade guide" in decision.notes_text()


@pytest.mark.parametrize(("current", "latest"), [
    ("a1b2c3d4", "1.1.0+2.0.0"),  # a chaos deploy is running
    ("1.0.0+2.0.0", "1.1.0+latest"),
    ("1.0.0+stable", "1.0.1+stable"),
])
def test_what_cannot_be_parsed_is_held(current, latest):
    decision = SafetyGate(notes_from({})).check(current, latest, [])
    assert decision.verdict is Verdict.HELD_UNPARSEABLE


@pytest.mark.parametrize("text", [
    "MANUAL MIGRATION needed before upgrading",
    "This needs a Manual-Migration of the DB",
    "a manual\n   migration of the realm",
    "Migration required: run kc.sh migrate",
    "**Breaking change**: the env var was renamed",
    "Action Required: rotate the secret",
    "Please upgrade manually.",
])
def test_flagged_notes_hold_case_insensitively(text):
    decision = SafetyGate(notes_from({"1.1.0+2.0.0": text})).check("1.0.0+2.0.0", "1.1.0+2.0.0", ALL)
    assert decision.verdict is Verdict.HELD_MANUAL_MIGRATION
    assert decision.flagged and decision.flagged[0].startswith("1.1.0+2.0.0 (releaseNotes/1.1.0+2.0.0.md): ")
    assert text in decision.notes_text() and decision.why.startswith("release notes flag a manual migration")


def test_a_skipped_release_with_a_migration_still_holds():
    gate = SafetyGate(notes_from({"1.2.0+2.0.1": "manual migration: move the data folder"}))
    decision = gate.check("1.1.0+2.0.0", "1.3.0+2.1.0", ALL)
    assert decision.verdict is Verdict.HELD_MANUAL_MIGRATION
    assert decision.flagged == ("1.2.0+2.0.1 (releaseNotes/1.2.0+2.0.1.md): manual migration",)


def test_notes_of_the_running_release_and_older_ones_do_not_count():
    gate = SafetyGate(notes_from({"1.0.0+2.0.0": "manual migration", "1.1.0+2.0.0": "manual migration"}))
    assert gate.check("1.1.0+2.0.0", "1.2.0+2.0.1", ALL).verdict is Verdict.PROCEED


def test_between_is_after_current_up_to_latest():
    assert between(ALL, "1.0.0+2.0.0", "1.3.0+2.1.0") == ["1.1.0+2.0.0", "1.2.0+2.0.1", "1.3.0+2.1.0"]
    assert between(ALL, "chaos", "1.1.0+2.0.0") == ["1.0.0+2.0.0", "1.1.0+2.0.0"]
    assert between([], "1.0.0+2.0.0", "1.1.0+2.0.0") == ["1.1.0+2.0.0"]


@given(st.sampled_from(MARKERS), st.text(alphabet="0123456789.,;:()[] \n", max_size=40),
       st.text(alphabet="0123456789.,;:()[] \n", max_size=40), st.data())
def test_any_marker_in_any_case_is_found(marker, before, after, data):
    cased = "".join(c.upper() if data.draw(st.booleans()) else c for c in marker)
    note = Note("1.1.0+2.0.0", "release/1.1.0+2.0.0", before + cased + after)
    assert marker in note.markers()


@given(st.text(alphabet="0123456789.,;:()[] \nxyzq", max_size=200))
def test_text_without_a_marker_never_holds(text):
    decision = SafetyGate(notes_from({"1.1.0+2.0.0": text})).check("1.0.0+2.0.0", "1.1.0+2.0.0", ALL)
    assert decision.verdict is Verdict.PROCEED


# -- where notes are read: git at the release's own tag (the process seam) -------------

@pytest.fixture
def git_calls(monkeypatch):
    seen: list[list[str]] = []
    files = {
        "refs/tags/1.1.0+2.0.0:releaseNotes/1.1.0+2.0.0.md": "new notes\n",
        "refs/tags/1.1.0+2.0.0:release/1.1.0+2.0.0": "old-style notes\n",
    }

    def fake_run(argv, **kwargs):
        argv = list(argv)
        seen.append(argv)
        assert kwargs["check"] is False
        if argv[3] == "show" and argv[4] in files:
            return proc.Completed(argv, 0, files[argv[4]], 0.0)
        if argv[3] == "for-each-ref":
            return proc.Completed(argv, 0, "chore: publish 1.1.0+2.0.0 release\n", 0.0)
        return proc.Completed(argv, 128, "fatal: path does not exist", 0.0)

    monkeypatch.setattr(gate_mod.proc, "run", fake_run)
    return seen


def test_notes_are_read_from_every_place_recipes_keep_them(git_calls, tmp_path):
    found = RepoNotes(tmp_path / "mirror.git")("1.1.0+2.0.0")
    assert [(n.source, n.text) for n in found] == [
        ("releaseNotes/1.1.0+2.0.0.md", "new notes\n"),
        ("release/1.1.0+2.0.0", "old-style notes\n"),
        ("tag 1.1.0+2.0.0", "chore: publish 1.1.0+2.0.0 release\n"),
    ]
    git = ["git", "--git-dir", str(tmp_path / "mirror.git")]
    assert git_calls == [
        [*git, "show", "refs/tags/1.1.0+2.0.0:releaseNotes/1.1.0+2.0.0.md"],
        [*git, "show", "refs/tags/1.1.0+2.0.0:releaseNotes/1.1.0+2.0.0"],
        [*git, "show", "refs/tags/1.1.0+2.0.0:release/1.1.0+2.0.0"],
        [*git, "show", "refs/tags/1.1.0+2.0.0:release/1.1.0+2.0.0.md"],
        [*git, "for-each-ref", "--format=%(contents)", "refs/tags/1.1.0+2.0.0"],
    ]
