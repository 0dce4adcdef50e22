"""Trigger parsing: exactly `!testme` or `!testme --quick`, nothing else."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ccci.pure import trigger
from ccci.pure.results import Mode

EXACT = {"!testme": Mode.COLD, "!testme --quick": Mode.QUICK}
ascii_space = st.text(alphabet=" \t\r\n\f\v", max_size=6)


@pytest.mark.parametrize(("text", "mode"), [
    ("!testme", Mode.COLD),
    ("!testme --quick", Mode.QUICK),
    ("  !testme\n", Mode.COLD),
    ("\r\n\t!testme --quick \r\n", Mode.QUICK),
])
def test_exact_commands_trigger_with_their_mode(text, mode):
    assert trigger.parse_comment(text) is mode


# The list from issue 7, plus the near-misses people actually type.
@pytest.mark.parametrize("text", [
    "!testmexyz", "!testme foo", "!testme  --quick", "!testme --quickx", "please !testme",
    "!testme --quick extra", "", " ", "!TESTME", "!Testme", "testme", "! testme", "!testme --Quick",
    "!testme -quick", "!testme —quick", "!testme --quick --quick", "!testme\n--quick",
    "!testme\t--quick", "> !testme", "`!testme`", "!testme.", "!testme\u00a0", "\u200b!testme",
    "!testme\u3000--quick", "！testme", "!testmе",  # fullwidth '!' and a Cyrillic 'е'
    "!testme --cold", "!testme\n\n!testme",
])
def test_everything_else_triggers_nothing(text):
    assert trigger.parse_comment(text) is None


@given(st.sampled_from(sorted(EXACT)), ascii_space, ascii_space)
def test_surrounding_ascii_whitespace_is_trimmed(command, before, after):
    assert trigger.parse_comment(before + command + after) is EXACT[command]


@given(st.text())
@example("!testme --quick\u00a0")
@example("\u2003!testme")
def test_a_comment_triggers_only_if_it_is_a_command_after_trimming(text):
    mode = trigger.parse_comment(text)
    core = text.strip(" \t\r\n\f\v")
    if core in EXACT:
        assert mode is EXACT[core]
    else:
        assert mode is None


def _edits(command: str):
    """Every one-character deletion, insertion, substitution and case flip."""
    alphabet = st.sampled_from(list("!testmquick- xX\u00a0\u200b\t") + ["—", "Q", "е"])
    position = st.integers(min_value=0, max_value=len(command))

    @st.composite
    def edited(draw):
        at = draw(position)
        kind = draw(st.sampled_from(["delete", "insert", "replace", "flip"]))
        char = draw(alphabet)
        if kind == "delete" and at < len(command):
            return command[:at] + command[at + 1:]
        if kind == "insert":
            return command[:at] + char + command[at:]
        if kind == "replace" and at < len(command):
            return command[:at] + char + command[at + 1:]
        if kind == "flip" and at < len(command):
            return command[:at] + command[at].swapcase() + command[at + 1:]
        return command + char

    return edited()


@given(st.sampled_from(sorted(EXACT)).flatmap(_edits), ascii_space, ascii_space)
def test_generated_near_misses_trigger_nothing(near_miss, before, after):
    text = before + near_miss + after
    core = text.strip(" \t\r\n\f\v")
    # An edit can land back on a command (e.g. inserting a trailing space): then it is one.
    expected = EXACT.get(core)
    assert trigger.parse_comment(text) is expected
    if near_miss.strip(" \t\r\n\f\v") not in EXACT:
        assert trigger.parse_comment(text) is None


@given(st.sampled_from(sorted(EXACT)), st.text(min_size=1).filter(lambda s: s.strip(" \t\r\n\f\v")))
@example("!testme", "--quick")
def test_a_command_with_any_words_around_it_triggers_nothing(command, words):
    longer = command + " " + words
    # "!testme" + " --quick" is the other command, not a command with words
    assert trigger.parse_comment(longer) is EXACT.get(longer.strip(" \t\r\n\f\v"))
    if longer.strip(" \t\r\n\f\v") not in EXACT:
        assert trigger.parse_comment(longer) is None
    assert trigger.parse_comment(words + " " + command) is None
